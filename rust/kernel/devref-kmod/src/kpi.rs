//! The exported client KPI (shim/devref_kpi.h).  Placeholder: registration
//! is refused until the device layer lands.

use core::ffi::{c_char, c_int, c_uint, c_ulong, c_void};
use devref_sys::kpi::{devref_client, devref_dev, devref_ops};
use devref_sys::shim;

const ENOSYS: c_int = 78;

#[no_mangle]
pub extern "C" fn devref_malloc(size: c_ulong, align: c_ulong) -> *mut c_void {
    // SAFETY: plain call into malloc(9).
    unsafe { shim::devref_shim_alloc(size, align) }
}

/// # Safety
/// `p` came from devref_malloc.
#[no_mangle]
pub unsafe extern "C" fn devref_free(p: *mut c_void) {
    // SAFETY: per the contract.
    unsafe { shim::devref_shim_free(p) }
}

#[no_mangle]
pub extern "C" fn devref_client_register(_ops: *const devref_ops, _clientp: *mut *mut devref_client) -> c_int {
    ENOSYS
}

#[no_mangle]
pub extern "C" fn devref_client_unregister(_client: *mut devref_client, _timeout_ms: c_int) -> c_int {
    ENOSYS
}

#[no_mangle]
pub extern "C" fn devref_dev_create(
    _client: *mut devref_client, _name: *const c_char, _mode: c_int, _uid: c_uint, _gid: c_uint,
    _perms: c_int, _softc: *mut c_void, _devp: *mut *mut devref_dev,
) -> c_int {
    ENOSYS
}

#[no_mangle]
pub extern "C" fn devref_dev_destroy(_dev: *mut devref_dev, _timeout_ms: c_int) -> c_int {
    ENOSYS
}

#[no_mangle]
pub extern "C" fn devref_sleep(_dev: *mut devref_dev, _chan: *mut c_void, _timeout_ms: c_int) -> c_int {
    ENOSYS
}

#[no_mangle]
pub extern "C" fn devref_wakeup(_dev: *mut devref_dev, _chan: *mut c_void) {}

#[no_mangle]
pub extern "C" fn devref_notify(_dev: *mut devref_dev) {}
