//! A device's regions of revocable memory: the table, the states, the
//! order in which a region is taken back.
//!
//! ```text
//!  region:  Live ──revoke──▶ Revoking ──▶ Revoked ──▶ Released (slot free,
//!           (mmap ok)        (no new     (no page in    generation bumped)
//!                             mapping)    any object or
//!                                         page table)
//!  page:    Held ──revoke, last owner──▶ Freed
//!             └──revoke, still held (pipe write, physio, mlock)──▶ Graveyard
//!                                         └──retry, last owner──▶ Freed
//!                                         └──devref unloads──▶ abandoned
//! ```
//!
//! Taking a region back, in this order: the client's kernel mapping goes
//! (nothing of devref's points at the pages any more), every page leaves
//! the object and every process's page tables, devref drops its object
//! reference (the object itself lives on while processes map it, serving
//! SIGBUS), and each page is freed if devref is its last owner, else kept
//! in the graveyard until it is.  The VM calls run without the table's
//! lock (they may sleep); the state changes run under it, and a mapping is
//! only ever started under it, from a Live region.

use alloc::sync::Arc;
use alloc::vec::Vec;

use super::cookie::{self, CookieId, Request, MAX_SLOTS, REGION_MAX_BYTES};
use super::vm::Vm;
use crate::dev::{Errno, EACCES, EINVAL, ENOMEM, ENOSPC, ENXIO};
use crate::platform::Platform;
use crate::sync::{AtomicUsize, Ordering};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RegionState {
    Live,
    Revoking,
    Revoked,
}

/// A new region, as the client sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NewRegion {
    pub id: CookieId,
    /// The mmap offset of its first byte.
    pub cookie: u64,
    /// Its kernel address, for the client.
    pub kva: usize,
    /// Its length in bytes (the request rounded up to pages).
    pub len: u64,
}

/// Counters, for sysctl.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RegionStats {
    pub regions: usize,
    pub pages_held: usize,
    pub graveyard: usize,
    pub objects_alive: usize,
    pub revocations: u64,
    pub freed: u64,
}

struct Region<V: Vm> {
    /// The open file (its handle) that owns it; `None`: device-wide.
    owner: Option<usize>,
    incarnation: u64,
    len: u64,
    writable: bool,
    state: RegionState,
    pages: Vec<V::Page>,
    object: Option<V::Object>,
    kva: Option<V::Kva>,
}

struct Slot<V: Vm> {
    generation: u16,
    region: Option<Region<V>>,
}

struct Table<V: Vm> {
    slots: Vec<Slot<V>>,
    next_handle: u64,
    pages_held: usize,
}

/// What every device's regions share: the VM, the pager objects still
/// alive anywhere (devref may not unload while one is: its destructor is
/// devref's code), and the graveyard of pages someone else still holds,
/// which outlives any one device.
pub struct PagerShared<P: Platform, V: Vm> {
    p: P,
    vm: V,
    objects_alive: AtomicUsize,
    graveyard: P::Lock<Graveyard<V>>,
}

struct Graveyard<V: Vm> {
    pages: Vec<V::Page>,
    /// Graveyard pages a retry (or a free that found them still held) has
    /// in hand outside the lock: still the graveyard's, so that a report
    /// read meanwhile sees them there and not nowhere.
    in_hand: usize,
    revocations: u64,
    freed: u64,
}

impl<P: Platform, V: Vm> PagerShared<P, V> {
    pub fn new(p: P, vm: V) -> Option<Arc<Self>> {
        let graveyard = p.lock_new(
            "devref graveyard",
            Graveyard {
                pages: Vec::new(),
                in_hand: 0,
                revocations: 0,
                freed: 0,
            },
        )?;
        Some(Arc::new(PagerShared {
            p,
            vm,
            objects_alive: AtomicUsize::new(0),
            graveyard,
        }))
    }

    pub fn vm(&self) -> &V {
        &self.vm
    }

    pub fn objects_alive(&self) -> usize {
        self.objects_alive.load(Ordering::Acquire)
    }

    /// A pager object lost its last reference.
    pub fn object_gone(&self) {
        self.objects_alive.fetch_sub(1, Ordering::AcqRel);
    }

    /// Free what can be freed, keep the rest.
    fn free_pages(&self, pages: Vec<V::Page>) {
        self.free_pages_counted(pages, 0);
    }

