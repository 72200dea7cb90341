//! Devices with revocable memory: the device layer and the region table
//! together, on the host VM model (tests/vm_model).  What a FreeBSD user
//! would see: a mapping of a device's region works while the device
//! lives, every touch after its destroy is SIGBUS, no page is freed while
//! anything maps or holds it, and devref refuses to unload while a pager
//! object exists.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use devref_core::dev::*;
use devref_core::pager::cookie::CookieId;
mod support;
use support::vm_model::{Touch, PAGE};
use support::*;

struct Client(AtomicUsize);

impl ClientOps for Client {
    fn name(&self) -> &str {
        "pager-test"
    }
    fn open(&self, _softc: usize, _oflags: i32, _td: usize) -> Result<usize, Errno> {
        // A distinct per-open state for each file (the region owner key).
        Ok(self.0.fetch_add(1, Ordering::SeqCst) + 100)
    }
    fn close(&self, _softc: usize, _priv: usize) {}
    fn purge(&self, _softc: usize) {}
}

type N = Node<Mock, Client>;

struct Setup {
    dr: Arc<Devref<Mock, Client>>,
    c: Arc<ClientRec<Client>>,
    k: Mock,
}

fn setup() -> Setup {
    let (k, _w) = Mock::new();
    let dr = Devref::new(k.clone()).unwrap();
    let c = dr.register(Client(AtomicUsize::new(0))).unwrap();
    Setup { dr, c, k }
}

/// The pager's destructors that the model's last step ran, routed to `n`.
fn dtors(s: &Setup, n: &N) {
    for h in s.k.vm.take_dtors() {
        n.object_gone(h);
    }
    s.k.vm.check();
}

fn handle(f: usize) -> *const Handle<N> {
    f as *const Handle<N>
}

#[test]
fn a_device_regions_mapping_dies_with_the_device_and_unload_waits_for_munmap() {
    let _s = serial();
    let s = setup();
    let n = s.dr.create(&s.c, b"mem", Mode::Pcpu, PERMS, 0).unwrap();
    let f = open_raw(&n).unwrap();
    let reg = n.region_alloc(None, 2 * PAGE, true).unwrap();
    let p = s.k.vm.proc_new();
    // SAFETY: f is an open file of n.
    let (obj, off) = unsafe { n.mmap(handle(f), reg.cookie as i64, 2 * PAGE, 0x3, true) }.unwrap();
    let va = s.k.vm.map(p, obj, off, 2 * PAGE);
    assert_eq!(s.k.vm.touch(p, va + PAGE), Touch::Ok);
    let child = s.k.vm.fork(p);
    assert_eq!(n.region_stats().pages_held, 2);
    // The client goes (kldunload): its devices are destroyed.
    s.dr.unregister(&s.c, SEC).unwrap();
    dtors(&s, &n);
    for pid in [p, child] {
        assert_eq!(s.k.vm.touch(pid, va), Touch::Sigbus);
        assert_eq!(s.k.vm.touch(pid, va + PAGE), Touch::Sigbus);
    }
    assert_eq!(s.k.vm.pages_owned(), 0, "both pages freed");
    // The mappings keep the object, whose destructor is devref's code.
    assert_eq!(s.dr.prepare_unload(), Err(EBUSY));
    s.k.vm.exit(p);
    s.k.vm.exit(child);
    dtors(&s, &n);
    assert_eq!(n.region_stats().objects_alive, 0);
    // SAFETY: the handle is released once.
    unsafe { N::release_handle(f as *mut Handle<N>) };
}

