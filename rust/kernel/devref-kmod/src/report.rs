//! sysctl kern.devref.devices and kern.devref.clients: text reports.

use alloc::string::String;
use core::ffi::{c_char, c_int, c_ulong};
use core::fmt::Write;

use devref_sys::shim;

use crate::state;

#[no_mangle]
pub extern "C" fn devref_rs_report(which: c_int, lenp: *mut c_ulong) -> *mut c_char {
    let mut s = String::new();
    if let Some(d) = state::get() {
        if which as u32 == shim::DEVREF_REPORT_CLIENTS {
            let now = d.kernel_now_ns();
            d.for_each_client(|c| {
                let _ = writeln!(s, "{} {} {}", c.id, c.devices, now.saturating_sub(c.since_ns) / 1_000_000_000);
            });
        } else {
            d.for_each_node(|n| {
                let st = &n.stats;
                let _ = writeln!(
                    s,
                    "{} {} {} {} {} {} {} {} {} {}",
                    n.name,
                    n.mode.as_str(),
                    n.client.map_or(0, |c| c),
                    if st.alive { "alive" } else { "dead" },
                    st.incarnation,
                    st.calls,
                    st.inside,
                    st.drains,
                    st.last_drain_ns / 1000,
                    st.open_files
                );
            });
        }
    }
    s.push('\0');
    let len = s.len() - 1;
    if !lenp.is_null() {
        // SAFETY: the shim passes a valid pointer.
        unsafe { *lenp = len as c_ulong };
    }
    // Freed by the shim with free(9), which is what our allocator is.
    alloc::boxed::Box::into_raw(s.into_bytes().into_boxed_slice()).cast()
}
