//! loom model of the gate protocol.
//!
//! Run: `RUSTFLAGS="--cfg loom" cargo test -p devref-core --release --test loom_gate`
//! (LOOM_MAX_PREEMPTIONS overrides the default bound of 3 used here).
//!
//! The loom platform has one slot per loom thread (an explicit index in a
//! loom thread-local).  Its barrier is `fence(SeqCst)` followed by acquire
//! loads of every `in_entry` until false, and its entry fence is
//! `fence(SeqCst)`: the pair stands for the barrier-imposed ordering of the
//! kernel (an IPI lands between two instructions of the section) and of
//! membarrier.  Fences, not SeqCst accesses: loom models SeqCst loads and
//! stores as AcqRel (loom issue 180), but SeqCst fences faithfully.
//!
//! Every scenario checks: no call is inside after a drain returned Ok (a
//! per-call "inside" flag, relaxed, so the flag itself adds no
//! synchronisation), entries fail while drained, the drain always completes
//! (loom reports a deadlock if a wakeup is lost), reopen works and the
//! counts stay balanced.  The broken platforms (no barrier fence; no entry
//! fence) must make the model fail: proof that the model can fail.
#![cfg(loom)]

use std::cell::Cell;
use std::panic::{catch_unwind, AssertUnwindSafe};

use devref_core::gate::{DrainError, Gate, Phase};
use devref_core::platform::{Platform, Slot, WaitOutcome};
use loom::sync::atomic::{fence, AtomicBool, Ordering};
use loom::sync::{Arc, Condvar, Mutex};
use loom::thread;

loom::thread_local! {
    static SLOT_INDEX: Cell<usize> = Cell::new(0);
}

/// Give the current loom thread its slot.
fn set_slot(i: usize) {
    SLOT_INDEX.with(|s| s.set(i));
}

const NSLOTS: usize = 4;

#[derive(Clone, Copy, Debug)]
struct LoomPlatform {
    /// The barrier's fence(SeqCst) (broken variant: off).
    barrier_fence: bool,
    /// The barrier's wait for every in_entry to read false (broken: off).
    barrier_waits: bool,
    /// The fast path's fence(SeqCst) (broken variant: off).
    entry_fence: bool,
}

const GOOD: LoomPlatform = LoomPlatform {
    barrier_fence: true,
    barrier_waits: true,
    entry_fence: true,
};

struct LoomLock<T> {
    m: Mutex<T>,
    cv: Condvar,
}

// SAFETY: slots are per loom thread (explicit index); the fences are real
// SeqCst fences in the model (unless deliberately broken by a test that
// expects the model to fail); the lock is loom's Mutex + Condvar.
unsafe impl Platform for LoomPlatform {
    type Slots = Vec<Slot>;
    type Lock<T: Send> = LoomLock<T>;

    fn slots_new(&self) -> Option<Vec<Slot>> {
        Some((0..NSLOTS).map(|_| Slot::new()).collect())
    }

    fn pin<'a>(&self, slots: &'a Vec<Slot>) -> &'a Slot {
        let i = SLOT_INDEX.with(|s| s.get());
        slots.get(i).expect("slot index")
    }

    fn unpin(&self) {}

    fn entry_fence(&self) {
        if self.entry_fence {
            fence(Ordering::SeqCst);
        }
    }

    fn barrier(&self, slots: &Vec<Slot>) {
        if self.barrier_fence {
            fence(Ordering::SeqCst);
        }
        if !self.barrier_waits {
            return;
        }
        for s in slots {
            while s.in_entry.load(Ordering::Acquire) {
                thread::yield_now();
            }
        }
    }

    fn for_each_slot(&self, slots: &Vec<Slot>, f: &mut dyn FnMut(&Slot)) {
        for s in slots {
            f(s);
        }
    }

    fn lock_new<T: Send>(&self, _name: &'static str, v: T) -> Option<LoomLock<T>> {
        Some(LoomLock {
            m: Mutex::new(v),
            cv: Condvar::new(),
        })
    }

    fn with_lock<T: Send, R>(&self, l: &LoomLock<T>, f: impl FnOnce(&mut T) -> R) -> R {
        let mut g = l.m.lock().expect("lock");
        f(&mut g)
    }

    /// A deadline is modelled as already expired: a drain with a timeout
    /// checks once and times out unless done (the worst case for the
    /// "later drain finishes the job" path).
    fn wait_until<T: Send>(
        &self,
        l: &LoomLock<T>,
        deadline_ns: Option<u64>,
        done: &mut dyn FnMut(&mut T) -> bool,
    ) -> WaitOutcome {
        let mut g = l.m.lock().expect("lock");
        loop {
            if done(&mut g) {
                return WaitOutcome::Done;
            }
            if deadline_ns.is_some() {
                return WaitOutcome::TimedOut;
            }
            g = l.cv.wait(g).expect("wait");
        }
    }

    fn notify_all<T: Send>(&self, l: &LoomLock<T>) {
        l.cv.notify_all();
    }

    fn now_ns(&self) -> u64 {
        0
    }
}

