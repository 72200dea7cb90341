//! A model of the FreeBSD VM objects devref's pager uses, for host tests:
//! pages (wirings, the object they are in, freed, abandoned), pager objects
//! (references, resident pages), processes (mappings, page tables, fork,
//! munmap, exit, mlock) and kernel mappings.  After every step `check`
//! asserts the rules a real kernel would enforce by panicking or by
//! corrupting memory:
//!
//! - no page-table entry points at a freed page, and every entry's page is
//!   the page its object holds at that index (so after a revoke no entry
//!   of the region is left anywhere);
//! - a page is in at most one object, at one index;
//! - a page is freed only with no object, no other wiring, no page-table
//!   entry and no kernel mapping ("vm_page_free_prep: page has
//!   references"), and never twice.
//!
//! Faults model the managed device pager with every page inserted up
//! front: a touch whose page is resident maps it; one whose page is gone
//! (revoked) gets the pager's VM_PAGER_BAD: SIGBUS.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use devref_core::pager::Vm;

pub const PAGE: u64 = 4096;

#[derive(Debug, Default)]
struct PageRec {
    wirings: u32,
    object: Option<(u64, u64)>,
    freed: bool,
    abandoned: bool,
    kva_maps: u32,
}

#[derive(Debug)]
struct ObjRec {
    handle: u64,
    refs: u32,
    pages: BTreeMap<u64, usize>,
}

#[derive(Clone, Debug)]
struct MapEnt {
    obj: u64,
    /// First page of the object this mapping shows.
    first: u64,
    pages: u64,
}

#[derive(Debug, Default)]
struct Proc {
    /// base page number → mapping
    maps: BTreeMap<u64, MapEnt>,
    /// virtual page number → page
    ptes: BTreeMap<u64, usize>,
    alive: bool,
}

#[derive(Debug, Default)]
struct State {
    pages: Vec<PageRec>,
    objects: BTreeMap<u64, ObjRec>,
    next_obj: u64,
    procs: Vec<Proc>,
    next_va: u64,
    next_kva: u64,
    /// Handles whose object lost its last reference (the pager's dtor).
    dtors: Vec<u64>,
    /// page_alloc fails after this many more successes.
    alloc_budget: Option<usize>,
    fail_object_new: bool,
    /// Run at each page_free, outside the model's lock (a test's look at
    /// the pager while it frees).
    on_free: Option<OnFree>,
}

#[derive(Clone)]
struct OnFree(Arc<dyn Fn() + Send + Sync>);

impl std::fmt::Debug for OnFree {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OnFree")
    }
}

#[derive(Clone, Default)]
pub struct Model(Arc<Mutex<State>>);

#[derive(Debug)]
pub struct MPage(usize);
#[derive(Debug)]
pub struct MObj(u64);
#[derive(Debug)]
pub struct MKva(u64);

#[derive(Debug, PartialEq, Eq)]
pub enum Touch {
    Ok,
    Sigbus,
    Sigsegv,
}

impl Model {
    fn st(&self) -> std::sync::MutexGuard<'_, State> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Call `f` at every page_free from now on.
    pub fn on_free(&self, f: impl Fn() + Send + Sync + 'static) {
        self.st().on_free = Some(OnFree(Arc::new(f)));
    }

    pub fn fail_alloc_after(&self, n: Option<usize>) {
        self.st().alloc_budget = n;
    }

    pub fn fail_object_new(&self, on: bool) {
        self.st().fail_object_new = on;
    }

    /// The destructors that ran since the last call (their handles).
    pub fn take_dtors(&self) -> Vec<u64> {
        std::mem::take(&mut self.st().dtors)
    }

    pub fn proc_new(&self) -> usize {
        let mut s = self.st();
        s.procs.push(Proc {
            alive: true,
            ..Proc::default()
        });
        s.procs.len() - 1
    }

    /// mmap(2) the object reference `obj_ref` (which the mapping owns
    /// from now on) at object offset `off`, `size` bytes; the address.
    pub fn map(&self, pid: usize, obj_ref: usize, off: u64, size: u64) -> u64 {
        let mut s = self.st();
        let base = s.next_va + 16;
        s.next_va = base + size / PAGE;
        let ent = MapEnt {
            obj: obj_ref as u64,
            first: off / PAGE,
            pages: size / PAGE,
        };
        assert!(s.objects.contains_key(&ent.obj), "mapping a dead object");
        s.procs[pid].maps.insert(base, ent);
        base * PAGE
    }

    fn entry(p: &Proc, vpn: u64) -> Option<(u64, MapEnt)> {
        let (&base, ent) = p.maps.range(..=vpn).next_back()?;
        (vpn < base + ent.pages).then(|| (base, ent.clone()))
    }

