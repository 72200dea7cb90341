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

extern "C" {
    /// printf(9).
    fn printf(fmt: *const core::ffi::c_char, ...) -> core::ffi::c_int;
}

/// Print one console line (at most 255 bytes; longer is cut).
pub fn console(args: core::fmt::Arguments<'_>) {
    use core::fmt::Write;
    struct Line {
        buf: [u8; 256],
        len: usize,
    }
    impl Write for Line {
        fn write_str(&mut self, s: &str) -> core::fmt::Result {
            for &b in s.as_bytes() {
                if let Some(slot) = self.buf.get_mut(self.len) {
                    *slot = b;
                    self.len += 1;
                }
            }
            Ok(())
        }
    }
    let mut l = Line {
        buf: [0; 256],
        len: 0,
    };
    let _ = l.write_fmt(args);
    // SAFETY: "%.*s\n" reads exactly len bytes of buf.
    unsafe {
        printf(
            c"%.*s\n".as_ptr(),
            l.len as core::ffi::c_int,
            l.buf.as_ptr(),
        )
    };
}

/// `console!("...", args)`: a console line from a client module.
#[macro_export]
macro_rules! console {
    ($($arg:tt)*) => { $crate::console(format_args!($($arg)*)) };
}
