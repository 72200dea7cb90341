//! errno values (FreeBSD's sys/errno.h) and what a dead device answers.

pub type Errno = i32;

pub const EPERM: Errno = 1;
pub const EINTR: Errno = 4;
pub const EIO: Errno = 5;
pub const ENXIO: Errno = 6;
pub const ENOMEM: Errno = 12;
pub const EACCES: Errno = 13;
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
/// Kernel-internal (sys/errno.h, _KERNEL): restart the system call.
pub const ERESTART: Errno = -1;

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

pub const POLLNVAL: i32 = 0x0020;
pub const POLLPRI: i32 = 0x0002;
pub const POLLERR: i32 = 0x0008;
pub const POLLRDBAND: i32 = 0x0080;
pub const POLLWRBAND: i32 = 0x0100;
/// The events poll_no_poll() knows: sys/poll.h's POLLSTANDARD, exactly.
pub const POLLSTANDARD: i32 = POLLIN
    | POLLPRI
    | POLLOUT
    | POLLRDNORM
    | POLLRDBAND
    | POLLWRBAND
    | POLLERR
    | POLLHUP
    | POLLNVAL;

/// What devref answers when the client left an op out: what devfs's
/// no_read/no_write/no_ioctl (enodev) and no_poll (poll_no_poll) answer.
pub mod missing {
    use super::*;
    pub const READ: Errno = ENODEV;
    pub const WRITE: Errno = ENODEV;
    pub const IOCTL: Errno = ENODEV;
    /// poll(2) without a poll op: always ready for normal reads and
    /// writes; POLLNVAL for events outside POLLSTANDARD.
    pub const fn poll(events: i32) -> i32 {
        if events & !POLLSTANDARD != 0 {
            POLLNVAL
        } else {
            events & (POLLIN | POLLOUT | POLLRDNORM | POLLWRNORM)
        }
    }
}