    /// A user access at `va`.
    pub fn touch(&self, pid: usize, va: u64) -> Touch {
        let mut s = self.st();
        let vpn = va / PAGE;
        let Some((base, ent)) = Self::entry(&s.procs[pid], vpn) else {
            return Touch::Sigsegv;
        };
        if s.procs[pid].ptes.contains_key(&vpn) {
            return Touch::Ok;
        }
        let idx = ent.first + (vpn - base);
        let page = s
            .objects
            .get(&ent.obj)
            .and_then(|o| o.pages.get(&idx))
            .copied();
        match page {
            Some(pg) => {
                s.procs[pid].ptes.insert(vpn, pg);
                Touch::Ok
            }
            // The pager's fault method: VM_PAGER_BAD.
            None => Touch::Sigbus,
        }
    }

    /// fork(2): the child shares every mapping (device mappings are
    /// MAP_SHARED) and its page-table entries.
    pub fn fork(&self, pid: usize) -> usize {
        let mut s = self.st();
        let maps = s.procs[pid].maps.clone();
        let ptes = s.procs[pid].ptes.clone();
        for ent in maps.values() {
            if let Some(o) = s.objects.get_mut(&ent.obj) {
                o.refs += 1;
            }
        }
        s.procs.push(Proc {
            maps,
            ptes,
            alive: true,
        });
        s.procs.len() - 1
    }

    pub fn munmap(&self, pid: usize, va: u64) {
        let mut s = self.st();
        let vpn = va / PAGE;
        let Some((base, ent)) = Self::entry(&s.procs[pid], vpn) else {
            return;
        };
        s.procs[pid].maps.remove(&base);
        for v in base..base + ent.pages {
            s.procs[pid].ptes.remove(&v);
        }
        Self::unref(&mut s, ent.obj);
    }

    pub fn exit(&self, pid: usize) {
        let bases: Vec<u64> = self.st().procs[pid].maps.keys().copied().collect();
        for b in bases {
            self.munmap(pid, b * PAGE);
        }
        self.st().procs[pid].alive = false;
    }

    fn unref(s: &mut State, obj: u64) {
        let gone = {
            let o = s.objects.get_mut(&obj).expect("object");
            o.refs -= 1;
            o.refs == 0
        };
        if gone {
            let o = s.objects.remove(&obj).expect("object");
            // A dying managed device object gives its remaining pages back
            // (cdev_mgtdev_pager_dealloc): they leave the object.
            for (_, pg) in o.pages {
                s.pages[pg].object = None;
            }
            s.dtors.push(o.handle);
        }
    }

    /// A kernel hold on the page a process touched (pipe direct write,
    /// physio): one more wiring until `unhold`.
    pub fn hold(&self, pid: usize, va: u64) -> Option<usize> {
        assert_eq!(self.touch(pid, va), Touch::Ok);
        let mut s = self.st();
        let pg = *s.procs[pid].ptes.get(&(va / PAGE))?;
        s.pages[pg].wirings += 1;
        Some(pg)
    }

    pub fn unhold(&self, pg: usize) {
        let mut s = self.st();
        assert!(!s.pages[pg].freed, "unhold of a freed page");
        s.pages[pg].wirings -= 1;
    }

    /// mlock(2): a wiring that is never dropped (vm_object_unwire returns
    /// at once for OBJ_FICTITIOUS objects).
    pub fn mlock(&self, pid: usize, va: u64) -> Option<usize> {
        self.hold(pid, va)
    }

    pub fn pages_freed(&self) -> usize {
        self.st().pages.iter().filter(|p| p.freed).count()
    }

    pub fn pages_abandoned(&self) -> usize {
        self.st().pages.iter().filter(|p| p.abandoned).count()
    }

    /// Pages neither freed nor abandoned: devref still owns them.
    pub fn pages_owned(&self) -> usize {
        self.st()
            .pages
            .iter()
            .filter(|p| !p.freed && !p.abandoned)
            .count()
    }

    /// Page-table entries, in every process.
    pub fn ptes(&self) -> usize {
        self.st().procs.iter().map(|p| p.ptes.len()).sum()
    }

    /// A broken revoke, for the model's own test: the page leaves the
    /// object but not the page tables.
    pub fn revoke_page_from_object_only(&self, obj: &MObj, page: &MPage) {
        let mut s = self.st();
        if let Some(o) = s.objects.get_mut(&obj.0) {
            o.pages.retain(|_, &mut pg| pg != page.0);
        }
        s.pages[page.0].object = None;
    }

