//! The atomics the core uses: `core::sync::atomic` normally, loom's
//! instrumented copies when built with `--cfg loom` (model checking).
//!
//! Every atomic type, ordering and fence the gate touches must come from
//! here, never from `core::sync::atomic` directly, or loom would not see it.

#[cfg(not(loom))]
pub use core::sync::atomic::{
    compiler_fence, fence, AtomicBool, AtomicI64, AtomicIsize, AtomicU64, AtomicUsize, Ordering,
};

#[cfg(loom)]
pub use loom::sync::atomic::{
    fence, AtomicBool, AtomicI64, AtomicIsize, AtomicU64, AtomicUsize, Ordering,
};

/// loom has no compiler fence: a compiler fence only constrains the
/// compiler, which loom does not model, so under loom it is a no-op.
#[cfg(loom)]
pub fn compiler_fence(_order: Ordering) {}
