//! The managed pager on FreeBSD: devref-core's `Vm` on the C shim's VM
//! calls (shim/devref_pager.c).

use alloc::sync::Arc;
use core::ffi::{c_ulong, c_ulonglong, c_void};
use core::ptr::NonNull;

use devref_core::pager::Vm;
use devref_sys::shim;

use crate::state::NodeK;

/// amd64 PAGE_SIZE.
const PAGE_SIZE: u64 = 4096;

/// The kernel VM (a token: the state is the kernel's).
#[derive(Clone, Copy, Debug, Default)]
pub struct FreeBsdVm;

/// A `vm_page_t` devref owns (transparent: a slice of them is the array
/// of page pointers pmap_qenter and the object setup take).
#[repr(transparent)]
pub struct KPage(NonNull<shim::vm_page>);

/// A `vm_object_t` with devref's reference.
pub struct KObject(NonNull<shim::vm_object>);

/// A region's kernel mapping: its address and its page count.
pub struct KKva {
    addr: c_ulong,
    pages: c_ulong,
}

// SAFETY: page, object and KVA pointers may be used from any thread; the
// VM locks what it touches.
unsafe impl Send for KPage {}
// SAFETY: as above.
unsafe impl Send for KObject {}

impl Vm for FreeBsdVm {
    type Page = KPage;
    type Object = KObject;
    type Kva = KKva;

    fn page_size(&self) -> u64 {
        PAGE_SIZE
    }

    fn page_alloc(&self) -> Option<KPage> {
        // SAFETY: plain allocation (may sleep: the callers may).
        NonNull::new(unsafe { shim::devref_shim_page_alloc() }).map(KPage)
    }

    fn object_new(
        &self,
        owner: usize,
        handle: u64,
        pages: &[KPage],
        writable: bool,
    ) -> Option<KObject> {
        let node = owner as *const NodeK;
        if node.is_null() {
            return None;
        }
        // The object's destructor reaches the node: it keeps a reference
        // on it until then (a counted node is otherwise freed at destroy).
        // SAFETY: owner is the cookie of a live node in an Arc (the region
        // is being made from inside one of its calls).
        unsafe { Arc::increment_strong_count(node) };
        // SAFETY: KPage is a transparent NonNull<vm_page>, so the slice is
        // an array of page pointers; the shim reads n of them.
        let obj = unsafe {
            shim::devref_shim_object_new(
                owner as *mut c_void,
                handle as c_ulonglong,
                pages.as_ptr().cast_mut().cast(),
                pages.len() as c_ulong,
                i32::from(writable),
            )
        };
        match NonNull::new(obj) {
            Some(o) => Some(KObject(o)),
            None => {
                // No object: no destructor will run.
                // SAFETY: the reference taken above.
                unsafe { Arc::decrement_strong_count(node) };
                None
            }
        }
    }

    fn object_ref(&self, obj: &KObject) -> usize {
        // SAFETY: a live object devref holds a reference on.
        unsafe { shim::devref_shim_object_ref(obj.0.as_ptr()) };
        obj.0.as_ptr() as usize
    }

    fn revoke_page(&self, obj: &KObject, page: &KPage) {
        // SAFETY: a live object and a page devref owns.
        unsafe { shim::devref_shim_revoke_page(obj.0.as_ptr(), page.0.as_ptr()) }
    }

    fn object_release(&self, obj: KObject) {
        // SAFETY: devref's own reference, dropped once.
        unsafe { shim::devref_shim_object_release(obj.0.as_ptr()) }
    }

    fn kva_map(&self, pages: &[KPage]) -> Option<KKva> {
        let n = pages.len() as c_ulong;
        // SAFETY: as in object_new, an array of n page pointers.
        let addr = unsafe { shim::devref_shim_kva_map(pages.as_ptr().cast_mut().cast(), n) };
        (addr != 0).then_some(KKva { addr, pages: n })
    }

    fn kva_addr(&self, kva: &KKva) -> usize {
        kva.addr as usize
    }

    fn kva_unmap(&self, kva: KKva, _pages: &[KPage]) {
        // SAFETY: a mapping kva_map made, removed once.
        unsafe { shim::devref_shim_kva_unmap(kva.addr, kva.pages) }
    }

    fn page_free(&self, page: KPage) -> Result<(), KPage> {
        // SAFETY: a page devref owns; the shim frees it only as its last
        // owner.
        match unsafe { shim::devref_shim_page_free(page.0.as_ptr()) } {
            0 => Ok(()),
            // ENOENT: not ours any more (the shim said so on the console):
            // forget it, never touch it again.
            2 => Ok(()),
            _ => Err(page),
        }
    }

    fn page_abandon(&self, page: KPage) {
        // Someone else (mlock) holds it: it keeps devref's wiring, and
        // nothing of devref's points at it any more.
        let _ = page;
    }
}

/// The object made for node `owner` with `id` lost its last reference
/// (munmap, exit, or devref's own release).  Runs on devref's taskqueue
/// (the shim's destructor only queues it), so MOD_UNLOAD, which refuses
/// while an object is counted and then drains the queue, waits for it.
#[no_mangle]
pub extern "C" fn devref_rs_object_gone(owner: *mut c_void, _id: c_ulonglong) {
    let node = owner.cast_const().cast::<NodeK>();
    if node.is_null() {
        return;
    }
    // SAFETY: object_new took a reference on the node for this object; the
    // pager's shared state outlives every node (the registry holds it).
    // The count goes last: once it reads zero, nothing here touches the
    // node or the shared state again.
    unsafe {
        let shared = (*node).pager_shared();
        Arc::decrement_strong_count(node);
        shared.object_gone();
    }
}

/// The shim's graveyard timer: pages waiting now.
#[no_mangle]
pub extern "C" fn devref_rs_graveyard_len() -> c_ulong {
    crate::state::get().map_or(0, |d| d.pager().graveyard_len() as c_ulong)
}

/// The shim's graveyard timer: free what can be freed now; how many pages
/// are still held by someone else (the timer runs again while any is).
#[no_mangle]
pub extern "C" fn devref_rs_graveyard_retry() -> c_ulong {
    crate::state::get().map_or(0, |d| d.pager().retry_graveyard() as c_ulong)
}

/// After something was revoked: if a page is still held, retry later.
pub fn arm_graveyard_if_needed() {
    if crate::state::get().is_some_and(|d| d.pager().graveyard_len() > 0) {
        // SAFETY: plain call; the taskqueue exists while devref is loaded.
        unsafe { shim::devref_shim_graveyard_arm() }
    }
}