    /// The rules (module doc); panics on the first broken one.
    pub fn check(&self) {
        let s = self.st();
        for (pid, p) in s.procs.iter().enumerate() {
            for (&vpn, &pg) in &p.ptes {
                assert!(
                    !s.pages[pg].freed,
                    "proc {pid}: PTE {vpn} -> freed page {pg}"
                );
                let (base, ent) = Self::entry(p, vpn).expect("PTE outside any mapping");
                let idx = ent.first + (vpn - base);
                let resident = s.objects.get(&ent.obj).and_then(|o| o.pages.get(&idx));
                assert_eq!(
                    resident,
                    Some(&pg),
                    "proc {pid}: PTE {vpn} -> page {pg} that its object no longer holds"
                );
            }
        }
        for (id, o) in &s.objects {
            for (&idx, &pg) in &o.pages {
                assert_eq!(
                    s.pages[pg].object,
                    Some((*id, idx)),
                    "page {pg} in two objects or at two indexes"
                );
            }
        }
        for (i, pg) in s.pages.iter().enumerate() {
            if pg.freed {
                assert!(
                    pg.object.is_none() && pg.wirings == 0 && pg.kva_maps == 0,
                    "page {i}"
                );
            }
        }
    }
}

impl Vm for Model {
    type Page = MPage;
    type Object = MObj;
    type Kva = MKva;

    fn page_size(&self) -> u64 {
        PAGE
    }

    fn page_alloc(&self) -> Option<MPage> {
        let mut s = self.st();
        if let Some(n) = s.alloc_budget.as_mut() {
            if *n == 0 {
                return None;
            }
            *n -= 1;
        }
        s.pages.push(PageRec {
            wirings: 1,
            ..PageRec::default()
        });
        Some(MPage(s.pages.len() - 1))
    }

    fn object_new(&self, _owner: usize, handle: u64, pages: &[MPage], _w: bool) -> Option<MObj> {
        let mut s = self.st();
        if s.fail_object_new {
            return None;
        }
        let id = s.next_obj + 1;
        s.next_obj = id;
        let mut map = BTreeMap::new();
        for (i, pg) in pages.iter().enumerate() {
            let rec = &mut s.pages[pg.0];
            assert!(rec.object.is_none(), "page {} already in an object", pg.0);
            assert!(!rec.freed);
            rec.object = Some((id, i as u64));
            map.insert(i as u64, pg.0);
        }
        s.objects.insert(
            id,
            ObjRec {
                handle,
                refs: 1,
                pages: map,
            },
        );
        Some(MObj(id))
    }

    fn object_ref(&self, obj: &MObj) -> usize {
        let mut s = self.st();
        s.objects.get_mut(&obj.0).expect("live object").refs += 1;
        obj.0 as usize
    }

    fn revoke_page(&self, obj: &MObj, page: &MPage) {
        let mut s = self.st();
        if let Some(o) = s.objects.get_mut(&obj.0) {
            o.pages.retain(|_, &mut pg| pg != page.0);
        }
        if s.pages[page.0].object.is_some_and(|(o, _)| o == obj.0) {
            s.pages[page.0].object = None;
        }
        // pmap_remove_all: every process.
        for p in s.procs.iter_mut() {
            p.ptes.retain(|_, &mut pg| pg != page.0);
        }
    }

    fn object_release(&self, obj: MObj) {
        let mut s = self.st();
        Self::unref(&mut s, obj.0);
    }

    fn kva_map(&self, pages: &[MPage]) -> Option<MKva> {
        let mut s = self.st();
        for pg in pages {
            s.pages[pg.0].kva_maps += 1;
        }
        s.next_kva += 1 << 20;
        Some(MKva(s.next_kva))
    }

    fn kva_addr(&self, kva: &MKva) -> usize {
        kva.0 as usize
    }

    fn kva_unmap(&self, _kva: MKva, pages: &[MPage]) {
        let mut s = self.st();
        for pg in pages {
            s.pages[pg.0].kva_maps -= 1;
        }
    }

    fn page_free(&self, page: MPage) -> Result<(), MPage> {
        let hook = self.st().on_free.clone();
        if let Some(h) = hook {
            (h.0)();
        }
        let mut s = self.st();
        let in_pte = s
            .procs
            .iter()
            .any(|p| p.ptes.values().any(|&pg| pg == page.0));
        let rec = &mut s.pages[page.0];
        assert!(!rec.freed, "double free of page {}", page.0);
        if rec.object.is_some() || rec.wirings != 1 || rec.kva_maps != 0 || in_pte {
            return Err(page);
        }
        rec.wirings = 0;
        rec.freed = true;
        Ok(())
    }

    fn page_abandon(&self, page: MPage) {
        let mut s = self.st();
        let rec = &mut s.pages[page.0];
        assert!(!rec.freed && rec.object.is_none() && rec.kva_maps == 0);
        rec.abandoned = true;
    }
}
