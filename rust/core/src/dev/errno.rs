//! errno values (FreeBSD's sys/errno.h) and what a dead device answers.

pub type Errno = i32;

pub const EPERM: Errno = 1;
pub const EINTR: Errno = 4;
pub const EIO: Errno = 5;
pub const ENXIO: Errno = 6;
pub const ENOMEM: Errno = 12;
pub const EBUSY: Errno = 16;
pub const EEXIST: Errno = 17;
pub const ENODEV: Errno = 19;
pub const EINVAL: Errno = 22;
pub const ENOSPC: Errno = 28;
pub const EDEADLK: Errno = 11;
pub const EINPROGRESS: Errno = 36;
pub const ENOTTY: Errno = 25;
pub const EWOULDBLOCK: Errno = 35;
pub const ETIMEDOUT: Errno = 60;

pub const POLLIN: i32 = 0x0001;
pub const POLLOUT: i32 = 0x0004;
pub const POLLHUP: i32 = 0x0010;
pub const POLLRDNORM: i32 = 0x0040;
pub const POLLWRNORM: i32 = POLLOUT;

/// What each entry point answers once the device is destroyed (or for a
/// file opened on an earlier incarnation): the values devfs's dead_cdevsw
/// and destroyed cdevs give.
pub mod dead {
    use super::*;
    pub const OPEN: Errno = ENXIO;
    pub const READ: Errno = EIO;
    pub const WRITE: Errno = EIO;
    pub const IOCTL: Errno = ENXIO;
    /// poll(2) reports hang-up.
    pub const POLL: i32 = POLLHUP;
    pub const KQFILTER: Errno = ENXIO;
    pub const MMAP: Errno = ENXIO;
}

/// What devref answers when the client left an op out (as devfs does for
/// a missing method).
pub mod missing {
    use super::*;
    pub const READ: Errno = ENODEV;
    pub const WRITE: Errno = ENODEV;
    pub const IOCTL: Errno = ENOTTY;
    /// poll(2): always ready for normal reads and writes (seltrue).
    pub const POLL_READY: i32 = POLLIN | POLLOUT | POLLRDNORM | POLLWRNORM;
}
