//! loom models of the gate protocol (v2), and the broken variants loom must
//! reject.
//!
//! Run: `RUSTFLAGS="--cfg loom" cargo test -p devref-core --release --test
//! loom_gate` (the preemption bound is set below; LOOM_MAX_PREEMPTIONS
//! overrides it).
//!
//! **The platform.**  A CPU is a loom `Mutex`.  Every fast-path instruction
//! (each load of the closing flag, each add to a slot) takes the lock of the
//! CPU its thread is on *for that instruction*, alone; the add is a relaxed
//! load and a store inside it, indivisible on its CPU as one instruction is.
//! Each thread follows a CPU schedule (the CPU of each successive
//! instruction, cycled), so a thread can migrate between any two
//! instructions and several threads share CPUs.  The barrier is the drainer
//! taking each CPU's lock once (the IPI): the lock hand-over gives exactly
//! (B1)/(B2) of docs/design.md section 3 in the C11 model.
//!
//! Every model checks: no call is inside after a drain returned Ok (a
//! per-call flag, and the call's data, a loom `UnsafeCell` that the drainer
//! reads: loom reports any access not ordered by the protocol), entries fail
//! while drained, every drain completes (loom reports a deadlock if a
//! wakeup is lost), and the counts balance.
#![cfg(loom)]

use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};

use devref_core::gate::{DrainError, Gate, Phase};
use devref_core::platform::{AddOrder, Field, Mutant, Platform, Slot, WaitOutcome};
use loom::cell::UnsafeCell;
use loom::sync::atomic::{AtomicBool, Ordering};
use loom::sync::{Arc, Condvar, Mutex};
use loom::thread;

const NCPUS: usize = 2;

/// CPU schedules by loom thread: the CPU of each successive fast-path
/// instruction (cycled) and how far the thread got.  A plain std mutex: loom
/// runs one thread at a time, and this is per-thread bookkeeping, not part
/// of the model (a loom thread-local would do, but its destructors panic
/// when loom unwinds a deadlocked execution).
type Schedules = std::sync::Mutex<HashMap<thread::ThreadId, (Vec<usize>, usize)>>;

/// The CPU of the current thread's next fast-path instruction (CPU 0 for a
/// thread without a schedule).
fn next_cpu(s: &Schedules) -> usize {
    let mut s = s.lock().expect("schedules");
    let (cpus, at) = s
        .entry(thread::current().id())
        .or_insert_with(|| (vec![0], 0));
    let cpu = cpus[*at % cpus.len()];
    *at += 1;
    cpu
}

// Broken platforms (the `B` parameter).
/// The platform as designed.
const OK: u8 = 0;
/// No barrier at all.
const NO_BARRIER: u8 = 1;
/// The add as two instructions: a load, then (maybe after another thread
/// ran on the same CPU) a store.
const SPLIT_ADD: u8 = 2;
/// Relaxed counts: the leave's −1 and the sum's loads without ordering.
const RELAXED_COUNTS: u8 = 3;

/// Broken gates (the `G` parameter), mapped to the core's [`Mutant`].
const fn mutant_of(g: u8) -> Mutant {
    match g {
        1 => Mutant::NoResum,
        2 => Mutant::RelaxedClosing,
        3 => Mutant::UndoOutsideLock,
        4 => Mutant::SumOutsideLock,
        5 => Mutant::LeaveNoWake,
        6 => Mutant::ReopenNoWake,
        _ => Mutant::None,
    }
}

/// The loom platform, broken as `B` says, asking for the gate mutant `G`.
struct LoomPlatform<const B: u8, const G: u8> {
    cpus: Vec<Mutex<()>>,
    sched: Schedules,
}

type Good = LoomPlatform<OK, 0>;

struct LoomLock<T> {
    m: Mutex<T>,
    cv: Condvar,
}

/// A platform the scenarios can make.
trait Make: Platform + Sized {
    fn make() -> Self;
    fn on_cpus(&self, cpus: &[usize]);
}

impl<const B: u8, const G: u8> Make for LoomPlatform<B, G> {
    /// Give the current loom thread its CPU schedule.
    fn on_cpus(&self, cpus: &[usize]) {
        self.sched
            .lock()
            .expect("schedules")
            .insert(thread::current().id(), (cpus.to_vec(), 0));
    }

    fn make() -> Self {
        LoomPlatform {
            cpus: (0..NCPUS).map(|_| Mutex::new(())).collect(),
            sched: Schedules::default(),
        }
    }
}

fn read(s: &Slot, field: Field) -> i64 {
    match field {
        Field::Count => s.count.load(Ordering::Relaxed),
        Field::Enters => s.enters.load(Ordering::Relaxed) as i64,
    }
}

