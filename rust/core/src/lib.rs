//! devref's logic, independent of any kernel.
//!
//! Everything here is generic over [`platform::Platform`]: the FreeBSD
//! kernel platform lives in the kernel glue crate, the Linux host platform
//! in `devref-host`, a loom platform in the model tests.
#![no_std]
#![deny(unsafe_op_in_unsafe_fn)]
#![deny(clippy::unwrap_used, clippy::indexing_slicing)]

extern crate alloc;

pub mod dev;
pub mod gate;
pub mod lifecycle;
pub mod pager;
pub mod platform;
pub mod sync;
