//! devring: a netmap-style ring device, devref's first client.
//!
//! Pipes (`pipe.rs`, made by the control node in `ctl.rs`): two ends with
//! TX and RX rings of slots and a buffer pool in devref's revocable memory,
//! synced netmap-style (TXSYNC swaps buffers into the peer's RX ring),
//! with poll/kqueue readiness, blocking syncs and a read/write path.
//!
//! The benchmark nodes (`ring.rs`): each open file owns a ring of
//! DEVRING_SLOTS slots.  Userland advances `head` and calls
//! DEVRING_IOC_SYNC: the driver "transmits" every slot between its tail and
//! the new head, and returns the new tail.  The call does a few nanoseconds
//! of work, so what a benchmark of it measures is the cost of the entry
//! path.
//!
//! The only `unsafe` is in the module glue (`module.rs`).
#![no_std]
#![deny(unsafe_code)]

extern crate alloc;

mod abi;
mod ctl;
mod module;
mod node;
mod pipe;
mod ring;

pub use ring::{
    Ring, RingInfo, RingSync, DEVRING_IOC_INFO, DEVRING_IOC_SLEEP, DEVRING_IOC_SYNC, DEVRING_SLOTS,
};
