//! Errors of client operations, mapped to errno in exactly one place.

/// What a client operation can answer.  Each maps to one errno value, the
/// one devfs drivers use for that situation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    /// EPERM
    Perm,
    /// EIO
    Io,
    /// ENXIO: the device is gone or going.
    NoDevice,
    /// ENOMEM
    NoMem,
    /// EACCES
    Access,
    /// EBUSY
    Busy,
    /// EEXIST
    Exists,
    /// ENODEV: operation not supported by the device.
    NotSupported,
    /// EINVAL
    Invalid,
    /// ENOTTY: unknown ioctl.
    NotTty,
    /// EAGAIN
    Again,
    /// EINTR
    Interrupted,
    /// ERESTART (kernel-internal): a signal whose handler has SA_RESTART
    /// arrived during a sleep.  Return it from the op as it is: the system
    /// call restarts.
    Restart,
    /// ETIMEDOUT
    TimedOut,
    /// Any other errno reported by devref.
    Errno(i32),
}

pub type Result<T> = core::result::Result<T, Error>;

impl Error {
    pub const fn to_errno(self) -> i32 {
        match self {
            Error::Perm => 1,
            Error::Io => 5,
            Error::NoDevice => 6,
            Error::NoMem => 12,
            Error::Access => 13,
            Error::Busy => 16,
            Error::Exists => 17,
            Error::NotSupported => 19,
            Error::Invalid => 22,
            Error::NotTty => 25,
            Error::Again => 35,
            Error::Interrupted => 4,
            Error::Restart => -1,
            Error::TimedOut => 60,
            Error::Errno(e) => e,
        }
    }

    pub const fn from_errno(e: i32) -> Error {
        match e {
            1 => Error::Perm,
            5 => Error::Io,
            6 => Error::NoDevice,
            12 => Error::NoMem,
            13 => Error::Access,
            16 => Error::Busy,
            17 => Error::Exists,
            19 => Error::NotSupported,
            22 => Error::Invalid,
            25 => Error::NotTty,
            35 => Error::Again,
            4 => Error::Interrupted,
            -1 => Error::Restart,
            60 => Error::TimedOut,
            e => Error::Errno(e),
        }
    }
}

/// An errno-returning KPI call as a Result.
pub(crate) fn check(e: i32) -> Result<()> {
    if e == 0 {
        Ok(())
    } else {
        Err(Error::from_errno(e))
    }
}
