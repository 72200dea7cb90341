//! The throughput harness: one loop for every scheme.
//!
//! `threads` threads start together (a barrier), each runs
//! `call(work)` in batches of [`BATCH`] until the main thread raises the
//! stop flag after the run's duration, and counts its calls.  The rate is
//! all calls divided by the wall time from the start to the last thread's
//! exit.  The scheme reference and the work size go through
//! `std::hint::black_box` on every call, so the compiler can neither hoist
//! the scheme's loads out of the loop nor fold the work away.

use std::hint::black_box;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Barrier;
use std::time::{Duration, Instant};

use crate::schemes::{
    AtomicScheme, DevmtxScheme, Kind, NoneScheme, PcpuScheme, PercdevScheme, Scheme,
};

/// Calls between two looks at the stop flag.
pub const BATCH: u64 = 64;

/// The per-call work: a chain of dependent multiply-adds, seeded with the
/// previous call's result so that consecutive calls' chains cannot overlap
/// in the CPU's out-of-order window (the time grows linearly with `iters`,
/// which makes the calibration hold inside the harness).  The multiplier
/// goes through `black_box`, so the compiler cannot fold the loop.  Not
/// inlined: its code is the same whichever scheme wraps it.
#[inline(never)]
pub fn work(seed: u64, iters: u64) -> u64 {
    let m = black_box(0x5851_F42D_4C95_7F2D_u64);
    let mut x = seed;
    for _ in 0..iters {
        x = x.wrapping_mul(m).wrapping_add(0x1405_7B7E_F767_814F);
    }
    x
}

/// Nanoseconds one `work(_, iters)` call takes on this thread, calls
/// chained as in the harness (best of 5).
pub fn time_work(iters: u64, calls: u64) -> f64 {
    let mut best = f64::INFINITY;
    let mut x = 1u64;
    for _ in 0..5 {
        let t = Instant::now();
        for _ in 0..calls {
            x = work(x, black_box(iters));
        }
        let ns = t.elapsed().as_nanos() as f64 / calls as f64;
        best = best.min(ns);
    }
    black_box(x);
    best
}

/// The calibrated work level.
#[derive(Clone, Copy, Debug)]
pub struct Calibration {
    /// What was asked for.
    pub target_ns: f64,
    /// Loop iterations per call.
    pub iters: u64,
    /// What one `work(iters)` call measured (single thread, best of 5).
    pub measured_ns: f64,
}

/// Find the iteration count for `target_ns` of work per call (once, before
/// any measurement): estimate from a long loop, then correct until one call
/// measures within 2% of the target (at most 6 rounds).
pub fn calibrate(target_ns: f64, quick: bool) -> Calibration {
    let calls = if quick { 20_000 } else { 200_000 };
    // Warm up (and let the CPU clock settle).
    time_work(1000, calls / 5);
    let per_iter = time_work(1000, calls / 10) / 1000.0;
    let mut iters = ((target_ns / per_iter).round() as u64).max(1);
    let mut measured = time_work(iters, calls);
    for _ in 0..6 {
        if (measured - target_ns).abs() <= 0.02 * target_ns {
            break;
        }
        let next = ((iters as f64 * target_ns / measured).round() as u64).max(1);
        if next == iters {
            break;
        }
        iters = next;
        measured = time_work(iters, calls);
    }
    Calibration {
        target_ns,
        iters,
        measured_ns: measured,
    }
}

/// CPU time this thread has used, ns.
fn thread_cpu_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec, which `ts` is.
    let r = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    if r != 0 {
        return 0;
    }
    (ts.tv_sec as u64)
        .wrapping_mul(1_000_000_000)
        .wrapping_add(ts.tv_nsec as u64)
}

/// One timed run of one (scheme, threads, work) point.
#[derive(Clone, Copy, Debug)]
pub struct Run {
    /// Calls made by all threads.
    pub calls: u64,
    /// From the start barrier to the last thread's exit.
    pub wall_ns: u64,
    /// CPU time the worker threads used during the run, all together.
    pub cpu_ns: u64,
    /// Each worker's own time from its start to its exit, all together.
    pub thread_wall_ns: u64,
}

impl Run {
    /// Calls per second, all threads together.
    pub fn calls_per_s(&self) -> f64 {
        self.calls as f64 * 1e9 / self.wall_ns as f64
    }

