//! devref.ko's one instance of the core, set up at MOD_LOAD.

use alloc::sync::Arc;
use core::mem::ManuallyDrop;
use core::sync::atomic::{AtomicPtr, Ordering};

use devref_core::dev::{Devref, Node};

use crate::ops::RawOps;
use crate::platform::FreeBsd;

pub type DevrefK = Devref<FreeBsd, RawOps>;
pub type NodeK = Node<FreeBsd, RawOps>;

/// The registry: an `Arc` leaked at load, taken back at a successful
/// unload.  Module events are serialised by the kernel; KPI calls come only
/// from clients, which depend on devref and so cannot outlive it.
static DEVREF: AtomicPtr<DevrefK> = AtomicPtr::new(core::ptr::null_mut());

pub fn install(d: Arc<DevrefK>) {
    DEVREF.store(Arc::into_raw(d).cast_mut(), Ordering::Release);
}

pub fn uninstall() -> Option<Arc<DevrefK>> {
    let p = DEVREF.swap(core::ptr::null_mut(), Ordering::AcqRel);
    // SAFETY: p came from Arc::into_raw in install, taken back once.
    (!p.is_null()).then(|| unsafe { Arc::from_raw(p) })
}

/// The registry, borrowed (no reference count taken).
pub fn get() -> Option<ManuallyDrop<Arc<DevrefK>>> {
    let p = DEVREF.load(Ordering::Acquire);
    // SAFETY: installed until unload, which no client can race (above).
    (!p.is_null()).then(|| ManuallyDrop::new(unsafe { Arc::from_raw(p) }))
}