    /// Free what can be freed; the rest joins the graveyard.  `counted`
    /// of `pages` are graveyard pages already counted in `in_hand`.  The
    /// counts move in one step under the lock: a page is freed, or in the
    /// graveyard (its vector or in hand), never neither.
    fn free_pages_counted(&self, pages: Vec<V::Page>, counted: usize) {
        let mut kept = Vec::new();
        let mut freed = 0u64;
        for pg in pages {
            match self.vm().page_free(pg) {
                Ok(()) => freed += 1,
                Err(pg) => kept.push(pg),
            }
        }
        let mut hand = kept.len();
        self.p.with_lock(&self.graveyard, |g| {
            g.freed += freed;
            g.in_hand = g.in_hand.saturating_sub(counted).saturating_add(hand);
        });
        // Never allocate under the lock (a mutex: malloc(M_WAITOK) may
        // sleep): an empty graveyard takes our vector whole; otherwise its
        // pages come out, join ours outside the lock, and we try again.
        while !kept.is_empty() {
            let theirs = self.p.with_lock(&self.graveyard, |g| {
                if g.pages.is_empty() {
                    core::mem::swap(&mut g.pages, &mut kept);
                    g.in_hand = g.in_hand.saturating_sub(hand);
                    None
                } else {
                    let t = core::mem::take(&mut g.pages);
                    g.in_hand = g.in_hand.saturating_add(t.len());
                    hand = hand.saturating_add(t.len());
                    Some(t)
                }
            });
            match theirs {
                Some(mut t) => kept.append(&mut t),
                None => break,
            }
        }
    }

    /// Try the graveyard again (a timer calls this): pages whose last
    /// other holder let go are freed.  Returns how many remain.
    pub fn retry_graveyard(&self) -> usize {
        let (pages, n) = self.p.with_lock(&self.graveyard, |g| {
            let n = g.pages.len();
            g.in_hand = g.in_hand.saturating_add(n);
            (core::mem::take(&mut g.pages), n)
        });
        self.free_pages_counted(pages, n);
        self.graveyard_len()
    }

    /// Pages waiting in the graveyard.
    pub fn graveyard_len(&self) -> usize {
        self.p
            .with_lock(&self.graveyard, |g| g.pages.len().saturating_add(g.in_hand))
    }

    /// Unload: forget the pages still held by someone else (they keep
    /// devref's wiring; no object, page table or kernel mapping of devref's
    /// points at them).  Returns how many.
    pub fn abandon_graveyard(&self) -> usize {
        let pages = self
            .p
            .with_lock(&self.graveyard, |g| core::mem::take(&mut g.pages));
        let n = pages.len();
        for pg in pages {
            self.vm().page_abandon(pg);
        }
        n
    }
}

/// A device's regions.
pub struct Regions<P: Platform, V: Vm> {
    p: P,
    shared: Arc<PagerShared<P, V>>,
    table: P::Lock<Table<V>>,
    max_slots: usize,
}

/// What a revoke takes out of a region, to work on without the lock.
struct Taken<V: Vm> {
    pages: Vec<V::Page>,
    object: Option<V::Object>,
    kva: Option<V::Kva>,
}

impl<P: Platform, V: Vm> Regions<P, V> {
    /// `max_slots` regions at most (capped at what a cookie can name).
    pub fn new(p: P, shared: Arc<PagerShared<P, V>>, max_slots: usize) -> Option<Self> {
        let table = p.lock_new(
            "devref regions",
            Table {
                slots: Vec::new(),
                next_handle: 1,
                pages_held: 0,
            },
        )?;
        Some(Regions {
            p,
            shared,
            table,
            max_slots: max_slots.min(MAX_SLOTS),
        })
    }

    pub fn shared(&self) -> &Arc<PagerShared<P, V>> {
        &self.shared
    }

    fn vm(&self) -> &V {
        &self.shared.vm
    }

    /// Allocate a region of at least `len` bytes, owned by the open file
    /// `owner` (or device-wide), in `incarnation`.
    pub fn alloc(
        &self,
        owner: Option<usize>,
        incarnation: u64,
        len: u64,
        writable: bool,
    ) -> Result<NewRegion, Errno> {
        self.alloc_for(0, owner, incarnation, len, writable)
    }

