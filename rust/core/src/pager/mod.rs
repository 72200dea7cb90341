//! Revocable memory for devices: regions of devref-owned pages that user
//! space maps through a managed pager, and that devref takes back — every
//! mapping revoked, a later touch SIGBUS — when the device goes.
//!
//! [`cookie`] turns mmap offsets into regions, [`Regions`] keeps a
//! device's regions and takes them back in the right order, [`Vm`] is
//! what a kernel provides.

pub mod cookie;
mod regions;
mod vm;

pub use regions::{NewRegion, PagerShared, RegionState, RegionStats, Regions};
pub use vm::Vm;
