//! The host's per-thread slots across a thread's life: a guard dropped by
//! a thread-local destructor, counts of exited threads, and gate indices
//! reused without resetting their cells.

use std::cell::RefCell;
use std::thread;

use devref_core::gate::{Gate, GateGuard};
use devref_host::HostPlatform;

thread_local! {
    /// A guard that only this thread-local's destructor drops (at thread
    /// exit, possibly after other thread-locals are gone).
    static HELD: RefCell<Option<GateGuard<'static, HostPlatform>>> =
        const { RefCell::new(None) };
}

/// A thread-local destructor that leaves a gate must neither abort the
/// process nor lose the leave.
#[test]
fn guard_dropped_by_a_thread_local_destructor() {
    let gate: &'static Gate<HostPlatform> =
        Box::leak(Box::new(Gate::new(HostPlatform::new()).expect("gate")));
    thread::spawn(move || {
        let g = gate.enter().expect("enter");
        HELD.with(|h| *h.borrow_mut() = Some(g));
    })
    .join()
    .expect("thread exits cleanly");
    assert_eq!(gate.inside(), 0);
    assert_eq!(gate.calls(), 1);
    assert_eq!(gate.close_and_drain(Some(0)), Ok(()));
    assert_eq!(gate.unbalanced(), 0);
}

/// A call entered by a thread that then exits is still counted (its cells
/// were folded into the central count), and the drain waits for it.
#[test]
fn counts_of_exited_threads_survive() {
    let gate = Gate::new(HostPlatform::new()).expect("gate");
    thread::scope(|s| {
        let g = s
            .spawn(|| gate.enter().expect("enter"))
            .join()
            .expect("enterer");
        assert_eq!(gate.inside(), 1);
        assert!(gate.close_and_drain(Some(0)).is_err(), "a call is inside");
        s.spawn(move || drop(g)).join().expect("leaver");
    });
    assert_eq!(gate.close_and_drain(Some(0)), Ok(()));
    assert_eq!(gate.calls(), 1);
}

/// A gate whose cells are nonzero on some threads (+1 here, −1 there) is
/// dropped; the next gate reuses its index and must still start at zero.
#[test]
fn reused_index_starts_at_zero() {
    for _ in 0..4 {
        let gate = Gate::new(HostPlatform::new()).expect("gate");
        let g = gate.enter().expect("enter");
        thread::scope(|s| {
            s.spawn(move || drop(g)).join().expect("leaver");
        });
        assert_eq!(gate.inside(), 0);
        drop(gate);
        let next = Gate::new(HostPlatform::new()).expect("gate");
        assert_eq!(next.inside(), 0);
        assert_eq!(next.calls(), 0);
        assert_eq!(next.close_and_drain(Some(0)), Ok(()));
    }
}
