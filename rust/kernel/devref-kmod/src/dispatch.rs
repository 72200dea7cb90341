//! Entry points called by the shim's cdevsw (placeholder until the device
//! layer lands: every node answers as a destroyed device would).

use core::ffi::{c_char, c_int, c_ulong, c_void};
use devref_sys::kpi::{thread, uio};

const ENXIO: c_int = 6;
const EIO: c_int = 5;

#[no_mangle]
pub extern "C" fn devref_rs_open(_node: *mut c_void, _oflags: c_int, _td: *mut thread) -> c_int {
    ENXIO
}

#[no_mangle]
pub extern "C" fn devref_rs_read(_n: *mut c_void, _h: *mut c_void, _uio: *mut uio, _f: c_int) -> c_int {
    EIO
}

#[no_mangle]
pub extern "C" fn devref_rs_write(_n: *mut c_void, _h: *mut c_void, _uio: *mut uio, _f: c_int) -> c_int {
    EIO
}

#[no_mangle]
pub extern "C" fn devref_rs_ioctl(
    _n: *mut c_void, _h: *mut c_void, _cmd: c_ulong, _data: *mut c_char, _fflag: c_int, _td: *mut thread,
) -> c_int {
    ENXIO
}

#[no_mangle]
pub extern "C" fn devref_rs_poll(_n: *mut c_void, _h: *mut c_void, _events: c_int, _td: *mut thread) -> c_int {
    0
}

#[no_mangle]
pub extern "C" fn devref_rs_handle_dtor(_h: *mut c_void) {}