#[test]
fn mmap_refuses_what_it_must() {
    let _s = serial();
    let s = setup();
    let n = s.dr.create(&s.c, b"mmap", Mode::Counted, PERMS, 0).unwrap();
    let a = open_raw(&n).unwrap();
    let b = open_raw(&n).unwrap();
    // SAFETY: a, b are open files of n (their priv: see Client::open).
    let pa = unsafe { priv_a(&n, a) };
    let mine = n.region_alloc(Some(pa), PAGE, true).unwrap();
    let ro = n.region_alloc(None, PAGE, false).unwrap();
    let m = |f: usize, off: i64, size: u64, prot: i32, w: bool| {
        // SAFETY: f is an open file of n.
        unsafe { n.mmap(handle(f), off, size, prot, w) }.map(|(o, _)| o)
    };
    assert_eq!(
        m(b, mine.cookie as i64, PAGE, 1, false),
        Err(EACCES),
        "another file's"
    );
    assert_eq!(
        m(a, ro.cookie as i64, PAGE, 3, true),
        Err(EACCES),
        "read-only, PROT_WRITE"
    );
    assert_eq!(
        m(a, ro.cookie as i64, PAGE, 1, true),
        Err(EACCES),
        "read-only, FWRITE file"
    );
    assert_eq!(
        m(a, mine.cookie as i64 + PAGE as i64, PAGE, 1, false),
        Err(EINVAL),
        "past the end"
    );
    assert_eq!(m(a, -4096, PAGE, 1, false), Err(EINVAL));
    assert_eq!(
        m(a, i64::MAX & !4095, PAGE, 1, false),
        Err(EINVAL),
        "huge offset"
    );
    assert_eq!(m(a, mine.cookie as i64, 0, 1, false), Err(EINVAL), "empty");
    assert_eq!(
        n.region_alloc(Some(12345), PAGE, true).err(),
        Some(EINVAL),
        "an owner that is no open file"
    );
    let p = s.k.vm.proc_new();
    let o = m(a, mine.cookie as i64, PAGE, 3, true).unwrap();
    let va = s.k.vm.map(p, o, 0, PAGE);
    assert_eq!(s.k.vm.touch(p, va), Touch::Ok);
    // Closing the owner takes its region back: SIGBUS from then on.
    // SAFETY: released once.
    unsafe { N::release_handle(a as *mut Handle<N>) };
    dtors(&s, &n);
    assert_eq!(s.k.vm.touch(p, va), Touch::Sigbus);
    assert_eq!(n.region_stats().regions, 1, "the device-wide one stays");
    s.dr.destroy(&n, SEC).unwrap();
    dtors(&s, &n);
    // A dead device's file: ENXIO, as devfs answers mmap there.
    assert_eq!(m(b, ro.cookie as i64, PAGE, 1, false), Err(ENXIO));
    s.k.vm.exit(p);
    dtors(&s, &n);
    assert_eq!(s.k.vm.pages_owned(), 0);
    assert_eq!(n.region_stats().objects_alive, 0);
    // SAFETY: released once.
    unsafe { N::release_handle(b as *mut Handle<N>) };
}

/// The per-open state devref's Client gave file `f`.
///
/// # Safety
/// `f` is an open file of `n`.
unsafe fn priv_a(n: &N, f: usize) -> usize {
    // SAFETY: per the contract.
    let call = unsafe { n.call(handle(f)) }.unwrap();
    call.priv_
}

#[test]
fn a_page_held_across_destroy_is_freed_later_or_abandoned_at_unload() {
    let _s = serial();
    let s = setup();
    let n = s.dr.create(&s.c, b"held", Mode::Counted, PERMS, 0).unwrap();
    let f = open_raw(&n).unwrap();
    let reg = n.region_alloc(None, 2 * PAGE, true).unwrap();
    let p = s.k.vm.proc_new();
    // SAFETY: f is an open file of n.
    let (o, _) = unsafe { n.mmap(handle(f), reg.cookie as i64, 2 * PAGE, 3, true) }.unwrap();
    let va = s.k.vm.map(p, o, 0, 2 * PAGE);
    let pipe_write = s.k.vm.hold(p, va).unwrap();
    let mlocked = s.k.vm.mlock(p, va + PAGE).unwrap();
    s.dr.unregister(&s.c, SEC).unwrap();
    s.k.vm.exit(p);
    dtors(&s, &n);
    let pager = s.dr.pager();
    assert_eq!(pager.retry_graveyard(), 2);
    s.k.vm.unhold(pipe_write);
    assert_eq!(
        pager.retry_graveyard(),
        1,
        "the pipe let go; mlock never does"
    );
    assert_eq!(
        s.dr.prepare_unload(),
        Ok(()),
        "no object left: devref may go"
    );
    assert_eq!(pager.abandon_graveyard(), 1);
    s.k.vm.check();
    assert_eq!(s.k.vm.pages_abandoned(), 1);
    let _ = mlocked;
    // SAFETY: released once.
    unsafe { N::release_handle(f as *mut Handle<N>) };
}

#[test]
fn a_stale_cookie_from_an_earlier_incarnation_maps_nothing() {
    let _s = serial();
    let s = setup();
    let n = s.dr.create(&s.c, b"again", Mode::Pcpu, PERMS, 0).unwrap();
    let reg = n.region_alloc(None, PAGE, true).unwrap();
    n.region_free(reg.id, None).unwrap();
    assert_eq!(n.region_free(reg.id, None), Err(EINVAL));
    assert_eq!(
        n.region_free(
            CookieId {
                slot: 9,
                generation: 0
            },
            None
        ),
        Err(EINVAL)
    );
    s.dr.destroy(&n, SEC).unwrap();
    assert_eq!(
        n.region_alloc(None, PAGE, true).err(),
        Some(ENXIO),
        "dead device"
    );
    dtors(&s, &n);
    assert_eq!(s.k.vm.pages_owned(), 0);
}
