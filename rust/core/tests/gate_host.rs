//! Unit tests of the gate's states and error paths on the Linux host
//! platform.  Every test runs on both host barrier modes: membarrier (when
//! the kernel has it) and the SeqCst-fence fallback.
#![cfg(not(loom))]

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use devref_core::gate::{DrainError, Gate, Gone, Phase, ReopenError};
use devref_host::{HostPlatform, Mode};

mod support;
use support::wait_for;

const MS: u64 = 1_000_000;
/// A watchdog timeout for drains that must complete: a lost wakeup makes
/// the test fail with TimedOut instead of hanging.
const WATCHDOG: Option<u64> = Some(30_000 * MS);

/// Run a test body (a function generic over the host mode) on the
/// membarrier platform and on the SeqCst-fence fallback.
macro_rules! both {
    ($f:ident) => {
        $f(HostPlatform::new());
        $f(HostPlatform::with_seqcst_fences());
    };
}

#[test]
fn membarrier_mode_reported() {
    let p = HostPlatform::new();
    eprintln!("host platform uses membarrier: {}", p.uses_membarrier());
    assert!(!HostPlatform::with_seqcst_fences().uses_membarrier());
}

#[test]
fn enter_leave_counts() {
    both!(enter_leave_counts_on);
}

fn enter_leave_counts_on<M: Mode>(p: HostPlatform<M>) {
    let g = Gate::new(p).expect("gate");
    assert_eq!(g.phase(), Phase::Open);
    assert!(!g.is_closed());
    assert_eq!(g.inside(), 0);
    {
        let _a = g.enter().expect("open gate admits");
        assert_eq!(g.inside(), 1);
        let _b = g.enter().expect("open gate admits");
        assert_eq!(g.inside(), 2);
    }
    assert_eq!(g.inside(), 0);
    assert_eq!(g.calls(), 2);
    assert_eq!(g.unbalanced(), 0);
}

#[test]
fn drain_with_nothing_inside_returns_at_once() {
    both!(drain_with_nothing_inside_returns_at_once_on);
}

fn drain_with_nothing_inside_returns_at_once_on<M: Mode>(p: HostPlatform<M>) {
    let g = Gate::new(p).expect("gate");
    let _ = g.enter().expect("enter");
    assert_eq!(g.close_and_drain(None), Ok(()));
    assert!(g.is_closed());
    assert_eq!(g.phase(), Phase::Drained);
    assert_eq!(g.inside(), 0);
    assert_eq!(g.enter().err(), Some(Gone));
    assert_eq!(g.enter_raw(), Err(Gone));
    // Draining a drained gate is a no-op that succeeds.
    assert_eq!(g.close_and_drain(Some(0)), Ok(()));
    // Failed entries are not calls.
    assert_eq!(g.calls(), 1);
}

#[test]
fn drain_waits_and_is_woken_by_last_leave() {
    both!(drain_waits_and_is_woken_by_last_leave_on);
}

fn drain_waits_and_is_woken_by_last_leave_on<M: Mode>(p: HostPlatform<M>) {
    let g = Gate::new(p).expect("gate");
    let left = AtomicBool::new(false);
    let (tx, rx) = mpsc::channel::<Instant>();
    let guards: Vec<_> = (0..3).map(|_| g.enter().expect("enter")).collect();
    thread::scope(|s| {
        let drainer = s.spawn(|| {
            let r = g.close_and_drain(WATCHDOG);
            let woke = Instant::now();
            // Every leave happened before the drain returned.
            assert!(
                left.load(Ordering::SeqCst),
                "drain returned before the last leave"
            );
            (r, woke)
        });
        wait_for("gate closed", || g.is_closed());
        assert_eq!(g.enter().err(), Some(Gone), "entries fail while draining");
        // Let the drainer go to sleep, then leave from this thread.
        thread::sleep(Duration::from_millis(20));
        let mut guards = guards;
        let last = guards.pop().expect("three guards");
        drop(guards);
        assert_eq!(g.inside(), 1, "exact count while closed");
        thread::sleep(Duration::from_millis(20));
        assert!(!drainer.is_finished(), "drain returned with a call inside");
        left.store(true, Ordering::SeqCst);
        tx.send(Instant::now()).expect("send");
        drop(last);
        let (r, woke) = drainer.join().expect("drainer");
        assert_eq!(r, Ok(()));
        let t = rx.recv().expect("recv");
        eprintln!(
            "drain woken {:?} after the last leave (membarrier: {})",
            woke.saturating_duration_since(t),
            g.platform().uses_membarrier()
        );
    });
    assert_eq!(g.phase(), Phase::Drained);
    assert_eq!(g.inside(), 0);
    assert_eq!(g.unbalanced(), 0);
}

