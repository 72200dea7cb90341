//! read(2)/write(2) data: the caller's uio, moved to and from a region.

use core::ffi::c_void;
use core::marker::PhantomData;

use devref_sys::kpi;

use crate::client::DeviceRef;
use crate::error::{check, Error, Result};
use crate::region::Region;

/// The data of one read or write call (its `struct uio`): what is left,
/// and moves to or from this device's revocable memory.  Which way data
/// goes is the call's: a read copies out to the caller, a write copies in.
pub struct Uio<'a> {
    raw: *mut kpi::uio,
    _call: PhantomData<&'a mut ()>,
}

impl Uio<'_> {
    pub(crate) fn new(raw: *mut kpi::uio) -> Self {
        Uio {
            raw,
            _call: PhantomData,
        }
    }

    /// Bytes the call has left to move.
    pub fn resid(&self) -> usize {
        // SAFETY: raw is the call's uio, valid for the call (see ops).
        unsafe { kpi::devref_uio_resid(self.raw) as usize }
    }

    /// Move up to `len` bytes between the caller and `r` at byte `off`
    /// (at most what the call has left); returns the bytes moved.
    /// `Invalid` if `[off, off + len)` is not inside `r` or `r` is another
    /// device's; a fault on the caller's buffer is EFAULT.
    pub fn move_region(
        &mut self,
        dev: &DeviceRef<'_>,
        r: &Region,
        off: usize,
        len: usize,
    ) -> Result<usize> {
        // region() checks the device; its length bounds the range.
        let words = dev.region(r).ok_or(Error::Invalid)?;
        let end = off.checked_add(len).ok_or(Error::Invalid)?;
        if end > words.len() * 4 {
            return Err(Error::Invalid);
        }
        let n = len.min(self.resid());
        if n == 0 {
            return Ok(0);
        }
        let p = words.as_ptr().cast::<u8>().wrapping_add(off);
        // SAFETY: [p, p + n) lies inside the region's kernel mapping
        // (checked above), alive for this call (see DeviceRef::region);
        // raw is the call's uio.  User space may write the same bytes
        // concurrently: uiomove copies them as bytes, with no Rust
        // reference to them.
        check(unsafe { kpi::devref_uio_move(p.cast_mut().cast::<c_void>(), n as _, self.raw) })?;
        Ok(n)
    }
}
