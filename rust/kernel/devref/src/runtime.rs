//! What a Rust client module needs from a runtime: an allocator and a panic
//! handler.  Both lean on devref.ko, so the client needs no C for them.

use core::alloc::{GlobalAlloc, Layout};
use devref_sys::kpi;

struct DevrefAlloc;

// SAFETY: devref_malloc returns zeroed memory of at least `size` bytes
// aligned to `align` (NULL if align exceeds a page); devref_free takes it back.
unsafe impl GlobalAlloc for DevrefAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: plain call; any size is valid.
        unsafe { kpi::devref_malloc(layout.size() as _, layout.align() as _).cast() }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, _layout: Layout) {
        // SAFETY: ptr came from alloc above.
        unsafe { kpi::devref_free(ptr.cast()) }
    }
}

#[global_allocator]
static ALLOCATOR: DevrefAlloc = DevrefAlloc;

extern "C" {
    #[link_name = "panic"]
    fn kernel_panic(fmt: *const core::ffi::c_char, ...) -> !;
}

/// A panic in a client is a bug in the client: stop the machine.
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo<'_>) -> ! {
    // SAFETY: constant format string without conversions.
    unsafe { kernel_panic(c"devref client: rust panic".as_ptr()) }
}
