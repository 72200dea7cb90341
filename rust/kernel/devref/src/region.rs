//! Revocable memory (devref's managed pager) from Rust.
//!
//! A [`Region`] is memory devref owns and lets user space map (mmap(2) at
//! [`Region::cookie`]); when the device goes, every mapping is revoked.
//! The driver keeps the `Region` (it gives no access by itself) and, inside
//! a call of the device, borrows its memory with [`DeviceRef::region`]: the
//! call proves the device, and so the region, is alive, and the borrow
//! cannot outlive the call.  User space may write the memory at any moment,
//! so the kernel sees it only as atomics.

use core::ffi::{c_ulong, c_void};
use core::sync::atomic::AtomicU32;

use devref_sys::kpi;

use crate::client::DeviceRef;
use crate::error::{check, Error, Result};

/// A region of a device's revocable memory (device-wide: any open file of
/// the device may map it).
pub struct Region {
    /// The device it belongs to: cookies are per device, so the same
    /// cookie names another region on another device.
    dev: usize,
    kva: usize,
    len: usize,
    cookie: u64,
}

impl Region {
    /// The mmap(2) offset of its first byte.
    pub fn cookie(&self) -> u64 {
        self.cookie
    }

    /// Its length in bytes (a whole number of pages).
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl<'d> DeviceRef<'d> {
    /// A device-wide region of at least `len` bytes, zeroed; writable by
    /// user space only if `writable`.  Call from inside an op.
    pub fn region_alloc(&self, len: usize, writable: bool) -> Result<Region> {
        if self.raw.is_null() {
            return Err(Error::NoDevice);
        }
        let flags = if writable {
            kpi::DEVREF_REGION_WRITABLE as i32
        } else {
            0
        };
        let mut kva: *mut c_void = core::ptr::null_mut();
        let mut cookie: c_ulong = 0;
        // SAFETY: raw is a live device (see DeviceRef); valid out pointers.
        check(unsafe {
            kpi::devref_region_alloc(
                self.raw,
                core::ptr::null_mut(),
                len as c_ulong,
                flags,
                &mut kva,
                &mut cookie,
            )
        })?;
        // The KPI rounds up to pages.
        let len = len.div_ceil(4096) * 4096;
        Ok(Region {
            dev: self.raw as usize,
            kva: kva as usize,
            len,
            cookie,
        })
    }

    /// Give `r` back before the device goes (its mappings are revoked).
    /// `Invalid` for another device's region.
    pub fn region_free(&self, r: Region) -> Result<()> {
        if self.raw.is_null() {
            return Err(Error::NoDevice);
        }
        if r.dev != self.raw as usize {
            return Err(Error::Invalid);
        }
        // SAFETY: as in region_alloc.
        check(unsafe { kpi::devref_region_free(self.raw, core::ptr::null_mut(), r.cookie) })
    }

    /// The memory of `r`, one of this device's regions, as 32-bit words,
    /// for as long as this call (and the borrow of `r`) lasts.  `None` for
    /// another device's region.
    pub fn region<'r>(&'r self, r: &'r Region) -> Option<&'r [AtomicU32]> {
        if self.raw.is_null() || r.dev != self.raw as usize {
            return None;
        }
        // SAFETY: r came from region_alloc on this device (checked above);
        // inside a call the device's
        // incarnation cannot end, so devref has not revoked or unmapped
        // the region, and region_free needs `r` by value, so it cannot
        // run while this borrow lives.  The KVA is page-aligned, len bytes
        // long; AtomicU32 tolerates user space writing concurrently.
        Some(unsafe { core::slice::from_raw_parts(r.kva as *const AtomicU32, r.len / 4) })
    }
}

/// Slots in a [`RegionSet`].
pub const REGION_SET_SLOTS: usize = 16;

/// An append-only set of a device's regions, shared by every call without
/// a lock: a driver keeps it in its device and looks regions up by cookie.
/// The regions stay until the set is dropped (with the device, after
/// devref has revoked them all).
pub struct RegionSet {
    slots: [core::sync::atomic::AtomicPtr<Region>; REGION_SET_SLOTS],
}

impl Default for RegionSet {
    fn default() -> Self {
        RegionSet {
            slots: core::array::from_fn(|_| {
                core::sync::atomic::AtomicPtr::new(core::ptr::null_mut())
            }),
        }
    }
}

impl RegionSet {
    /// Add `r`; gives it back when the set is full.
    pub fn push(&self, r: Region) -> core::result::Result<(), Region> {
        use core::sync::atomic::Ordering;
        let p = alloc::boxed::Box::into_raw(alloc::boxed::Box::new(r));
        for s in &self.slots {
            if s.compare_exchange(
                core::ptr::null_mut(),
                p,
                Ordering::AcqRel,
                Ordering::Acquire,
            )
            .is_ok()
            {
                return Ok(());
            }
        }
        // SAFETY: p is ours (no slot took it).
        Err(*unsafe { alloc::boxed::Box::from_raw(p) })
    }

    /// The region whose cookie is `cookie`.
    pub fn find(&self, cookie: u64) -> Option<&Region> {
        use core::sync::atomic::Ordering;
        self.slots.iter().find_map(|s| {
            let p = s.load(Ordering::Acquire);
            // SAFETY: a non-null slot holds a Box this set owns until it is
            // dropped, which needs &mut self: not while &self is borrowed.
            unsafe { p.as_ref() }.filter(|r| r.cookie == cookie)
        })
    }
}

impl Drop for RegionSet {
    fn drop(&mut self) {
        for s in &mut self.slots {
            let p = *s.get_mut();
            if !p.is_null() {
                // SAFETY: the set owns the Box (see push).
                drop(unsafe { alloc::boxed::Box::from_raw(p) });
            }
        }
    }
}