    /// [`Regions::alloc`], naming the table's owner for the pager's
    /// destructor callback (see [`Vm::object_new`]).
    pub fn alloc_for(
        &self,
        table_owner: usize,
        owner: Option<usize>,
        incarnation: u64,
        len: u64,
        writable: bool,
    ) -> Result<NewRegion, Errno> {
        let page = self.vm().page_size();
        if page == 0 || !page.is_power_of_two() {
            return Err(EINVAL);
        }
        let len = match len.checked_add(page - 1) {
            Some(l) if len > 0 => l & !(page - 1),
            _ => return Err(EINVAL),
        };
        if len >= REGION_MAX_BYTES {
            return Err(EINVAL);
        }
        let n = usize::try_from(len / page).map_err(|_| EINVAL)?;
        let mut pages = Vec::new();
        pages.try_reserve_exact(n).map_err(|_| ENOMEM)?;
        for _ in 0..n {
            match self.vm().page_alloc() {
                Some(pg) => pages.push(pg),
                None => {
                    self.free_pages(pages);
                    return Err(ENOMEM);
                }
            }
        }
        let handle = self.p.with_lock(&self.table, |t| {
            let h = t.next_handle;
            t.next_handle = t.next_handle.wrapping_add(1);
            h
        });
        let Some(object) = self.vm().object_new(table_owner, handle, &pages, writable) else {
            self.free_pages(pages);
            return Err(ENOMEM);
        };
        self.shared.objects_alive.fetch_add(1, Ordering::AcqRel);
        let Some(kva) = self.vm().kva_map(&pages) else {
            self.undo(pages, object);
            return Err(ENOMEM);
        };
        let addr = self.vm().kva_addr(&kva);
        let region = Region {
            owner,
            incarnation,
            len,
            writable,
            state: RegionState::Live,
            pages,
            object: Some(object),
            kva: Some(kva),
        };
        // The slot vector grows outside the lock (a mutex: malloc(M_WAITOK)
        // may sleep): a bigger vector is made here, then moved in under it.
        let mut spare: Vec<Slot<V>> = Vec::new();
        let mut region = Some(region);
        let placed = loop {
            let step = self.p.with_lock(&self.table, |t| {
                let free = t.slots.iter().position(|s| s.region.is_none());
                let i = match free {
                    Some(i) => i,
                    None if t.slots.len() < self.max_slots => {
                        if t.slots.len() == t.slots.capacity() {
                            if spare.capacity() <= t.slots.len() {
                                return Err(t.slots.len());
                            }
                            spare.append(&mut t.slots);
                            core::mem::swap(&mut t.slots, &mut spare);
                        }
                        t.slots.push(Slot {
                            generation: 0,
                            region: None,
                        });
                        t.slots.len() - 1
                    }
                    None => return Ok(None),
                };
                let Some(slot) = t.slots.get_mut(i) else {
                    return Ok(None);
                };
                let Some(r) = region.take() else {
                    return Ok(None);
                };
                t.pages_held += r.pages.len();
                slot.region = Some(r);
                Ok(Some(CookieId {
                    slot: i,
                    generation: slot.generation,
                }))
            });
            match step {
                Ok(Some(id)) => break Ok(id),
                Ok(None) => break Err(region.take()),
                Err(len) => {
                    let want = len.saturating_mul(2).max(4).min(self.max_slots);
                    spare = Vec::new();
                    if spare.try_reserve_exact(want).is_err() {
                        break Err(region.take());
                    }
                }
            }
        };
        drop(spare);
        match placed {
            Ok(id) => Ok(NewRegion {
                id,
                cookie: cookie::encode(id),
                kva: addr,
                len,
            }),
            Err(Some(mut r)) => {
                if let Some(k) = r.kva.take() {
                    self.vm().kva_unmap(k, &r.pages);
                }
                if let Some(o) = r.object.take() {
                    self.undo(core::mem::take(&mut r.pages), o);
                }
                Err(ENOSPC)
            }
            Err(None) => Err(ENOSPC),
        }
    }

    /// Undo an allocation nobody saw: no process can map the object yet,
    /// so every page comes back at once.
    fn undo(&self, pages: Vec<V::Page>, object: V::Object) {
        for pg in &pages {
            self.vm().revoke_page(&object, pg);
        }
        self.vm().object_release(object);
        self.free_pages(pages);
    }

    fn free_pages(&self, pages: Vec<V::Page>) {
        self.shared.free_pages(pages);
    }

    /// d_mmap_single: a referenced object and the offset inside it, for a
    /// mapping of `req` by the open file `opener`.  `file_writable`: the
    /// file was opened for writing (mprotect may raise a mapping up to the
    /// file's mode, so a read-only region refuses such files outright);
    /// `want_write`: this mapping asks for PROT_WRITE.
    pub fn mmap(
        &self,
        req: &Request,
        opener: usize,
        file_writable: bool,
        want_write: bool,
    ) -> Result<(usize, u64), Errno> {
        self.p.with_lock(&self.table, |t| {
            let slot = t.slots.get(req.id.slot).ok_or(EINVAL)?;
            if slot.generation != req.id.generation {
                return Err(EINVAL);
            }
            let r = slot.region.as_ref().ok_or(EINVAL)?;
            if r.state != RegionState::Live {
                return Err(ENXIO);
            }
            if r.owner.is_some_and(|o| o != opener) {
                return Err(EACCES);
            }
            let end = req.offset.checked_add(req.size).ok_or(EINVAL)?;
            if end > r.len {
                return Err(EINVAL);
            }
            if !r.writable && (file_writable || want_write) {
                return Err(EACCES);
            }
            let obj = r.object.as_ref().ok_or(ENXIO)?;
            Ok((self.vm().object_ref(obj), req.offset))
        })
    }