#[test]
fn timeout_returns_count_leaves_closed_and_second_drain_completes() {
    both!(timeout_returns_count_leaves_closed_and_second_drain_completes_on);
}

fn timeout_returns_count_leaves_closed_and_second_drain_completes_on<M: Mode>(p: HostPlatform<M>) {
    let g = Gate::new(p).expect("gate");
    let a = g.enter().expect("enter");
    let b = g.enter().expect("enter");
    let t0 = Instant::now();
    assert_eq!(
        g.close_and_drain(Some(20 * MS)),
        Err(DrainError::TimedOut { inside: 2 })
    );
    assert!(
        t0.elapsed() >= Duration::from_millis(20),
        "waited the timeout"
    );
    assert!(g.is_closed());
    assert_eq!(g.phase(), Phase::Closed);
    assert_eq!(g.enter().err(), Some(Gone));
    assert_eq!(g.reopen(), Err(ReopenError::NotDrained { inside: 2 }));
    drop(a);
    assert_eq!(g.inside(), 1);
    // A second drain must not fold again: the slots are zero now, and a
    // refold would lose `b` and report success.
    assert_eq!(
        g.close_and_drain(Some(0)),
        Err(DrainError::TimedOut { inside: 1 })
    );
    assert_eq!(
        g.close_and_drain(Some(MS)),
        Err(DrainError::TimedOut { inside: 1 })
    );
    drop(b);
    assert_eq!(g.inside(), 0);
    // Closed with zero inside is not yet Drained: a drain must see it.
    assert_eq!(g.reopen(), Err(ReopenError::NotDrained { inside: 0 }));
    assert_eq!(g.close_and_drain(None), Ok(()));
    assert_eq!(g.phase(), Phase::Drained);
    assert_eq!(g.unbalanced(), 0);
}

#[test]
fn reopen_refused_while_open_and_works_after_drain() {
    both!(reopen_refused_while_open_and_works_after_drain_on);
}

fn reopen_refused_while_open_and_works_after_drain_on<M: Mode>(p: HostPlatform<M>) {
    let g = Gate::new(p).expect("gate");
    assert_eq!(g.reopen(), Err(ReopenError::NotClosed));
    for round in 0..5u64 {
        let guard = g.enter().expect("enter after reopen");
        assert_eq!(g.inside(), 1);
        drop(guard);
        assert_eq!(g.close_and_drain(None), Ok(()));
        assert_eq!(g.enter().err(), Some(Gone));
        assert_eq!(g.reopen(), Ok(()));
        assert_eq!(g.phase(), Phase::Open);
        assert!(!g.is_closed());
        assert_eq!(g.inside(), 0);
        assert_eq!(g.calls(), round + 1);
    }
    // After a reopen the counts start from zero: a closed gate's exact
    // count is only the calls of this open period.
    let guard = g.enter().expect("enter");
    assert_eq!(
        g.close_and_drain(Some(0)),
        Err(DrainError::TimedOut { inside: 1 })
    );
    drop(guard);
    assert_eq!(g.close_and_drain(None), Ok(()));
}

#[test]
fn interrupted_drain_pending_signal() {
    both!(interrupted_drain_pending_signal_on);
}

fn interrupted_drain_pending_signal_on<M: Mode>(p: HostPlatform<M>) {
    let g = Gate::new(p.clone()).expect("gate");
    let guard = g.enter().expect("enter");
    p.interrupt();
    assert_eq!(
        g.close_and_drain(None),
        Err(DrainError::Interrupted { inside: 1 })
    );
    assert!(g.is_closed());
    assert_eq!(g.phase(), Phase::Closed);
    assert_eq!(g.enter().err(), Some(Gone));
    // The signal was consumed.
    assert_eq!(
        g.close_and_drain(Some(0)),
        Err(DrainError::TimedOut { inside: 1 })
    );
    // A pending signal does not beat a true condition.
    drop(guard);
    p.interrupt();
    assert_eq!(g.close_and_drain(None), Ok(()));
    p.clear_interrupt();
}

#[test]
fn interrupted_drain_while_sleeping() {
    both!(interrupted_drain_while_sleeping_on);
}

fn interrupted_drain_while_sleeping_on<M: Mode>(p: HostPlatform<M>) {
    let g = Gate::new(p.clone()).expect("gate");
    let guard = g.enter().expect("enter");
    thread::scope(|s| {
        let drainer = s.spawn(|| g.close_and_drain(WATCHDOG));
        wait_for("gate closed", || g.is_closed());
        thread::sleep(Duration::from_millis(20));
        p.interrupt();
        assert_eq!(
            drainer.join().expect("drainer"),
            Err(DrainError::Interrupted { inside: 1 })
        );
    });
    assert_eq!(g.phase(), Phase::Closed);
    drop(guard);
    assert_eq!(g.close_and_drain(None), Ok(()));
    assert_eq!(g.reopen(), Ok(()));
}

