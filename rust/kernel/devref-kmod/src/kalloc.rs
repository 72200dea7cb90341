//! The Rust global allocator over malloc(9).
//!
//! Allocation sleeps (M_WAITOK) and never fails, so it must happen only where
//! sleeping is allowed: device creation and registration, never in an entry
//! fast path or under a spin lock.

use core::alloc::{GlobalAlloc, Layout};
use devref_sys::shim;

struct Malloc9;

// SAFETY: devref_shim_alloc returns zeroed memory of at least `size` bytes
// aligned to `align` (or NULL when align exceeds a page), and
// devref_shim_free releases exactly what it returned.
unsafe impl GlobalAlloc for Malloc9 {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: plain call into malloc(9); any size is valid.
        unsafe { shim::devref_shim_alloc(layout.size() as u64, layout.align() as u64).cast() }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, _layout: Layout) {
        // SAFETY: the caller passes a pointer this allocator returned.
        unsafe { shim::devref_shim_free(ptr.cast()) }
    }
}

#[global_allocator]
static ALLOCATOR: Malloc9 = Malloc9;