fn write(s: &Slot, field: Field, v: i64, order: Ordering) {
    match field {
        Field::Count => s.count.store(v, order),
        Field::Enters => s.enters.store(v as u64, order),
    }
}

// SAFETY: a model, not a kernel: slot_add is indivisible under the CPU's
// lock (unless deliberately broken), the barrier takes every CPU's lock
// once, the lock is loom's Mutex + Condvar.
unsafe impl<const B: u8, const G: u8> Platform for LoomPlatform<B, G> {
    type Slots = Vec<Slot>;
    type Lock<T: Send> = LoomLock<T>;
    const MUTANT: Mutant = mutant_of(G);

    fn slots_new(&self) -> Option<Vec<Slot>> {
        Some((0..NCPUS).map(|_| Slot::new()).collect())
    }

    fn slot_add(&self, slots: &Vec<Slot>, field: Field, delta: i64, order: AddOrder) {
        let order = match order {
            AddOrder::Release if B != RELAXED_COUNTS => Ordering::Release,
            _ => Ordering::Relaxed,
        };
        let cpu = next_cpu(&self.sched);
        let slot = &slots[cpu];
        if B == SPLIT_ADD {
            let v = {
                let _on = self.cpus[cpu].lock().expect("cpu");
                read(slot, field)
            };
            let _on = self.cpus[cpu].lock().expect("cpu");
            write(slot, field, v.wrapping_add(delta), order);
            return;
        }
        let _on = self.cpus[cpu].lock().expect("cpu");
        write(slot, field, read(slot, field).wrapping_add(delta), order);
    }

    fn step<R>(&self, f: impl FnOnce() -> R) -> R {
        let _on = self.cpus[next_cpu(&self.sched)].lock().expect("cpu");
        f()
    }

    fn barrier(&self, _slots: &Vec<Slot>) {
        if B == NO_BARRIER {
            return;
        }
        for c in &self.cpus {
            drop(c.lock().expect("cpu"));
        }
    }