#[test]
fn guard_left_on_another_thread() {
    both!(guard_left_on_another_thread_on);
}

fn guard_left_on_another_thread_on<M: Mode>(p: HostPlatform<M>) {
    let g = Gate::new(p).expect("gate");
    // Open: the entry's slot goes +1, the leaver's slot -1.
    let guard = g.enter().expect("enter");
    thread::scope(|s| {
        s.spawn(move || drop(guard)).join().expect("leaver");
    });
    assert_eq!(g.inside(), 0);
    // Closed between enter and leave: the leave takes the slow path on
    // the other thread and wakes the drainer.
    let guard = g.enter().expect("enter");
    thread::scope(|s| {
        let drainer = s.spawn(|| g.close_and_drain(WATCHDOG));
        wait_for("gate closed", || g.is_closed());
        assert_eq!(g.inside(), 1);
        s.spawn(move || drop(guard)).join().expect("leaver");
        assert_eq!(drainer.join().expect("drainer"), Ok(()));
    });
    assert_eq!(g.reopen(), Ok(()));
    // Several threads enter, all guards leave on one other thread.
    let (tx, rx) = mpsc::channel();
    thread::scope(|s| {
        for _ in 0..4 {
            let tx = tx.clone();
            let g = &g;
            s.spawn(move || {
                for _ in 0..100 {
                    tx.send(g.enter().expect("enter")).expect("send");
                }
            });
        }
        drop(tx);
        s.spawn(move || {
            for guard in rx {
                drop(guard);
            }
        });
    });
    assert_eq!(g.inside(), 0);
    assert_eq!(g.close_and_drain(Some(0)), Ok(()));
    assert_eq!(g.calls(), 402);
    assert_eq!(g.unbalanced(), 0);
}

#[test]
fn raw_enter_leave() {
    both!(raw_enter_leave_on);
}

fn raw_enter_leave_on<M: Mode>(p: HostPlatform<M>) {
    let g = Gate::new(p).expect("gate");
    assert_eq!(g.enter_raw(), Ok(()));
    g.enter().expect("enter").into_raw();
    assert_eq!(g.inside(), 2);
    g.close();
    assert!(g.is_closed());
    assert_eq!(
        g.close_and_drain(Some(0)),
        Err(DrainError::TimedOut { inside: 2 })
    );
    // SAFETY: matches the enter_raw above.
    unsafe { g.leave_raw() };
    // SAFETY: matches the into_raw above.
    unsafe { g.leave_raw() };
    assert_eq!(g.close_and_drain(Some(0)), Ok(()));
    assert_eq!(g.unbalanced(), 0);
}

#[test]
fn unbalanced_leave_is_counted_not_fatal() {
    both!(unbalanced_leave_is_counted_not_fatal_on);
}

fn unbalanced_leave_is_counted_not_fatal_on<M: Mode>(p: HostPlatform<M>) {
    let g = Gate::new(p).expect("gate");
    g.close();
    // SAFETY: deliberately unmatched, on a gate with nothing inside and
    // no other user: it only exercises the misuse counter.
    unsafe { g.leave_raw() };
    assert_eq!(g.unbalanced(), 1);
    assert_eq!(g.inside(), 0);
    assert_eq!(g.close_and_drain(Some(0)), Ok(()));
}

#[test]
fn concurrent_drainers_all_complete() {
    both!(concurrent_drainers_all_complete_on);
}

fn concurrent_drainers_all_complete_on<M: Mode>(p: HostPlatform<M>) {
    let g = Gate::new(p).expect("gate");
    let guard = g.enter().expect("enter");
    thread::scope(|s| {
        let ds: Vec<_> = (0..3)
            .map(|_| s.spawn(|| g.close_and_drain(WATCHDOG)))
            .collect();
        wait_for("gate closed", || g.is_closed());
        thread::sleep(Duration::from_millis(10));
        drop(guard);
        for d in ds {
            assert_eq!(d.join().expect("drainer"), Ok(()));
        }
    });
    assert_eq!(g.phase(), Phase::Drained);
}

#[test]
fn many_threads_then_drain() {
    both!(many_threads_then_drain_on);
}

fn many_threads_then_drain_on<M: Mode>(p: HostPlatform<M>) {
    let g = Gate::new(p).expect("gate");
    thread::scope(|s| {
        for _ in 0..8 {
            s.spawn(|| {
                for _ in 0..10_000 {
                    let _x = g.enter().expect("open");
                }
            });
        }
    });
    assert_eq!(g.inside(), 0);
    assert_eq!(g.calls(), 80_000);
    assert_eq!(g.close_and_drain(Some(0)), Ok(()));
}
