//! Console messages: formatted into a stack buffer, printed by the shim
//! with one printf(9) so that lines from several CPUs do not interleave.

use core::fmt::{self, Write};
use core::panic::PanicInfo;
use devref_sys::shim;

const LINE: usize = 256;

struct Line {
    buf: [u8; LINE],
    len: usize,
}

impl Write for Line {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for &b in s.as_bytes() {
            // Truncate rather than fail: a long line is still worth printing.
            if let Some(slot) = self.buf.get_mut(self.len) {
                *slot = b;
                self.len += 1;
            }
        }
        Ok(())
    }
}

/// Print one console line, prefixed "devref: ".
pub fn line(args: fmt::Arguments<'_>) {
    let mut l = Line {
        buf: [0; LINE],
        len: 0,
    };
    let _ = l.write_str("devref: ");
    let _ = l.write_fmt(args);
    // SAFETY: buf holds len initialised bytes; the shim copies at most len.
    unsafe { shim::devref_shim_log(l.buf.as_ptr().cast(), l.len as u64) }
}

macro_rules! console {
    ($($arg:tt)*) => { $crate::log::line(format_args!($($arg)*)) };
}
pub(crate) use console;

extern "C" {
    /// panic(9): never returns.
    #[link_name = "panic"]
    fn kernel_panic(fmt: *const core::ffi::c_char, ...) -> !;
}

pub fn panic(info: &PanicInfo<'_>) -> ! {
    use core::sync::atomic::{AtomicBool, Ordering};
    static PANICKING: AtomicBool = AtomicBool::new(false);
    // A panic while formatting the first one goes straight to panic(9).
    if !PANICKING.swap(true, Ordering::SeqCst) {
        line(format_args!("rust panic: {}", info));
    }
    // SAFETY: a constant format string with no conversions.
    unsafe { kernel_panic(c"devref: rust panic".as_ptr()) }
}
