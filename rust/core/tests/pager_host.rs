//! The region bookkeeping of devref's managed pager, on a model of the
//! FreeBSD VM (tests/vm_model) that checks after every step that no page
//! table points at a freed page, no page sits in two objects, and no page
//! is freed while anyone else holds it.

mod vm_model;

use devref_core::dev::{EACCES, EINVAL, ENOMEM, ENOSPC, ENXIO};
use devref_core::pager::cookie::{self, CookieId};
use devref_core::pager::{PagerShared, Regions, Vm};
use devref_host::HostPlatform;
use vm_model::{Model, Touch, PAGE};

type R = Regions<HostPlatform, Model>;

fn setup(slots: usize) -> (R, Model) {
    let m = Model::default();
    let shared = PagerShared::new(HostPlatform::new(), m.clone()).expect("shared");
    (
        Regions::new(HostPlatform::new(), shared, slots).expect("regions"),
        m,
    )
}

/// Run the pager destructors the model's last step caused.
fn dtors(r: &R, m: &Model) {
    for h in m.take_dtors() {
        r.object_gone(h);
    }
    m.check();
}

/// mmap through the cookie, as d_mmap_single then vm_mmap would.
fn map(r: &R, m: &Model, pid: usize, c: u64, off: u64, size: u64, opener: usize) -> u64 {
    let req = cookie::decode((c + off) as i64, size, PAGE).expect("decode");
    let (obj, inner) = r.mmap(&req, opener, true, true).expect("mmap");
    assert_eq!(inner, off);
    m.map(pid, obj, inner, size)
}

#[test]
fn map_touch_revoke_then_sigbus_and_the_object_dies_with_its_last_mapping() {
    let (r, m) = setup(8);
    let reg = r.alloc(None, 1, 3 * PAGE, true).unwrap();
    assert_eq!(reg.len, 3 * PAGE);
    let p = m.proc_new();
    let va = map(&r, &m, p, reg.cookie, 0, 3 * PAGE, 10);
    for i in 0..3 {
        assert_eq!(m.touch(p, va + i * PAGE), Touch::Ok);
    }
    m.check();
    assert_eq!(r.stats().pages_held, 3);
    assert_eq!(r.revoke_where(1, None), 1);
    dtors(&r, &m);
    assert_eq!(m.ptes(), 0, "every PTE of the region is gone");
    for i in 0..3 {
        assert_eq!(m.touch(p, va + i * PAGE), Touch::Sigbus);
    }
    let st = r.stats();
    assert_eq!((st.regions, st.pages_held, st.graveyard), (0, 0, 0));
    assert_eq!(st.objects_alive, 1, "the mapping keeps the object");
    assert_eq!(m.pages_freed(), 3, "devref was the pages' last owner");
    m.munmap(p, va);
    dtors(&r, &m);
    assert_eq!(r.stats().objects_alive, 0);
}

#[test]
fn bad_requests_get_einval_or_eacces() {
    let (r, m) = setup(8);
    let mine = r.alloc(Some(10), 1, 2 * PAGE, true).unwrap();
    let ro = r.alloc(None, 1, PAGE, false).unwrap();
    let req = |c: u64, off: u64, size: u64| cookie::decode((c + off) as i64, size, PAGE);
    // Past the end, and a size that runs past it.
    let past = req(mine.cookie, 2 * PAGE, PAGE).unwrap();
    assert_eq!(r.mmap(&past, 10, true, true), Err(EINVAL));
    let long = req(mine.cookie, PAGE, 2 * PAGE).unwrap();
    assert_eq!(r.mmap(&long, 10, true, true), Err(EINVAL));
    // Another open's region.
    let other = req(mine.cookie, 0, PAGE).unwrap();
    assert_eq!(r.mmap(&other, 11, true, true), Err(EACCES));
    // A read-only region refuses writable mappings and files opened for
    // writing (mprotect could raise the mapping up to the file's mode).
    let r0 = req(ro.cookie, 0, PAGE).unwrap();
    assert_eq!(r.mmap(&r0, 10, false, true), Err(EACCES));
    assert_eq!(r.mmap(&r0, 10, true, false), Err(EACCES));
    let (obj, _) = r.mmap(&r0, 10, false, false).expect("read-only ok");
    let p = m.proc_new();
    m.map(p, obj, 0, PAGE);
    // A cookie of a slot nobody has, and a stale generation.
    let nobody = cookie::encode(CookieId {
        slot: 5,
        generation: 0,
    });
    assert_eq!(
        r.mmap(&req(nobody, 0, PAGE).unwrap(), 10, true, true),
        Err(EINVAL)
    );
    let stale = cookie::encode(CookieId {
        slot: mine.id.slot,
        generation: mine.id.generation + 1,
    });
    assert_eq!(
        r.mmap(&req(stale, 0, PAGE).unwrap(), 10, true, true),
        Err(EINVAL)
    );
    m.exit(p);
    dtors(&r, &m);
    r.revoke_where(1, None);
    dtors(&r, &m);
    assert_eq!(m.pages_owned(), 0);
}

