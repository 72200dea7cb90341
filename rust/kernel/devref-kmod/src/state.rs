//! devref.ko's one instance of the core, set up at MOD_LOAD.

use alloc::sync::Arc;

use devref_core::dev::{Devref, Node};

use crate::ops::RawOps;
use crate::platform::FreeBsd;

pub type DevrefK = Devref<FreeBsd, RawOps>;
pub type NodeK = Node<FreeBsd, RawOps>;

/// The registry.  Everyone who uses it takes a reference under this lock
/// (an Arc clone: a few instructions, never a sleep), so that MOD_UNLOAD
/// taking it out cannot free it under a reader: KPI callers are clients,
/// which cannot outlive devref, but a sysctl reader of kern.devref.* can
/// run during MOD_UNLOAD (the linker removes the oids after the event, and
/// waits for running handlers before it frees the text).
static DEVREF: spin::Mutex<Option<Arc<DevrefK>>> = spin::Mutex::new(None);

pub fn install(d: Arc<DevrefK>) {
    *DEVREF.lock() = Some(d);
}

pub fn uninstall() -> Option<Arc<DevrefK>> {
    DEVREF.lock().take()
}

/// The registry, if loaded.
pub fn get() -> Option<Arc<DevrefK>> {
    DEVREF.lock().clone()
}
