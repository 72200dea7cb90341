//! devring's rings, netmap-style, independent of any kernel.
//!
//! A ring is an array of slots in memory shared with user space, and a
//! header with three indices (netmap, Rizzo 2012): user space owns the
//! slots in `[head, tail)`, the kernel the rest; user space hands slots
//! over by moving `head` (and `cur`) forward, the kernel hands them back
//! by moving `tail` forward.  A TX ring's user slots are free slots to
//! fill; an RX ring's are received slots to read.
//!
//! Everything in shared memory is written by an untrusted process at any
//! moment.  The kernel side ([`KRing`]) keeps its own copy of every index
//! that matters, reads each shared value once per use, validates it
//! against its own copy before using it, and never indexes with a value it
//! has not checked: a bad ring gets `Invalid` (EINVAL) and is reset to the
//! kernel's view, never a read out of bounds.
//!
//! [`pipe`] moves slots from one end's TX ring to the other end's RX ring
//! without copying data: buffer indices are swapped, as netmap pipes do.
#![no_std]
#![deny(unsafe_op_in_unsafe_fn)]
#![deny(clippy::unwrap_used, clippy::indexing_slicing)]

pub mod ctl;
pub mod kring;
pub mod layout;
pub mod pipe;
pub mod shared;

pub use kring::{Dir, Invalid, KRing};
pub use layout::{EndLayout, PipeLayout};
pub use shared::{RingHeader, RingRef, Slot};