#[test]
fn fork_then_revoke_reaches_the_child_too() {
    let (r, m) = setup(8);
    let reg = r.alloc(None, 1, PAGE, true).unwrap();
    let parent = m.proc_new();
    let va = map(&r, &m, parent, reg.cookie, 0, PAGE, 1);
    assert_eq!(m.touch(parent, va), Touch::Ok);
    let child = m.fork(parent);
    assert_eq!(m.touch(child, va), Touch::Ok);
    r.revoke_where(1, None);
    dtors(&r, &m);
    assert_eq!(m.touch(parent, va), Touch::Sigbus);
    assert_eq!(m.touch(child, va), Touch::Sigbus);
    m.exit(parent);
    dtors(&r, &m);
    assert_eq!(r.stats().objects_alive, 1, "the child still maps it");
    m.exit(child);
    dtors(&r, &m);
    assert_eq!(r.stats().objects_alive, 0);
}

#[test]
fn a_page_held_across_revoke_waits_in_the_graveyard_with_its_data_then_frees() {
    let (r, m) = setup(8);
    let reg = r.alloc(None, 1, 2 * PAGE, true).unwrap();
    let p = m.proc_new();
    let va = map(&r, &m, p, reg.cookie, 0, 2 * PAGE, 1);
    // A pipe write holding the second page across the unload.
    let held = m.hold(p, va + PAGE).unwrap();
    r.revoke_where(1, None);
    dtors(&r, &m);
    let st = r.stats();
    assert_eq!(
        (st.graveyard, st.freed),
        (1, 1),
        "held page kept, other freed"
    );
    assert_eq!(r.retry_graveyard(), 1, "still held");
    m.unhold(held);
    assert_eq!(r.retry_graveyard(), 0);
    m.check();
    assert_eq!(m.pages_freed(), 2);
    m.exit(p);
    dtors(&r, &m);
}

/// A report read while a retry frees sees every page either freed or in
/// the graveyard, never in neither (the retry takes the graveyard out to
/// free it without the lock).
#[test]
fn a_report_during_a_graveyard_retry_counts_every_page() {
    let (r, m) = setup(8);
    let r = std::sync::Arc::new(r);
    let reg = r.alloc(None, 1, 3 * PAGE, true).unwrap();
    let p = m.proc_new();
    let va = map(&r, &m, p, reg.cookie, 0, 3 * PAGE, 1);
    let held: Vec<usize> = (0..3).map(|i| m.hold(p, va + i * PAGE).unwrap()).collect();
    r.revoke_where(1, None);
    dtors(&r, &m);
    assert_eq!((r.stats().graveyard, r.stats().freed), (3, 0));
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    {
        let (r, seen) = (r.clone(), seen.clone());
        m.on_free(move || {
            let st = r.stats();
            seen.lock().unwrap().push((st.graveyard, st.freed));
        });
    }
    m.unhold(held[0]);
    m.unhold(held[1]);
    assert_eq!(r.retry_graveyard(), 1, "the third page is still held");
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 3, "one look per page the retry tried");
    for (graveyard, freed) in seen {
        assert_eq!(graveyard + freed as usize, 3, "a page in neither");
    }
    assert_eq!((r.stats().graveyard, r.stats().freed), (1, 2));
    m.unhold(held[2]);
    assert_eq!(r.retry_graveyard(), 0);
    m.exit(p);
    dtors(&r, &m);
}

