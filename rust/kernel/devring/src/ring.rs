//! The ring device itself: safe Rust on top of the `devref` API.

use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use devref::{
    ioc, poll, DeviceRef, Error, IoctlArg, RegionSet, Result, IOC_IN, IOC_INOUT, IOC_OUT,
};

/// Slots in each open file's ring (a power of two).
pub const DEVRING_SLOTS: u32 = 1024;

devref::ioctl_struct! {
    /// `struct devring_sync` (shim/devring_ioctl.h).
    pub struct RingSync {
        /// In: the first slot userland has not filled.
        pub head: u32,
        /// Out: the first slot the driver has not consumed.
        pub tail: u32,
    }
}

devref::ioctl_struct! {
    /// `struct devring_info` (shim/devring_ioctl.h).
    pub struct RingInfo {
        pub version: u32,
        pub slots: u32,
        pub mode: u32,
        pub pad: u32,
        pub syncs: u64,
    }
}

devref::ioctl_struct! {
    /// `struct devring_region` (shim/devring_ioctl.h).
    pub struct RingRegion {
        pub pages: u32,
        pub flags: u32,
        pub cookie: u64,
    }
}

devref::ioctl_struct! {
    /// `struct devring_sum` (shim/devring_ioctl.h).
    pub struct RingSum {
        pub cookie: u64,
        pub sum: u64,
    }
}

/// DEVRING_REGION_WRITABLE
pub const DEVRING_REGION_WRITABLE: u32 = 0x1;
/// DEVRING_REGION_MAX_PAGES
pub const DEVRING_REGION_MAX_PAGES: u32 = 256;
/// _IOWR('R', 3, struct devring_region)
pub const DEVRING_IOC_REGION: u64 = ioc(IOC_INOUT, b'R', 3, core::mem::size_of::<RingRegion>());
/// _IOWR('R', 4, struct devring_sum)
pub const DEVRING_IOC_SUM: u64 = ioc(IOC_INOUT, b'R', 4, core::mem::size_of::<RingSum>());
const _: () = assert!(DEVRING_IOC_REGION == 0xc010_5203 && DEVRING_IOC_SUM == 0xc010_5204);

/// _IOWR('R', 1, struct devring_sync)
pub const DEVRING_IOC_SYNC: u64 = ioc(IOC_INOUT, b'R', 1, core::mem::size_of::<RingSync>());
/// _IOR('R', 0, struct devring_info)
pub const DEVRING_IOC_INFO: u64 = ioc(IOC_OUT, b'R', 0, core::mem::size_of::<RingInfo>());
/// _IOW('R', 2, uint32_t): sleep inside the driver (for tests of destroy).
pub const DEVRING_IOC_SLEEP: u64 = ioc(IOC_IN, b'R', 2, core::mem::size_of::<u32>());

// The ABI, pinned to the numbers shim/devring_module.c asserts for the C
// header userland uses.
const _: () = assert!(DEVRING_IOC_INFO == 0x4018_5200);
const _: () = assert!(DEVRING_IOC_SYNC == 0xc008_5201);
const _: () = assert!(DEVRING_IOC_SLEEP == 0x8004_5202);
const _: () =
    assert!(core::mem::size_of::<RingSync>() == 8 && core::mem::size_of::<RingInfo>() == 24);
const _: () = assert!(DEVRING_SLOTS == 1024);

/// One devring device.  Nothing in it is written per call: a shared
/// counter would put a contended atomic on every SYNC and blur what a
/// benchmark of the entry path measures.
pub struct Ring {
    mode: u32,
    /// Regions made with DEVRING_IOC_REGION (revoked with the device).
    regions: RegionSet,
}

impl Ring {
    pub fn new(mode: u32) -> Self {
        Ring {
            mode,
            regions: RegionSet::default(),
        }
    }
}

/// One open file's ring.
pub struct OpenRing {
    tail: AtomicU32,
    /// SYNCs through this file.  Load + store, not an atomic add: exact
    /// for a file used by one thread at a time (the netmap model), and a
    /// shared file only loses counts, never safety.
    syncs: AtomicU64,
}

/// The benchmark nodes (/dev/devring, /dev/devring_counted): what their
/// ops do, called by [`crate::node::Node`].
impl Ring {
    pub fn open(&self, _oflags: i32) -> Result<OpenRing> {
        Ok(OpenRing {
            tail: AtomicU32::new(0),
            syncs: AtomicU64::new(0),
        })
    }

    pub fn ioctl(
        &self,
        dev: &DeviceRef<'_>,
        open: &OpenRing,
        arg: &mut IoctlArg<'_>,
    ) -> Result<()> {
        match arg.cmd() {
            DEVRING_IOC_SYNC => {
                let mut s: RingSync = arg.read()?;
                if s.head >= DEVRING_SLOTS {
                    return Err(Error::Invalid);
                }
                // "Transmit" everything up to head: the ring is drained.
                open.tail.store(s.head, Ordering::Relaxed);
                s.tail = s.head;
                let n = open.syncs.load(Ordering::Relaxed);
                open.syncs.store(n.wrapping_add(1), Ordering::Relaxed);
                arg.write(&s)
            }
            DEVRING_IOC_INFO => arg.write(&RingInfo {
                version: 1,
                slots: DEVRING_SLOTS,
                mode: self.mode,
                pad: 0,
                syncs: open.syncs.load(Ordering::Relaxed),
            }),
            DEVRING_IOC_SLEEP => {
                let ms: u32 = arg.read()?;
                // Nobody wakes this device's sleepers, so only the timeout,
                // a signal or the device closing end the sleep.
                match dev.sleep(dev.sleep_ticket(), Some(ms)) {
                    Ok(()) | Err(Error::Again) => Ok(()),
                    Err(e) => Err(e),
                }
            }
            DEVRING_IOC_REGION => {
                let mut r: RingRegion = arg.read()?;
                if r.pages == 0
                    || r.pages > DEVRING_REGION_MAX_PAGES
                    || r.flags & !DEVRING_REGION_WRITABLE != 0
                {
                    return Err(Error::Invalid);
                }
                let len = r.pages as usize * 4096;
                let region = dev.region_alloc(len, r.flags & DEVRING_REGION_WRITABLE != 0)?;
                r.cookie = region.cookie();
                if let Err(region) = self.regions.push(region) {
                    let _ = dev.region_free(region);
                    return Err(Error::Errno(28)); // ENOSPC
                }
                arg.write(&r)
            }
            DEVRING_IOC_SUM => {
                let mut s: RingSum = arg.read()?;
                let region = self.regions.find(s.cookie).ok_or(Error::Invalid)?;
                let words = dev.region(region).ok_or(Error::Invalid)?;
                s.sum = words.iter().fold(0u64, |a, w| {
                    a.wrapping_add(u64::from(w.load(Ordering::Relaxed)))
                });
                arg.write(&s)
            }
            _ => Err(Error::NotTty),
        }
    }

    pub fn poll(&self, _dev: &DeviceRef<'_>, _open: &OpenRing, events: i32) -> i32 {
        // Transmission is immediate: there is always room to write.
        events & (poll::POLLOUT | poll::POLLWRNORM)
    }
}
