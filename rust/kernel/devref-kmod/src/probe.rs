//! Disassembly probes: the gate's fast path exactly as devref.ko runs it.
//!
//! `Gate::<FreeBsd>::enter_raw` / `leave_raw` are the generic code every
//! dispatch path inlines; these two functions wrap nothing else, so that a
//! checker (and a reader) can disassemble the fast path out of the linked
//! module: `llvm-objdump -d --disassemble-symbols=devref_gate_probe_enter,
//! devref_gate_probe_leave devref.ko`.  The open-gate path must be two loads
//! of the closing flag and `%gs`-relative adds, with no call and no `lock`
//! prefix; calls appear only on the cold branches (a refused entry's undo,
//! a leave's wakeup while closing).  devref never calls them.

use core::ffi::{c_int, c_void};

use devref_core::gate::Gate;

use crate::platform::FreeBsd;

/// Enter the gate at `gate`: 1 if admitted (the caller owes one
/// [`devref_gate_probe_leave`]), 0 if it is closed.
///
/// # Safety
///
/// `gate` must point to a live `Gate<FreeBsd>`.
#[no_mangle]
#[inline(never)]
pub unsafe extern "C" fn devref_gate_probe_enter(gate: *const c_void) -> c_int {
    // SAFETY: the caller passes a live Gate<FreeBsd>.
    let gate = unsafe { &*gate.cast::<Gate<FreeBsd>>() };
    c_int::from(gate.enter_raw().is_ok())
}

/// Leave the gate at `gate`.
///
/// # Safety
///
/// `gate` must point to a live `Gate<FreeBsd>` entered with
/// [`devref_gate_probe_enter`] (or `enter_raw`) and not left yet.
#[no_mangle]
#[inline(never)]
pub unsafe extern "C" fn devref_gate_probe_leave(gate: *const c_void) {
    // SAFETY: the caller passes a live gate it entered.
    let gate = unsafe { &*gate.cast::<Gate<FreeBsd>>() };
    // SAFETY: matches the caller's successful enter.
    unsafe { gate.leave_raw() }
}