fn model(f: impl Fn() + Sync + Send + 'static) {
    let mut b = loom::model::Builder::new();
    if b.preemption_bound.is_none() {
        b.preemption_bound = Some(3);
    }
    b.check(f);
}

/// One call: enter, mark inside, unmark, leave.
fn call(gate: &Gate<LoomPlatform>, inside: &AtomicBool) -> bool {
    match gate.enter() {
        Ok(g) => {
            inside.store(true, Ordering::Relaxed);
            inside.store(false, Ordering::Relaxed);
            drop(g);
            true
        }
        Err(_) => false,
    }
}

/// Two callers race a close_and_drain; after the drain nobody is inside
/// and entries fail; then reopen and a final balanced drain.
fn scenario_enter_vs_drain(p: LoomPlatform) {
    model(move || {
        let gate = Arc::new(Gate::new(p).expect("gate"));
        let inside = Arc::new([AtomicBool::new(false), AtomicBool::new(false)]);
        let hs: Vec<_> = (0..2)
            .map(|i| {
                let gate = gate.clone();
                let inside = inside.clone();
                thread::spawn(move || {
                    set_slot(i + 1);
                    call(&gate, &inside[i])
                })
            })
            .collect();
        set_slot(0);
        assert_eq!(gate.close_and_drain(None), Ok(()));
        for f in inside.iter() {
            assert!(
                !f.load(Ordering::Relaxed),
                "a call is inside after the drain"
            );
        }
        assert!(gate.enter().is_err(), "entry succeeded on a drained gate");
        assert_eq!(gate.reopen(), Ok(()));
        for h in hs {
            h.join().expect("caller");
        }
        assert_eq!(gate.unbalanced(), 0, "unbalanced leave: a count was lost");
        assert_eq!(gate.inside(), 0);
        assert_eq!(gate.close_and_drain(Some(0)), Ok(()));
    });
}

#[test]
fn enter_vs_drain() {
    scenario_enter_vs_drain(GOOD);
}

/// Entries after a reopen must see the zeroed slots (the acquire on the
/// closing flag): one caller calls twice around a close/drain/reopen; the
/// final count must balance.
#[test]
fn calls_across_reopen() {
    model(|| {
        let gate = Arc::new(Gate::new(GOOD).expect("gate"));
        let inside = Arc::new(AtomicBool::new(false));
        let h = {
            let gate = gate.clone();
            let inside = inside.clone();
            thread::spawn(move || {
                set_slot(1);
                call(&gate, &inside);
                call(&gate, &inside);
            })
        };
        set_slot(0);
        assert_eq!(gate.close_and_drain(None), Ok(()));
        assert!(
            !inside.load(Ordering::Relaxed),
            "a call is inside after the drain"
        );
        assert_eq!(gate.reopen(), Ok(()));
        h.join().expect("caller");
        assert_eq!(gate.close_and_drain(Some(0)), Ok(()));
        assert_eq!(gate.unbalanced(), 0);
    });
}

