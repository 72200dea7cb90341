//! A client's C ops table as the core's `ClientOps`.

use core::ffi::{c_int, c_void, CStr};
use core::ptr;

use devref_core::dev::{ClientOps, Errno};
use devref_sys::kpi::devref_ops;

/// A registered client's ops.  The table lives in the client's module,
/// which stays loaded until its unregister succeeds.
pub struct RawOps {
    pub ops: *const devref_ops,
    name: [u8; 32],
    name_len: usize,
}

// SAFETY: the table is immutable and the client's ops are callable from
// any thread (the KPI's rule).
unsafe impl Send for RawOps {}
// SAFETY: as above.
unsafe impl Sync for RawOps {}

impl RawOps {
    /// # Safety
    /// `ops` is a valid table that outlives the registration.
    pub unsafe fn new(ops: *const devref_ops) -> RawOps {
        let mut name = [0u8; 32];
        let mut name_len = 0;
        // SAFETY: per the contract.
        let p = unsafe { (*ops).dro_name };
        if !p.is_null() {
            // SAFETY: a NUL-terminated string in the client (KPI rule).
            let s = unsafe { CStr::from_ptr(p) }.to_bytes();
            let n = s.len().min(name.len());
            if let (Some(d), Some(src)) = (name.get_mut(..n), s.get(..n)) {
                d.copy_from_slice(src);
                name_len = n;
            }
        }
        RawOps {
            ops,
            name,
            name_len,
        }
    }

    pub fn table(&self) -> &devref_ops {
        // SAFETY: valid while registered (see `new`).
        unsafe { &*self.ops }
    }
}

impl ClientOps for RawOps {
    fn name(&self) -> &str {
        let b = self.name.get(..self.name_len).unwrap_or(&[]);
        core::str::from_utf8(b).unwrap_or("?")
    }

    fn open(&self, softc: usize, oflags: i32, td: usize) -> Result<usize, Errno> {
        let Some(f) = self.table().dro_open else {
            return Ok(0);
        };
        let mut p: *mut c_void = ptr::null_mut();
        // SAFETY: the client's op, called inside the device's gate.
        let e: c_int = unsafe { f(softc as *mut c_void, oflags, td as *mut _, &mut p) };
        if e == 0 {
            Ok(p as usize)
        } else {
            Err(e)
        }
    }

    fn close(&self, softc: usize, priv_: usize) {
        if let Some(f) = self.table().dro_close {
            // SAFETY: the client's op, once per successful open.
            unsafe { f(softc as *mut c_void, priv_ as *mut c_void) }
        }
    }

    fn purge(&self, softc: usize) {
        if let Some(f) = self.table().dro_purge {
            // SAFETY: the client's op; the client is registered.
            unsafe { f(softc as *mut c_void) }
        }
    }
}
