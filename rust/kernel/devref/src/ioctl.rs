//! ioctl commands and arguments (sys/ioccom.h).

use crate::error::{Error, Result};

pub const IOCPARM_SHIFT: u32 = 13;
pub const IOCPARM_MASK: u32 = (1 << IOCPARM_SHIFT) - 1;
pub const IOC_VOID: u32 = 0x2000_0000;
pub const IOC_OUT: u32 = 0x4000_0000;
pub const IOC_IN: u32 = 0x8000_0000;
pub const IOC_INOUT: u32 = IOC_IN | IOC_OUT;

/// _IOC(inout, group, num, len) as a const fn.  An argument too large for
/// the 13-bit length field (IOCPARM_MAX) fails at compile time in a const.
pub const fn ioc(inout: u32, group: u8, num: u8, len: usize) -> u64 {
    assert!(
        len <= IOCPARM_MASK as usize,
        "ioctl argument larger than IOCPARM_MAX"
    );
    (inout | (((len as u32) & IOCPARM_MASK) << 16) | ((group as u32) << 8) | num as u32) as u64
}

/// The length of an ioctl's argument, encoded in the command.
pub const fn ioc_len(cmd: u64) -> usize {
    ((cmd as u32 >> 16) & IOCPARM_MASK) as usize
}

/// One ioctl call: the command and the kernel copy of its argument (devfs
/// has already copied it in, and copies it out on success).
pub struct IoctlArg<'a> {
    cmd: u64,
    data: &'a mut [u8],
}

impl<'a> IoctlArg<'a> {
    pub(crate) fn new(cmd: u64, data: &'a mut [u8]) -> Self {
        IoctlArg { cmd, data }
    }

    pub fn cmd(&self) -> u64 {
        self.cmd
    }

    /// Read the argument as a `T` (plain old data of exactly the size the
    /// command encodes; else EINVAL).
    pub fn read<T: Pod>(&self) -> Result<T> {
        if self.data.len() != core::mem::size_of::<T>() {
            return Err(Error::Invalid);
        }
        // SAFETY: the length matches and T is Pod: every bit pattern is a
        // valid T; read_unaligned needs no alignment.
        Ok(unsafe { core::ptr::read_unaligned(self.data.as_ptr().cast::<T>()) })
    }

    /// Write `v` as the argument (copied out to the caller on success).
    pub fn write<T: Pod>(&mut self, v: &T) -> Result<()> {
        if self.data.len() != core::mem::size_of::<T>() {
            return Err(Error::Invalid);
        }
        // SAFETY: the length matches; write_unaligned needs no alignment.
        unsafe { core::ptr::write_unaligned(self.data.as_mut_ptr().cast::<T>(), *v) };
        Ok(())
    }
}

/// Plain old data: any bit pattern is a valid value, no padding secrets.
///
/// # Safety
/// Implement only for `#[repr(C)]` types made of integers, with no padding.
pub unsafe trait Pod: Copy + 'static {}

// SAFETY: integers are Pod.
unsafe impl Pod for u32 {}
// SAFETY: integers are Pod.
unsafe impl Pod for u64 {}
// SAFETY: integers are Pod.
unsafe impl Pod for i32 {}

/// Declare a `#[repr(C)]` ioctl argument struct of integer fields and make
/// it [`Pod`], with a compile-time check that it has no padding (so that no
/// uninitialised kernel byte is ever copied out to userland).
#[macro_export]
macro_rules! ioctl_struct {
    ($(#[$m:meta])* pub struct $name:ident { $($(#[$fm:meta])* pub $f:ident : $t:ty),* $(,)? }) => {
        $(#[$m])*
        #[repr(C)]
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
        pub struct $name { $($(#[$fm])* pub $f: $t),* }

        const _: () = assert!(
            core::mem::size_of::<$name>() == 0 $(+ core::mem::size_of::<$t>())*,
            "ioctl struct has padding"
        );

        // SAFETY: repr(C), integer fields only, no padding (asserted above).
        unsafe impl $crate::Pod for $name {}
    };
}