/// A call enters on one thread and leaves on another (the guard moved),
/// racing a drain that first times out and then finishes the job.
#[test]
fn moved_guard_and_second_drain() {
    model(|| {
        let gate = Arc::new(Gate::new(GOOD).expect("gate"));
        let inside = Arc::new(AtomicBool::new(false));
        let enterer = {
            let gate = gate.clone();
            let inside = inside.clone();
            thread::spawn(move || {
                set_slot(1);
                let ok = gate.enter_raw().is_ok();
                if ok {
                    inside.store(true, Ordering::Relaxed);
                }
                ok
            })
        };
        // The leaver takes the call over after joining the enterer (so it
        // leaves on another slot than the one the call entered on).
        let leaver = {
            let gate = gate.clone();
            let inside = inside.clone();
            thread::spawn(move || {
                set_slot(2);
                if enterer.join().expect("enterer") {
                    inside.store(false, Ordering::Relaxed);
                    // SAFETY: matches the enterer's successful enter_raw.
                    unsafe { gate.leave_raw() };
                }
            })
        };
        set_slot(0);
        match gate.close_and_drain(Some(0)) {
            Ok(()) => {}
            Err(DrainError::TimedOut { inside: n }) => {
                assert_eq!(n, 1);
                assert_eq!(gate.phase(), Phase::Closed);
                assert!(gate.enter().is_err());
                assert_eq!(gate.close_and_drain(None), Ok(()));
            }
            Err(e) => panic!("unexpected {e:?}"),
        }
        assert!(
            !inside.load(Ordering::Relaxed),
            "a call is inside after the drain"
        );
        leaver.join().expect("leaver");
        assert_eq!(gate.unbalanced(), 0);
        assert_eq!(gate.inside(), 0);
    });
}

/// Two drainers and a caller: both drains complete (no lost wakeup); the
/// first to finish reopens, so the other sees Ok or Reopened.
#[test]
fn two_drainers_and_reopen() {
    model(|| {
        let gate = Arc::new(Gate::new(GOOD).expect("gate"));
        let inside = Arc::new(AtomicBool::new(false));
        let caller = {
            let gate = gate.clone();
            let inside = inside.clone();
            thread::spawn(move || {
                set_slot(1);
                call(&gate, &inside);
            })
        };
        let drainer = {
            let gate = gate.clone();
            thread::spawn(move || {
                set_slot(2);
                // No inside-flag check here: the main thread may reopen the
                // gate (and the caller enter) as soon as this drain's
                // condition was seen true under the lock.
                match gate.close_and_drain(None) {
                    Ok(()) | Err(DrainError::Reopened) => {}
                    Err(e) => panic!("unexpected {e:?}"),
                }
            })
        };
        set_slot(0);
        assert_eq!(gate.close_and_drain(None), Ok(()));
        assert!(
            !inside.load(Ordering::Relaxed),
            "a call is inside after the drain"
        );
        assert_eq!(gate.reopen(), Ok(()));
        caller.join().expect("caller");
        drainer.join().expect("drainer");
        assert_eq!(gate.unbalanced(), 0);
    });
}

/// The model must be able to fail: run it on a broken platform and expect
/// loom to find the store-buffering hole.
fn expect_model_failure(p: LoomPlatform) {
    let r = catch_unwind(AssertUnwindSafe(|| scenario_enter_vs_drain(p)));
    let payload = match r {
        Ok(()) => panic!("loom accepted a broken platform {p:?}: the model cannot see the bug"),
        Err(e) => e,
    };
    // It must fail on one of the protocol's own assertions, or because a
    // lost count left the drain waiting forever (loom: "deadlock"), not on a
    // loom limit (max branches, ...).
    let msg = payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default();
    assert!(
        [
            "inside after the drain",
            "a count was lost",
            "entry succeeded on a drained gate",
            "deadlock",
        ]
        .iter()
        .any(|m| msg.contains(m)),
        "broken platform {p:?} failed for another reason: {msg}"
    );
    eprintln!("loom caught the broken platform {p:?}: {msg}");
}

#[test]
fn broken_barrier_without_fence_is_caught() {
    expect_model_failure(LoomPlatform {
        barrier_fence: false,
        ..GOOD
    });
}

#[test]
fn broken_entry_without_fence_is_caught() {
    expect_model_failure(LoomPlatform {
        entry_fence: false,
        ..GOOD
    });
}

#[test]
fn broken_barrier_not_waiting_for_sections_is_caught() {
    expect_model_failure(LoomPlatform {
        barrier_waits: false,
        ..GOOD
    });
}
