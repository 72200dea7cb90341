//! devring: a netmap-style ring device, devref's first client.
//!
//! Each open file owns a ring of DEVRING_SLOTS slots.  Userland advances
//! `head` and calls DEVRING_IOC_SYNC, as a netmap application calls
//! NIOCTXSYNC: the driver "transmits" every slot between its tail and the
//! new head, and returns the new tail.  The call does a few nanoseconds of
//! work, so what a benchmark of it measures is the cost of the entry path.
//!
//! The only `unsafe` is in the module glue (`module.rs`).
#![no_std]
#![deny(unsafe_code)]

extern crate alloc;

mod module;
mod ring;

pub use ring::{
    Ring, RingInfo, RingSync, DEVRING_IOC_INFO, DEVRING_IOC_SLEEP, DEVRING_IOC_SYNC, DEVRING_SLOTS,
};
