//! devref.ko's Rust half: the FreeBSD platform for the core, the exported
//! KPI and the entry-point dispatch.  The C shim (shim/) calls in through
//! the `devref_rs_*` functions; everything kernel-specific it needs is
//! reached through `devref_sys::shim`.
#![no_std]
#![deny(unsafe_op_in_unsafe_fn)]

extern crate alloc;

mod dispatch;
mod kalloc;
mod kernel;
mod kpi;
mod log;
mod module;
mod ops;
mod platform;
mod probe;
mod report;
mod state;
mod vm;

use core::panic::PanicInfo;

/// A Rust panic in the kernel is a bug in devref, never a user error (user
/// input is checked, not unwrapped): stop the machine with the message.
#[panic_handler]
fn panic(info: &PanicInfo<'_>) -> ! {
    log::panic(info)
}