    /// Time one call occupies a CPU: wall time × busy CPUs / calls, where
    /// the busy CPUs are min(threads, cpus).  With threads ≤ cpus it is each
    /// thread's own time per call.
    pub fn ns_per_call(&self, threads: usize, cpus: usize) -> f64 {
        self.wall_ns as f64 * threads.min(cpus) as f64 / self.calls as f64
    }

    /// The workers' CPU time over their own wall time, percent: about 100
    /// when the threads ran all the time; less when they were preempted
    /// (outside load, or more threads than CPUs) or blocked (in a lock's
    /// futex wait).
    pub fn cpu_pct(&self) -> f64 {
        self.cpu_ns as f64 * 100.0 / self.thread_wall_ns.max(1) as f64
    }
}

fn run_with<S: Scheme>(s: &S, threads: usize, iters: u64, dur: Duration) -> Result<Run, String> {
    let stop = AtomicBool::new(false);
    let start = Barrier::new(threads + 1);
    let before = s.entered();
    let (t0, results) = std::thread::scope(|sc| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                sc.spawn(|| {
                    // Take the thread's gate slot (and any other lazy
                    // per-thread state) before the clock starts.
                    if !s.call(|| ()) {
                        start.wait();
                        return (0u64, 1u64, Instant::now(), 0u64, 0u64);
                    }
                    start.wait();
                    let begin = Instant::now();
                    let cpu0 = thread_cpu_ns();
                    let mut calls = 0u64;
                    let mut refused = 0u64;
                    let mut acc = 1u64;
                    while !stop.load(Ordering::Relaxed) {
                        for _ in 0..BATCH {
                            let s = black_box(s);
                            let n = black_box(iters);
                            let ok = s.call(|| {
                                if n != 0 {
                                    acc = work(acc, n);
                                }
                            });
                            if !ok {
                                refused += 1;
                            }
                        }
                        calls += BATCH;
                    }
                    black_box(acc);
                    let end = Instant::now();
                    let cpu = thread_cpu_ns().saturating_sub(cpu0);
                    let own = u64::try_from((end - begin).as_nanos()).unwrap_or(u64::MAX);
                    (calls, refused, end, cpu, own)
                })
            })
            .collect();
        start.wait();
        let t0 = Instant::now();
        std::thread::sleep(dur);
        stop.store(true, Ordering::Relaxed);
        let results: Vec<_> = handles.into_iter().map(|h| h.join()).collect();
        (t0, results)
    });
    let mut calls = 0u64;
    let mut refused = 0u64;
    let mut end = t0;
    let mut cpu_ns = 0u64;
    let mut thread_wall_ns = 0u64;
    for r in results {
        let (c, f, e, cpu, own) = r.map_err(|_| "a benchmark thread panicked".to_string())?;
        thread_wall_ns += own;
        calls += c;
        refused += f;
        end = end.max(e);
        cpu_ns += cpu;
    }
    if refused != 0 {
        return Err(format!(
            "{refused} calls were refused entry on an open device"
        ));
    }
    if calls == 0 {
        return Err("no call completed".into());
    }
    let inside = s.inside();
    if inside != 0 {
        return Err(format!("{inside} calls still counted inside after the run"));
    }
    if let (Some(b), Some(a)) = (before, s.entered()) {
        // The warm-up call of each thread is counted by the scheme too.
        let counted = a.wrapping_sub(b);
        let expect = calls + threads as u64;
        if counted != expect {
            return Err(format!(
                "the scheme counted {counted} entries, the harness {expect}"
            ));
        }
    }
    let wall_ns = u64::try_from(end.duration_since(t0).as_nanos()).unwrap_or(u64::MAX);
    Ok(Run {
        calls,
        wall_ns: wall_ns.max(1),
        cpu_ns,
        thread_wall_ns,
    })
}

/// Time one point with a fresh instance of the scheme.
pub fn run_point(kind: Kind, threads: usize, iters: u64, dur: Duration) -> Result<Run, String> {
    let r = match kind {
        Kind::None => run_with(&NoneScheme, threads, iters, dur),
        Kind::Pcpu => run_with(&PcpuScheme::new()?, threads, iters, dur),
        Kind::Percdev => run_with(&PercdevScheme::default(), threads, iters, dur),
        Kind::Devmtx => run_with(&DevmtxScheme::default(), threads, iters, dur),
        Kind::Atomic => run_with(&AtomicScheme::default(), threads, iters, dur),
    };
    r.map_err(|e| format!("{} threads={threads} iters={iters}: {e}", kind.name()))
}