    /// Take back the region `id` for its owner `owner` (the client frees
    /// it).  EINVAL for a region that is not there or not the caller's.
    pub fn free(&self, id: CookieId, owner: Option<usize>) -> Result<(), Errno> {
        let ok = self.p.with_lock(&self.table, |t| {
            let s = t.slots.get(id.slot)?;
            let r = s.region.as_ref()?;
            (s.generation == id.generation && r.owner == owner && r.state == RegionState::Live)
                .then_some(())
        });
        ok.ok_or(EINVAL)?;
        self.revoke_slot(id);
        Ok(())
    }

    /// Take back every region of `incarnation` (its end: destroy, after the
    /// gate drained and the client closed its files), or only those of the
    /// open file `owner`.  Returns how many were taken back.
    pub fn revoke_where(&self, incarnation: u64, owner: Option<usize>) -> usize {
        // One slot at a time: nothing is allocated under the lock (a
        // mutex: malloc(M_WAITOK) may sleep).  A region placed meanwhile
        // in a slot already passed belongs to a newer incarnation or file.
        let n = self.p.with_lock(&self.table, |t| t.slots.len());
        let mut count = 0;
        for i in 0..n {
            let id = self.p.with_lock(&self.table, |t| {
                let s = t.slots.get(i)?;
                let r = s.region.as_ref()?;
                (r.state == RegionState::Live
                    && r.incarnation == incarnation
                    && (owner.is_none() || r.owner == owner))
                    .then_some(CookieId {
                        slot: i,
                        generation: s.generation,
                    })
            });
            if id.is_some_and(|id| self.revoke_slot(id)) {
                count += 1;
            }
        }
        count
    }

    /// Live → Revoking under the lock (nobody maps it from then on), the
    /// VM work without it, then Revoked and Released.  false: someone else
    /// took it first.
    fn revoke_slot(&self, id: CookieId) -> bool {
        let taken: Option<Taken<V>> = self.p.with_lock(&self.table, |t| {
            let s = t.slots.get_mut(id.slot)?;
            if s.generation != id.generation {
                return None;
            }
            let r = s.region.as_mut()?;
            if r.state != RegionState::Live {
                return None;
            }
            r.state = RegionState::Revoking;
            Some(Taken {
                pages: core::mem::take(&mut r.pages),
                object: r.object.take(),
                kva: r.kva.take(),
            })
        });
        let Some(mut tk) = taken else { return false };
        // The client's kernel mapping first: then nothing of devref's or
        // the client's points at the pages.
        if let Some(k) = tk.kva.take() {
            self.vm().kva_unmap(k, &tk.pages);
        }
        if let Some(obj) = tk.object.take() {
            for pg in &tk.pages {
                self.vm().revoke_page(&obj, pg);
            }
            self.p.with_lock(&self.table, |t| {
                if let Some(r) = t.slots.get_mut(id.slot).and_then(|s| s.region.as_mut()) {
                    r.state = RegionState::Revoked;
                }
            });
            self.p
                .with_lock(&self.shared.graveyard, |g| g.revocations += 1);
            // Not under the lock: the object's destructor may run right
            // here and call object_gone.
            self.vm().object_release(obj);
        }
        let n = tk.pages.len();
        self.free_pages(core::mem::take(&mut tk.pages));
        self.p.with_lock(&self.table, |t| {
            t.pages_held = t.pages_held.saturating_sub(n);
            if let Some(s) = t.slots.get_mut(id.slot) {
                s.region = None;
                s.generation = cookie::next_generation(s.generation);
            }
        });
        true
    }

    /// The pager object with `handle` lost its last reference.
    pub fn object_gone(&self, _handle: u64) {
        self.shared.object_gone();
    }

    /// See [`PagerShared::retry_graveyard`].
    pub fn retry_graveyard(&self) -> usize {
        self.shared.retry_graveyard()
    }

    /// See [`PagerShared::abandon_graveyard`].
    pub fn abandon_graveyard(&self) -> usize {
        self.shared.abandon_graveyard()
    }

    /// This device's regions and pages; the shared counters.
    pub fn stats(&self) -> RegionStats {
        let objects_alive = self.shared.objects_alive();
        let (graveyard, revocations, freed) = self.p.with_lock(&self.shared.graveyard, |g| {
            (
                g.pages.len().saturating_add(g.in_hand),
                g.revocations,
                g.freed,
            )
        });
        self.p.with_lock(&self.table, |t| RegionStats {
            regions: t.slots.iter().filter(|s| s.region.is_some()).count(),
            pages_held: t.pages_held,
            graveyard,
            objects_alive,
            revocations,
            freed,
        })
    }
}