#[test]
fn an_mlocked_page_is_abandoned_at_unload_and_counted() {
    let (r, m) = setup(8);
    let reg = r.alloc(None, 1, PAGE, true).unwrap();
    let p = m.proc_new();
    let va = map(&r, &m, p, reg.cookie, 0, PAGE, 1);
    m.mlock(p, va).unwrap();
    r.revoke_where(1, None);
    m.exit(p);
    dtors(&r, &m);
    assert_eq!(r.retry_graveyard(), 1, "mlock's wiring is never dropped");
    assert_eq!(r.abandon_graveyard(), 1);
    m.check();
    assert_eq!((m.pages_owned(), m.pages_abandoned()), (0, 1));
    assert_eq!(r.stats().objects_alive, 0, "nothing of devref's left");
}

#[test]
fn closing_a_file_takes_back_its_regions_only() {
    let (r, m) = setup(8);
    let a = r.alloc(Some(1), 7, PAGE, true).unwrap();
    let b = r.alloc(Some(2), 7, PAGE, true).unwrap();
    let dev = r.alloc(None, 7, PAGE, true).unwrap();
    assert_eq!(r.revoke_where(7, Some(1)), 1);
    dtors(&r, &m);
    let req = |c: u64| cookie::decode(c as i64, PAGE, PAGE).unwrap();
    assert_eq!(r.mmap(&req(a.cookie), 1, true, true), Err(EINVAL));
    let (o, _) = r.mmap(&req(b.cookie), 2, true, true).unwrap();
    let p = m.proc_new();
    m.map(p, o, 0, PAGE);
    assert!(r.mmap(&req(dev.cookie), 9, true, true).is_ok_and(|(o, _)| {
        m.map(p, o, 0, PAGE);
        true
    }));
    // The incarnation's end takes the rest, even those the client forgot.
    assert_eq!(r.revoke_where(7, None), 2);
    m.exit(p);
    dtors(&r, &m);
    assert_eq!(r.stats().objects_alive, 0);
    assert_eq!(m.pages_owned(), 0);
}

#[test]
fn a_freed_regions_cookie_never_maps_its_successor() {
    let (r, m) = setup(1);
    let first = r.alloc(None, 1, PAGE, true).unwrap();
    r.free(first.id, None).unwrap();
    assert_eq!(r.free(first.id, None), Err(EINVAL), "freed twice");
    let second = r.alloc(None, 1, PAGE, true).unwrap();
    assert_eq!(second.id.slot, first.id.slot, "the slot is reused");
    assert_ne!(second.cookie, first.cookie);
    let old = cookie::decode(first.cookie as i64, PAGE, PAGE).unwrap();
    assert_eq!(r.mmap(&old, 1, true, true), Err(EINVAL));
    assert_eq!(r.free(second.id, Some(3)), Err(EINVAL), "not that owner's");
    r.free(second.id, None).unwrap();
    dtors(&r, &m);
    assert_eq!(m.pages_owned(), 0);
}

#[test]
fn failed_allocations_leave_nothing_behind() {
    let (r, m) = setup(1);
    assert_eq!(r.alloc(None, 1, 0, true).err(), Some(EINVAL));
    assert_eq!(r.alloc(None, 1, u64::MAX, true).err(), Some(EINVAL));
    assert_eq!(r.alloc(None, 1, 1 << 32, true).err(), Some(EINVAL));
    m.fail_alloc_after(Some(2));
    assert_eq!(r.alloc(None, 1, 3 * PAGE, true).err(), Some(ENOMEM));
    m.fail_alloc_after(None);
    m.fail_object_new(true);
    assert_eq!(r.alloc(None, 1, 3 * PAGE, true).err(), Some(ENOMEM));
    m.fail_object_new(false);
    let one = r.alloc(None, 1, PAGE, true).unwrap();
    assert_eq!(r.alloc(None, 1, 2 * PAGE, true).err(), Some(ENOSPC));
    dtors(&r, &m);
    assert_eq!(r.stats().objects_alive, 1, "only the live region's object");
    assert_eq!(m.pages_owned(), 1, "only the live region's page");
    r.free(one.id, None).unwrap();
    dtors(&r, &m);
    assert_eq!((m.pages_owned(), r.stats().objects_alive), (0, 0));
}

