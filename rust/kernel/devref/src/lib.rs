//! The safe Rust API for devref client drivers.
//!
//! A driver implements [`Device`] (methods take `&self`: the device is
//! shared by every CPU calling into it; there is no hidden global lock) with
//! a per-open state type, registers a [`Client`] and creates devices.  devref
//! guarantees that no method runs after [`Client::unregister`] returned
//! `Ok`, so the module may then be unloaded.
//!
//! All `unsafe` of a client lives here: drivers such as devring contain
//! none outside their thin module glue.
#![no_std]
#![deny(unsafe_op_in_unsafe_fn)]

extern crate alloc;

mod client;
mod error;
mod ioctl;
mod ops;
mod region;
#[cfg(feature = "runtime")]
mod runtime;
mod sleeplock;
mod uio;
#[cfg(feature = "runtime")]
pub use runtime::console;

pub use client::{Client, Created, DeviceRef, Mode, Perms, SleepTicket};
pub use error::{Error, Result};
pub use ioctl::{ioc, ioc_len, IoctlArg, Pod, IOC_IN, IOC_INOUT, IOC_OUT, IOC_VOID};
pub use region::{Region, RegionSet, REGION_SET_SLOTS};
pub use sleeplock::{SleepLock, SleepLockGuard};
pub use uio::Uio;

/// Poll events (sys/poll.h).
pub mod poll {
    pub const POLLIN: i32 = 0x0001;
    pub const POLLOUT: i32 = 0x0004;
    pub const POLLRDNORM: i32 = 0x0040;
    pub const POLLWRNORM: i32 = POLLOUT;
    pub const POLLERR: i32 = 0x0008;
    pub const POLLHUP: i32 = 0x0010;
}

/// In a read or write's `ioflag`: the file is non-blocking.
pub const IO_NDELAY: i32 = devref_sys::kpi::DEVREF_IO_NDELAY as i32;

/// A character device implemented by a client.
pub trait Device: Send + Sync + 'static {
    /// The client's name, for devref's console lines and sysctls.
    const NAME: &'static core::ffi::CStr;

    /// State of one open file.  Dropped on close(2) or when the device is
    /// destroyed, whichever comes first.
    type Open: Send + Sync + 'static;

    /// open(2).
    fn open(&self, oflags: i32) -> Result<Self::Open>;

    /// ioctl(2).  Unknown commands must answer [`Error::NotTty`].  `dev`
    /// is this device: sleep on it, wake it, notify its pollers.
    fn ioctl(
        &self,
        _dev: &DeviceRef<'_>,
        _open: &Self::Open,
        _arg: &mut IoctlArg<'_>,
    ) -> Result<()> {
        Err(Error::NotTty)
    }

    /// read(2): move data to `uio`.  `ioflag` has
    /// [`IO_NDELAY`] for a non-blocking file.  A driver without reads
    /// answers [`Error::NotSupported`] (ENODEV, as devfs for a missing
    /// d_read).
    fn read(
        &self,
        _dev: &DeviceRef<'_>,
        _open: &Self::Open,
        _uio: &mut Uio<'_>,
        _ioflag: i32,
    ) -> Result<()> {
        Err(Error::NotSupported)
    }

    /// write(2): move data from `uio` (see [`Device::read`]).
    fn write(
        &self,
        _dev: &DeviceRef<'_>,
        _open: &Self::Open,
        _uio: &mut Uio<'_>,
        _ioflag: i32,
    ) -> Result<()> {
        Err(Error::NotSupported)
    }

    /// poll(2): the subset of `events` that is ready now.  Must not sleep.
    /// When nothing is ready devref records the caller and the driver calls
    /// [`DeviceRef::notify`] when that changes.
    fn poll(&self, _dev: &DeviceRef<'_>, _open: &Self::Open, events: i32) -> i32 {
        events & (poll::POLLIN | poll::POLLOUT | poll::POLLRDNORM | poll::POLLWRNORM)
    }

    /// The device is being destroyed: wake every thread sleeping inside the
    /// driver that does not sleep through devref's own sleep.
    fn purge(&self) {}
}
