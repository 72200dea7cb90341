//! The pipe ioctls of shim/devring_ioctl.h, pinned to the numbers
//! shim/devring_module.c asserts for the C header userland uses.

use devref::{ioc, IOC_IN, IOC_INOUT};

pub use devring_rings::ctl::{PIPES_MAX, PIPE_NAMELEN};

devref::ioctl_struct! {
    /// `struct devring_pipe_req`.
    pub struct PipeReq {
        pub name: [u8; PIPE_NAMELEN],
        pub mode: u32,
        pub uid: u32,
        pub gid: u32,
        pub perms: u32,
        pub slots: u32,
        pub buf_size: u32,
    }
}

devref::ioctl_struct! {
    /// `struct devring_pipe_bind`.
    pub struct PipeBind {
        pub end: u32,
        pub slots: u32,
        pub buf_size: u32,
        pub buffers: u32,
        pub offset: u64,
        pub size: u64,
        pub tx_ofs: u64,
        pub rx_ofs: u64,
        pub buf_ofs: u64,
    }
}

devref::ioctl_struct! {
    /// `struct devring_pipe_sync`.
    pub struct PipeSync {
        pub flags: u32,
        pub slots: u32,
        pub moved: u32,
        pub pad: u32,
    }
}

const fn sz<T>() -> usize {
    core::mem::size_of::<T>()
}

/// _IOWR('R', 8, struct devring_pipe_req)
pub const DEVRING_IOC_PIPE_CREATE: u64 = ioc(IOC_INOUT, b'R', 8, sz::<PipeReq>());
/// _IOW('R', 9, struct devring_pipe_req)
pub const DEVRING_IOC_PIPE_DESTROY: u64 = ioc(IOC_IN, b'R', 9, sz::<PipeReq>());
/// _IOWR('R', 10, struct devring_pipe_bind)
pub const DEVRING_IOC_PIPE_BIND: u64 = ioc(IOC_INOUT, b'R', 10, sz::<PipeBind>());
/// _IOWR('R', 11, struct devring_pipe_sync)
pub const DEVRING_IOC_TXSYNC: u64 = ioc(IOC_INOUT, b'R', 11, sz::<PipeSync>());
/// _IOWR('R', 12, struct devring_pipe_sync)
pub const DEVRING_IOC_RXSYNC: u64 = ioc(IOC_INOUT, b'R', 12, sz::<PipeSync>());

const _: () = assert!(sz::<PipeReq>() == 56 && sz::<PipeBind>() == 56 && sz::<PipeSync>() == 16);
const _: () = assert!(DEVRING_IOC_PIPE_CREATE == 0xc038_5208);
const _: () = assert!(DEVRING_IOC_PIPE_DESTROY == 0x8038_5209);
const _: () = assert!(DEVRING_IOC_PIPE_BIND == 0xc038_520a);
const _: () = assert!(DEVRING_IOC_TXSYNC == 0xc010_520b);
const _: () = assert!(DEVRING_IOC_RXSYNC == 0xc010_520c);
