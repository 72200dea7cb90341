//! sysctl kern.devref.devices and kern.devref.clients: text reports.

use alloc::string::String;
use core::ffi::{c_char, c_int, c_ulong};
use core::fmt::Write;

use devref_core::dev::ClientOps;
use devref_sys::shim;

use crate::state;

#[no_mangle]
pub extern "C" fn devref_rs_report(which: c_int, lenp: *mut c_ulong) -> *mut c_char {
    let mut s = String::new();
    if let Some(d) = state::get() {
        if which as u32 == shim::DEVREF_REPORT_REGIONS {
            let p = d.pager();
            let mut regions = 0;
            let mut pages = 0;
            let mut revocations = 0;
            let mut freed = 0;
            d.for_each_node(|n| {
                let r = n.regions;
                regions += r.regions;
                pages += r.pages_held;
                revocations = r.revocations;
                freed = r.freed;
            });
            let _ = writeln!(
                s,
                "regions {} pages_held {} graveyard {} objects_alive {} revocations {} pages_freed {}",
                regions,
                pages,
                p.graveyard_len(),
                p.objects_alive(),
                revocations,
                freed
            );
        } else if which as u32 == shim::DEVREF_REPORT_CLIENTS {
            let now = d.kernel_now_ns();
            d.for_each_client(|rec, c| {
                let _ = writeln!(
                    s,
                    "{} {} {} {}",
                    c.id,
                    rec.ops.name(),
                    c.devices,
                    now.saturating_sub(c.since_ns) / 1_000_000_000
                );
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

#[no_mangle]
pub extern "C" fn devref_rs_node_stat(node: *mut core::ffi::c_void, which: c_int) -> c_ulong {
    // SAFETY: the sysctl oid's arg1 is a node that outlives its oids.
    let Some(n) = (unsafe { node.cast::<crate::state::NodeK>().as_ref() }) else {
        return 0;
    };
    let s = n.stats();
    let v: u64 = match which as u32 {
        shim::DEVREF_STAT_MODE => u64::from(n.mode() == devref_core::dev::Mode::Counted),
        shim::DEVREF_STAT_CALLS => s.calls,
        shim::DEVREF_STAT_INSIDE => s.inside as u64,
        shim::DEVREF_STAT_DRAINS => s.drains,
        shim::DEVREF_STAT_FAILED_DRAINS => s.failed_drains,
        shim::DEVREF_STAT_LAST_DRAIN_US => s.last_drain_ns / 1000,
        shim::DEVREF_STAT_INCARNATION => s.incarnation,
        shim::DEVREF_STAT_OPEN_FILES => s.open_files as u64,
        shim::DEVREF_STAT_ALIVE => u64::from(s.alive),
        shim::DEVREF_STAT_REGIONS => n.region_stats().regions as u64,
        shim::DEVREF_STAT_PAGES_HELD => n.region_stats().pages_held as u64,
        _ => 0,
    };
    v as c_ulong
}