    fn for_each_slot(&self, slots: &Vec<Slot>, f: &mut dyn FnMut(i64, u64)) {
        let order = if B == RELAXED_COUNTS {
            Ordering::Relaxed
        } else {
            Ordering::Acquire
        };
        for s in slots {
            f(s.count.load(order), s.enters.load(Ordering::Relaxed));
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

/// Run a model with a preemption bound (default 2; LOOM_MAX_PREEMPTIONS
/// overrides).
fn model_with(bound: usize, f: impl Fn() + Sync + Send + 'static) {
    let mut b = loom::model::Builder::new();
    if b.preemption_bound.is_none() {
        b.preemption_bound = Some(bound);
    }
    b.max_branches = 100_000;
    b.check(f);
}

fn model(f: impl Fn() + Sync + Send + 'static) {
    model_with(3, f);
}

/// A call's trace: "inside" while in the driver, and the driver's data,
/// written inside the call and read by the drainer after a drain.
struct Trace {
    inside: AtomicBool,
    data: UnsafeCell<u64>,
}

// SAFETY: `data` is a loom UnsafeCell: loom checks every access to it.
unsafe impl Sync for Trace {}

impl Trace {
    fn new() -> Self {
        Trace {
            inside: AtomicBool::new(false),
            data: UnsafeCell::new(0),
        }
    }

    /// After a completed drain: nobody inside, and the data readable
    /// (loom flags the read if a call's write is not ordered before it).
    fn check_out(&self) {
        assert!(
            !self.inside.load(Ordering::Relaxed),
            "a call is inside after the drain"
        );
        // SAFETY: loom checks the access.
        self.data.with(|p| unsafe { std::ptr::read(p) });
    }
}

/// One call: enter, mark inside, touch the data, unmark, leave.
fn call<P: Platform>(gate: &Gate<P>, t: &Trace) -> bool {
    match gate.enter() {
        Ok(g) => {
            t.inside.store(true, Ordering::Relaxed);
            // SAFETY: loom checks the access.
            t.data.with_mut(|p| unsafe { *p += 1 });
            t.inside.store(false, Ordering::Relaxed);
            drop(g);
            true
        }
        Err(_) => false,
    }
}

/// Three threads: two callers (each on its own CPU) race a close_and_drain;
/// after the drain nobody is inside and entries fail; then reopen and a
/// final balanced drain.
fn enter_vs_drain<P: Make>() {
    model(|| {
        let gate = Arc::new(Gate::new(P::make()).expect("gate"));
        let traces = Arc::new([Trace::new(), Trace::new()]);
        let hs: Vec<_> = (0..2)
            .map(|i| {
                let gate = gate.clone();
                let traces = traces.clone();
                thread::spawn(move || {
                    gate.platform().on_cpus(&[i]);
                    call(&gate, &traces[i])
                })
            })
            .collect();
        assert_eq!(gate.close_and_drain(None), Ok(()));
        for t in traces.iter() {
            t.check_out();
        }
        assert!(gate.enter().is_err(), "entry succeeded on a drained gate");
        assert_eq!(gate.reopen(), Ok(()));
        let mut admitted = 0;
        for h in hs {
            admitted += u64::from(h.join().expect("caller"));
        }
        assert_eq!(gate.unbalanced(), 0, "unbalanced leave: a count was lost");
        assert_eq!(gate.inside(), 0, "a count was lost");
        assert_eq!(gate.calls(), admitted, "calls() is not exact");
        assert_eq!(gate.close_and_drain(Some(0)), Ok(()), "a count was lost");
    });
}

#[test]
fn three_threads_enter_vs_drain() {
    enter_vs_drain::<Good>();
}

/// Slots shared and migration: two callers whose instructions run on
/// changing CPUs (the refused entry's +1 and its undo on different CPUs),
/// both CPUs shared by both callers and the drainer.
fn migration<P: Make>(bound: usize) {
    model_with(bound, || {
        let gate = Arc::new(Gate::new(P::make()).expect("gate"));
        let traces = Arc::new([Trace::new(), Trace::new()]);
        // Caller 0: pre 0, +1 on 1, re 0, enters 1, −1 on 0, load on 1.
        // Caller 1: pre 1, +1 on 0, re 1, undo (or enters) on 1, ...
        let scheds: [&'static [usize]; 2] = [&[0, 1], &[1, 0, 1, 1]];
        let hs: Vec<_> = (0..2)
            .map(|i| {
                let gate = gate.clone();
                let traces = traces.clone();
                let sched = scheds[i];
                thread::spawn(move || {
                    gate.platform().on_cpus(sched);
                    call(&gate, &traces[i])
                })
            })
            .collect();
        assert_eq!(gate.close_and_drain(None), Ok(()));
        for t in traces.iter() {
            t.check_out();
        }
        assert_eq!(gate.reopen(), Ok(()));
        let mut admitted = 0;
        for h in hs {
            admitted += u64::from(h.join().expect("caller"));
        }
        assert_eq!(gate.unbalanced(), 0, "unbalanced leave: a count was lost");
        assert_eq!(gate.calls(), admitted, "calls() is not exact");
        assert_eq!(gate.close_and_drain(Some(0)), Ok(()), "a count was lost");
    });
}

#[test]
fn migration_and_shared_slots() {
    migration::<Good>(2);
}

/// One caller calls twice around a close/drain/reopen; the counts balance
/// and calls() is exact.
#[test]
fn calls_across_reopen() {
    model(|| {
        let gate = Arc::new(Gate::new(Good::make()).expect("gate"));
        let trace = Arc::new(Trace::new());
        let h = {
            let gate = gate.clone();
            let trace = trace.clone();
            thread::spawn(move || {
                gate.platform().on_cpus(&[1]);
                u64::from(call(&gate, &trace)) + u64::from(call(&gate, &trace))
            })
        };
        assert_eq!(gate.close_and_drain(None), Ok(()));
        trace.check_out();
        assert_eq!(gate.reopen(), Ok(()));
        let admitted = h.join().expect("caller");
        assert_eq!(gate.close_and_drain(Some(0)), Ok(()));
        assert_eq!(gate.calls(), admitted);
        assert_eq!(gate.unbalanced(), 0);
    });
}

/// A call enters on one thread and leaves on another (the guard moved),
/// racing a drain that first times out and then finishes the job.
#[test]
fn timed_out_then_second_drain() {
    model(|| {
        let gate = Arc::new(Gate::new(Good::make()).expect("gate"));
        let inside = Arc::new(AtomicBool::new(false));
        let enterer = {
            let gate = gate.clone();
            let inside = inside.clone();
            thread::spawn(move || {
                gate.platform().on_cpus(&[1]);
                let ok = gate.enter_raw().is_ok();
                if ok {
                    inside.store(true, Ordering::Relaxed);
                }
                ok
            })
        };
        let leaver = {
            let gate = gate.clone();
            let inside = inside.clone();
            thread::spawn(move || {
                gate.platform().on_cpus(&[0]);
                if enterer.join().expect("enterer") {
                    inside.store(false, Ordering::Relaxed);
                    // SAFETY: matches the enterer's successful enter_raw.
                    unsafe { gate.leave_raw() };
                }
            })
        };
        match gate.close_and_drain(Some(0)) {
            Ok(()) => {}
            Err(DrainError::TimedOut { inside: n }) => {
                assert!(n >= 1);
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

/// Two drainers and a caller: both drains complete (no lost wakeup).  The
/// spawned drainer reopens after its drain, so the main one (which may be
/// asleep by then) must see Ok or Reopened.  (The drainer that may sleep
/// for ever under a broken reopen is the main thread: loom cannot unwind a
/// deadlock in which a spawned thread is blocked.)
fn two_drainers<P: Make>() {
    model(|| {
        let gate = Arc::new(Gate::new(P::make()).expect("gate"));
        let trace = Arc::new(Trace::new());
        let caller = {
            let gate = gate.clone();
            let trace = trace.clone();
            thread::spawn(move || {
                gate.platform().on_cpus(&[1]);
                call(&gate, &trace);
            })
        };
        let reopener = {
            let gate = gate.clone();
            let trace = trace.clone();
            thread::spawn(move || {
                assert_eq!(gate.close_and_drain(None), Ok(()));
                assert!(
                    !trace.inside.load(Ordering::Relaxed),
                    "a call is inside after the drain"
                );
                assert_eq!(gate.reopen(), Ok(()));
            })
        };
        match gate.close_and_drain(None) {
            Ok(()) | Err(DrainError::Reopened) => {}
            Err(e) => panic!("unexpected {e:?}"),
        }
        caller.join().expect("caller");
        reopener.join().expect("reopener");
        assert_eq!(gate.unbalanced(), 0);
    });
}

#[test]
fn two_drainers_race_a_reopen() {
    two_drainers::<Good>();
}

/// The owner writes its data while the gate is drained; a call admitted
/// after the reopen reads it (acquire on the closing flag, release in
/// reopen).
fn owner_data<P: Make>() {
    model(|| {
        let gate = Arc::new(Gate::new(P::make()).expect("gate"));
        let owner = Arc::new(Trace::new());
        let caller = {
            let gate = gate.clone();
            let owner = owner.clone();
            thread::spawn(move || {
                gate.platform().on_cpus(&[1]);
                if let Ok(g) = gate.enter() {
                    // SAFETY: loom checks the access.
                    owner.data.with(|p| unsafe { std::ptr::read(p) });
                    drop(g);
                }
            })
        };
        assert_eq!(gate.close_and_drain(None), Ok(()));
        // SAFETY: loom checks the access.
        owner.data.with_mut(|p| unsafe { *p += 1 });
        assert_eq!(gate.reopen(), Ok(()));
        caller.join().expect("caller");
    });
}

#[test]
fn owner_data_across_reopen() {
    owner_data::<Good>();
}

// ---------------------------------------------------------------------------
// Mutants: loom must reject every one.

/// Run a scenario that must fail, and check that it failed on one of the
/// protocol's own checks (an assertion, loom's deadlock or data-race
/// detection), not on a loom limit.
fn expect_rejected(what: &str, scenario: impl FnOnce()) {
    let r = catch_unwind(AssertUnwindSafe(scenario));
    let payload = match r {
        Ok(()) => panic!("loom accepted the mutant '{what}': the models cannot see it"),
        Err(e) => e,
    };
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
            "calls() is not exact",
            "deadlock",
            "Causality violation",
        ]
        .iter()
        .any(|m| msg.contains(m)),
        "mutant '{what}' failed for another reason: {msg}"
    );
    eprintln!("loom rejected the mutant '{what}': {msg}");
}

#[test]
fn mutant_no_barrier() {
    expect_rejected("no barrier", enter_vs_drain::<LoomPlatform<NO_BARRIER, 0>>);
}

#[test]
fn mutant_two_instruction_add() {
    expect_rejected("two-instruction add", || {
        migration::<LoomPlatform<SPLIT_ADD, 0>>(2)
    });
}

#[test]
fn mutant_no_resum() {
    expect_rejected("no re-sum", enter_vs_drain::<LoomPlatform<OK, 1>>);
}

#[test]
fn mutant_relaxed_closing() {
    expect_rejected("relaxed closing", owner_data::<LoomPlatform<OK, 2>>);
}

#[test]
fn mutant_relaxed_counts() {
    expect_rejected(
        "relaxed counts",
        enter_vs_drain::<LoomPlatform<RELAXED_COUNTS, 0>>,
    );
}

#[test]
fn mutant_undo_outside_the_lock() {
    expect_rejected("undo outside the lock", || {
        migration::<LoomPlatform<OK, 3>>(3)
    });
}

#[test]
fn mutant_sum_outside_the_lock() {
    expect_rejected("sum outside the lock", || {
        migration::<LoomPlatform<OK, 4>>(3)
    });
}

#[test]
fn mutant_leave_forgets_to_wake() {
    expect_rejected("leave does not wake", enter_vs_drain::<LoomPlatform<OK, 5>>);
}

#[test]
fn mutant_reopen_does_not_wake() {
    expect_rejected("reopen does not wake", two_drainers::<LoomPlatform<OK, 6>>);
}