#[test]
fn a_revoked_region_refuses_new_mappings() {
    let (r, m) = setup(2);
    let reg = r.alloc(None, 1, PAGE, true).unwrap();
    let p = m.proc_new();
    let va = map(&r, &m, p, reg.cookie, 0, PAGE, 1);
    r.revoke_where(1, None);
    let req = cookie::decode(reg.cookie as i64, PAGE, PAGE).unwrap();
    let e = r.mmap(&req, 1, true, true).unwrap_err();
    assert!(e == EINVAL || e == ENXIO, "{e}");
    m.munmap(p, va);
    dtors(&r, &m);
}

/// Random sequences of user and kernel steps; the model's rules hold
/// after each.  A small xorshift keeps it reproducible.
#[test]
fn random_steps_keep_the_rules() {
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move |n: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % n
    };
    for _round in 0..30 {
        let (r, m) = setup(4);
        let mut live: Vec<(CookieId, u64, u64)> = Vec::new();
        let mut maps: Vec<(usize, u64, u64)> = Vec::new();
        let mut held = Vec::new();
        let procs: Vec<usize> = (0..3).map(|_| m.proc_new()).collect();
        for _ in 0..200 {
            match next(8) {
                0 => {
                    if let Ok(reg) = r.alloc(None, 1, (1 + next(3)) * PAGE, true) {
                        live.push((reg.id, reg.cookie, reg.len));
                    }
                }
                1 | 2 if !live.is_empty() => {
                    let (_, c, len) = live[next(live.len() as u64) as usize];
                    let pid = procs[next(3) as usize];
                    let req = cookie::decode(c as i64, len, PAGE).unwrap();
                    if let Ok((o, off)) = r.mmap(&req, 1, true, true) {
                        let va = m.map(pid, o, off, len);
                        maps.push((pid, va, len));
                    }
                }
                3 if !maps.is_empty() => {
                    let (pid, va, len) = maps[next(maps.len() as u64) as usize];
                    let _ = m.touch(pid, va + next(len / PAGE) * PAGE);
                }
                4 if !maps.is_empty() => {
                    let (pid, va, len) = maps[next(maps.len() as u64) as usize];
                    if m.touch(pid, va) == Touch::Ok && next(2) == 0 {
                        held.extend(m.hold(pid, va + next(len / PAGE) * PAGE));
                    }
                }
                5 if !live.is_empty() => {
                    let (id, _, _) = live.swap_remove(next(live.len() as u64) as usize);
                    let _ = r.free(id, None);
                }
                6 if !maps.is_empty() => {
                    let (pid, va, _) = maps.swap_remove(next(maps.len() as u64) as usize);
                    m.munmap(pid, va);
                }
                7 if !held.is_empty() => {
                    m.unhold(held.swap_remove(next(held.len() as u64) as usize));
                    r.retry_graveyard();
                }
                _ => {}
            }
            dtors(&r, &m);
        }
        // The incarnation ends: no mapping reaches a page any more.
        r.revoke_where(1, None);
        dtors(&r, &m);
        assert_eq!(m.ptes(), 0);
        for &(pid, va, len) in &maps {
            for i in 0..len / PAGE {
                assert_eq!(m.touch(pid, va + i * PAGE), Touch::Sigbus);
            }
        }
        // Everyone lets go.
        for (pid, va, _) in maps.drain(..) {
            m.munmap(pid, va);
        }
        for pg in held.drain(..) {
            m.unhold(pg);
        }
        dtors(&r, &m);
        assert_eq!(r.retry_graveyard(), 0);
        assert_eq!(r.stats().objects_alive, 0);
        assert_eq!(m.pages_owned(), 0, "every page freed");
        assert_eq!(m.ptes(), 0);
    }
}

#[test]
fn the_model_catches_a_free_under_a_mapping() {
    // The model must be able to fail: freeing a page still mapped breaks
    // its rules (a pager that forgot to revoke).
    let m = Model::default();
    let pg = m.page_alloc().unwrap();
    let obj = m.object_new(0, 1, std::slice::from_ref(&pg), true).unwrap();
    let o = m.object_ref(&obj);
    let p = m.proc_new();
    let va = m.map(p, o, 0, PAGE);
    assert_eq!(m.touch(p, va), Touch::Ok);
    // Without revoke_page the page is still in the object: refused.
    let pg = m.page_free(pg).unwrap_err();
    // Removed from the object but not from the page table: caught.
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        m.revoke_page_from_object_only(&obj, &pg);
        m.check();
    }));
    assert!(r.is_err(), "a PTE to a page its object no longer holds");
}
