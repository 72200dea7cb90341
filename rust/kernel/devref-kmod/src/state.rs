//! devref.ko's one instance of the core, set up at MOD_LOAD.

use alloc::sync::Arc;

use devref_core::dev::{Devref, Node};

use crate::ops::RawOps;
use crate::platform::FreeBsd;

pub type DevrefK = Devref<FreeBsd, RawOps>;
pub type NodeK = Node<FreeBsd, RawOps>;

/// The registry.  Everyone who uses it takes a reference under this lock
/// (an Arc clone: a few instructions, never a sleep), so that MOD_UNLOAD
/// taking it out cannot free it under a user.  (KPI callers are clients,
/// which cannot outlive devref; sysctl readers of kern.devref.* use
/// dynamic oids that MOD_UNLOAD removes, waiting for them, before it
/// takes the registry out.)
///
/// The spin lock is taken inside a critical section: a holder is never
/// preempted, so a waiter on the same CPU cannot spin behind it.  Nothing
/// that can sleep or free runs while it is held (the Arc dropped by
/// `uninstall` is dropped after).
static DEVREF: spin::Mutex<Option<Arc<DevrefK>>> = spin::Mutex::new(None);

fn with_state<R>(f: impl FnOnce(&mut Option<Arc<DevrefK>>) -> R) -> R {
    // SAFETY: paired with the exit below; f neither sleeps nor frees.
    unsafe { devref_sys::shim::devref_shim_critical_enter() };
    let r = f(&mut DEVREF.lock());
    // SAFETY: pairs with the enter above.
    unsafe { devref_sys::shim::devref_shim_critical_exit() };
    r
}

pub fn install(d: Arc<DevrefK>) {
    let old = with_state(|s| s.replace(d));
    drop(old);
}

pub fn uninstall() -> Option<Arc<DevrefK>> {
    with_state(|s| s.take())
}

/// The registry, if loaded, with a reference of the caller's own.
pub fn get() -> Option<Arc<DevrefK>> {
    with_state(|s| s.clone())
}
