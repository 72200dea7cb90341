//! Host stress test: real threads entering and leaving as fast as they can
//! while a closer runs close / drain / reopen cycles.
//!
//! Invariants checked:
//! * after every successful drain, no caller is inside (each caller sets its
//!   own "inside" flag after entering and clears it before leaving);
//! * while the gate is drained, entries fail (the closer tries, and every
//!   caller that gets in checks that no drain is currently complete);
//! * at the end every count balances: calls() equals the successful
//!   entries, inside() is 0, no unbalanced leave.
//!
//! DEVREF_STRESS_ENTERS sets the total number of *successful* entries
//! (default 10^7, split between the membarrier and the SeqCst-fence
//! platforms; refused attempts come on top).  Built in release mode it takes a few seconds on 2 cores:
//! `cargo test -p devref-core --release --test stress`.
#![cfg(not(loom))]

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use devref_core::gate::Gate;
use devref_host::{HostPlatform, Mode};

#[repr(align(128))]
#[derive(Default)]
struct Flag(AtomicBool);

const CALLERS: usize = 3;

struct Outcome {
    attempts: u64,
    entered: u64,
    cycles: u64,
    waited_drains: u64,
}

fn run<M: Mode>(platform: HostPlatform<M>, total: u64) -> Outcome {
    let gate = Gate::new(platform).expect("gate");
    let inside: Vec<Flag> = (0..CALLERS + 1).map(|_| Flag::default()).collect();
    // True between a drain's success and the reopen.
    let drained = AtomicBool::new(false);
    let remaining = AtomicU64::new(total);
    let violations = AtomicU64::new(0);
    let entered = AtomicU64::new(0);
    let attempts = AtomicU64::new(0);
    let mut cycles = 0u64;
    let mut waited_drains = 0u64;

    thread::scope(|s| {
        // Callers 0..CALLERS-1 leave on their own thread; the last caller
        // hands every 64th guard to a leaver thread (leave on another slot).
        let (tx, rx) =
            mpsc::sync_channel::<(devref_core::gate::GateGuard<'_, HostPlatform<M>>, usize)>(16);
        let mut callers = Vec::new();
        for id in 0..CALLERS {
            let gate = &gate;
            let flag = &inside[id].0;
            let handoff_flag = &inside[CALLERS].0;
            let (drained, remaining, violations, entered, attempts) =
                (&drained, &remaining, &violations, &entered, &attempts);
            let tx = tx.clone();
            callers.push(s.spawn(move || {
                let mut my_attempts = 0u64;
                let mut my_entered = 0u64;
                'outer: loop {
                    // Take a batch of attempts.
                    let mut left = remaining.load(Ordering::Relaxed);
                    let batch = loop {
                        if left == 0 {
                            break 'outer;
                        }
                        let b = left.min(1024);
                        match remaining.compare_exchange_weak(
                            left,
                            left - b,
                            Ordering::Relaxed,
                            Ordering::Relaxed,
                        ) {
                            Ok(_) => break b,
                            Err(now) => left = now,
                        }
                    };
                    let mut i = 0u64;
                    while i < batch {
                        my_attempts += 1;
                        let Ok(g) = gate.enter() else {
                            std::hint::spin_loop();
                            continue;
                        };
                        i += 1;
                        my_entered += 1;
                        if drained.load(Ordering::Acquire) {
                            violations.fetch_add(1, Ordering::Relaxed);
                        }
                        if id == CALLERS - 1 && i & 63 == 0 {
                            // The leaver clears the flag before it leaves.
                            handoff_flag.store(true, Ordering::Relaxed);
                            if tx.send((g, CALLERS)).is_err() {
                                break 'outer;
                            }
                            continue;
                        }
                        flag.store(true, Ordering::Relaxed);
                        if i & 255 == 0 {
                            // Stay inside a while now and then, so that
                            // drains really wait for calls to leave.
                            thread::yield_now();
                        } else {
                            std::hint::black_box(&g);
                        }
                        flag.store(false, Ordering::Relaxed);
                        drop(g);
                    }
                }
                attempts.fetch_add(my_attempts, Ordering::Relaxed);
                entered.fetch_add(my_entered, Ordering::Relaxed);
            }));
        }
        drop(tx);
        let handoff_flag = &inside[CALLERS].0;
        let leaver = s.spawn(move || {
            for (g, _) in rx {
                // One flag for all handed-off guards: the sender sets it
                // while it holds a live guard, the leaver clears it before
                // each leave, so once every call has left the last store
                // to it was a clear.
                handoff_flag.store(false, Ordering::Relaxed);
                drop(g);
            }
        });

        // The closer.
        let t0 = Instant::now();
        while !callers.iter().all(|c| c.is_finished()) {
            // Let the callers run open for a while.
            let open_until = Instant::now() + Duration::from_millis(1);
            while Instant::now() < open_until {
                std::hint::spin_loop();
            }
            let before = gate.inside();
            match gate.close_and_drain(Some(10_000_000_000)) {
                Ok(()) => {}
                Err(e) => panic!("drain failed under stress: {e:?}"),
            }
            if before > 0 {
                waited_drains += 1;
            }
            drained.store(true, Ordering::Release);
            for (i, f) in inside.iter().enumerate() {
                assert!(
                    !f.0.load(Ordering::Acquire),
                    "caller {i} is inside after drain {cycles}"
                );
            }
            assert!(gate.enter().is_err(), "entry succeeded on a drained gate");
            // Stay drained a little: callers must be refused meanwhile.
            let closed_until = Instant::now() + Duration::from_micros(50);
            while Instant::now() < closed_until {
                std::hint::spin_loop();
            }
            drained.store(false, Ordering::Relaxed);
            gate.reopen().expect("reopen after drain");
            cycles += 1;
            assert!(
                t0.elapsed() < Duration::from_secs(120),
                "stress run too slow"
            );
        }
        for c in callers {
            c.join().expect("caller");
        }
        leaver.join().expect("leaver");
    });

    assert_eq!(
        violations.load(Ordering::Relaxed),
        0,
        "entries succeeded while drained"
    );
    assert_eq!(gate.inside(), 0);
    assert_eq!(gate.close_and_drain(Some(0)), Ok(()));
    assert_eq!(gate.unbalanced(), 0);
    let entered = entered.load(Ordering::Relaxed);
    assert_eq!(
        gate.calls(),
        entered,
        "calls() must equal successful entries"
    );
    Outcome {
        attempts: attempts.load(Ordering::Relaxed),
        entered,
        cycles,
        waited_drains,
    }
}

fn total() -> u64 {
    std::env::var("DEVREF_STRESS_ENTERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000_000)
}

fn check<M: Mode>(name: &str, platform: HostPlatform<M>, total: u64) {
    let t = Instant::now();
    let o = run(platform, total);
    eprintln!(
        "stress {name}: {} attempts, {} entered, {} close/drain/reopen cycles \
         ({} waited for calls inside), {:?}",
        o.attempts,
        o.entered,
        o.cycles,
        o.waited_drains,
        t.elapsed()
    );
    assert_eq!(o.entered, total);
    assert!(
        o.cycles >= 10,
        "too few cycles to mean anything: {}",
        o.cycles
    );
    assert!(
        o.entered < o.attempts,
        "some entries must have been refused"
    );
}

#[test]
fn stress_membarrier_and_fallback() {
    let total = total();
    let half = total / 2;
    // Run sequentially: each run wants both cores.
    check("host (membarrier if available)", HostPlatform::new(), half);
    check(
        "seqcst fallback",
        HostPlatform::with_seqcst_fences(),
        total - half,
    );
}
