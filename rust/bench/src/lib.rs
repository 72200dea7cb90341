//! devref's host benchmarks (`make bench`).
//!
//! * Throughput: five protection schemes ([`schemes::Kind`]) through one
//!   harness ([`harness`]), threads × work grid, repeated runs, medians.
//! * Drain latency ([`drain`]): devref's `close_and_drain` against devfs's
//!   polling destroy.
//! * Targets judged on the medians, printed as PASS/MISS with the margin.
//! * Output: a table on stdout, and docs/benchmarks.{json,md,svg}
//!   ([`report`]).
//!
//! Errors of the harness itself (a refused entry, a count left non-zero, a
//! drain that fails) are `Err`; a missed target is not an error.

pub mod drain;
pub mod harness;
pub mod report;
pub mod schemes;

use std::time::{Duration, Instant};

use harness::Calibration;
use schemes::Kind;

/// What to run.
#[derive(Clone, Debug)]
pub struct Config {
    /// Tiny durations (tests, smoke runs): numbers are not meaningful.
    pub quick: bool,
    /// Thread counts of the grid.
    pub threads: Vec<usize>,
    /// Work per call to calibrate (the other level is 0).
    pub work_target_ns: f64,
    /// Length of one timed run.
    pub run: Duration,
    /// Runs per point (odd: the median is a real run).
    pub reps: usize,
    /// Idle open handles in the drain case (a).
    pub idle_handles: usize,
    /// Calls running in the drain case (b).
    pub drain_ks: Vec<usize>,
    /// When the running calls finish, after the destroy request.
    pub drain_delay: Duration,
    /// Repetitions of each drain case.
    pub drain_reps: usize,
    /// devfs's destroy_devl poll step (msleep(hz / 10)).
    pub devfs_poll: Duration,
}

impl Config {
    /// The full benchmark (`make bench`): about a minute.  Many short runs
    /// rather than a few long ones: on a shared machine the median of many
    /// runs shrugs off a burst of outside load.
    pub fn full() -> Self {
        Config {
            quick: false,
            threads: vec![1, 2, 4],
            work_target_ns: 100.0,
            run: Duration::from_millis(120),
            reps: 15,
            idle_handles: 10_000,
            drain_ks: vec![1, 2, 4],
            drain_delay: Duration::from_millis(20),
            drain_reps: 7,
            devfs_poll: Duration::from_millis(100),
        }
    }

    /// A few seconds: proves the harness works, measures nothing.
    pub fn quick() -> Self {
        Config {
            quick: true,
            run: Duration::from_millis(10),
            reps: 3,
            drain_delay: Duration::from_millis(2),
            drain_reps: 1,
            ..Config::full()
        }
    }
}

/// The machine the numbers come from.
#[derive(Clone, Debug)]
pub struct Machine {
    /// CPUs this process may use.
    pub cpus: usize,
    /// /proc/cpuinfo's first "model name".
    pub cpu_model: String,
    /// `uname -sr`-like: the kernel.
    pub kernel: String,
    /// UTC, ISO 8601.
    pub date: String,
    /// `git rev-parse --short HEAD`, "-dirty" if tracked files changed.
    pub commit: String,
    /// Which barrier the host platform uses (membarrier or SeqCst fences).
    pub host_barrier: &'static str,
}

/// One (scheme, threads, work) point.
#[derive(Clone, Debug)]
pub struct Point {
    /// The scheme.
    pub kind: Kind,
    /// Worker threads.
    pub threads: usize,
    /// Work loop iterations per call (0 or the calibrated count).
    pub iters: u64,
    /// Every run, in order.
    pub runs: Vec<harness::Run>,
}

/// Median of a non-empty slice (upper median for even lengths).
pub fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    s.get(s.len() / 2).copied().unwrap_or(f64::NAN)
}

impl Point {
    /// Calls/s of every run.
    pub fn rates(&self) -> Vec<f64> {
        self.runs.iter().map(harness::Run::calls_per_s).collect()
    }

    /// Median calls/s.
    pub fn rate(&self) -> f64 {
        median(&self.rates())
    }

    /// Slowest and fastest run, calls/s.
    pub fn rate_range(&self) -> (f64, f64) {
        let r = self.rates();
        (
            r.iter().copied().fold(f64::INFINITY, f64::min),
            r.iter().copied().fold(0.0, f64::max),
        )
    }

    /// (max - min) / median, percent.
    pub fn spread_pct(&self) -> f64 {
        let (lo, hi) = self.rate_range();
        (hi - lo) / self.rate() * 100.0
    }

    /// Median CPU share of the workers (see [`harness::Run::cpu_pct`]).
    pub fn cpu_pct(&self) -> f64 {
        let v: Vec<f64> = self.runs.iter().map(harness::Run::cpu_pct).collect();
        median(&v)
    }

    /// Median ns per call (see [`harness::Run::ns_per_call`]).
    pub fn ns_per_call(&self, cpus: usize) -> f64 {
        let v: Vec<f64> = self
            .runs
            .iter()
            .map(|r| r.ns_per_call(self.threads, cpus))
            .collect();
        median(&v)
    }
}

/// Drain case.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DrainCase {
    /// Nothing running, idle open handles.
    Idle,
    /// `k` calls running.
    Running(usize),
}

/// One drain series.
#[derive(Clone, Debug)]
pub struct DrainPoint {
    /// "pcpu" (close_and_drain) or "devfs" (polling destroy_devl model).
    pub scheme: &'static str,
    /// Which case.
    pub case: DrainCase,
    /// Every run.
    pub runs: Vec<drain::DrainRun>,
}

impl DrainPoint {
    /// Median destroy time, ns.
    pub fn median_ns(&self) -> f64 {
        let v: Vec<f64> = self.runs.iter().map(|r| r.destroy_ns as f64).collect();
        median(&v)
    }

    /// Slowest destroy, ns.
    pub fn max_ns(&self) -> f64 {
        self.runs
            .iter()
            .map(|r| r.destroy_ns as f64)
            .fold(0.0, f64::max)
    }

    /// Median time from the last leave to the return, ns.
    pub fn median_after_leave_ns(&self) -> f64 {
        let v: Vec<f64> = self
            .runs
            .iter()
            .map(|r| r.after_last_leave_ns as f64)
            .collect();
        median(&v)
    }
}

/// Everything one invocation measured.
#[derive(Clone, Debug)]
pub struct Results {
    /// What ran.
    pub config: Config,
    /// Where.
    pub machine: Machine,
    /// The work level.
    pub calibration: Calibration,
    /// Throughput points, grid order (work, threads, scheme).
    pub points: Vec<Point>,
    /// Drain series.
    pub drains: Vec<DrainPoint>,
    /// Seconds the measurement took.
    pub elapsed_s: f64,
}

impl Results {
    /// The point for (scheme, threads, iters).
    pub fn point(&self, kind: Kind, threads: usize, iters: u64) -> Option<&Point> {
        self.points
            .iter()
            .find(|p| p.kind == kind && p.threads == threads && p.iters == iters)
    }

    /// The work levels, in order (0, calibrated).
    pub fn work_levels(&self) -> [u64; 2] {
        [0, self.calibration.iters]
    }

    /// Nominal ns of work for a level.
    pub fn work_ns(&self, iters: u64) -> f64 {
        if iters == 0 {
            0.0
        } else {
            self.calibration.measured_ns
        }
    }
}

/// Run the whole benchmark.  `progress` receives one line per step.
pub fn run(cfg: &Config, progress: &mut dyn FnMut(&str)) -> Result<Results, String> {
    let started = Instant::now();
    let machine = report::machine();
    progress(&format!(
        "machine: {} CPUs, {}; host barrier: {}",
        machine.cpus, machine.cpu_model, machine.host_barrier
    ));
    let calibration = harness::calibrate(cfg.work_target_ns, cfg.quick);
    progress(&format!(
        "work: {} iterations = {:.1} ns per call (target {} ns)",
        calibration.iters, calibration.measured_ns, calibration.target_ns
    ));

    let mut points = Vec::new();
    for iters in [0, calibration.iters] {
        for &threads in &cfg.threads {
            for kind in Kind::ALL {
                points.push(Point {
                    kind,
                    threads,
                    iters,
                    runs: Vec::with_capacity(cfg.reps),
                });
            }
        }
    }
    // Repetition-major order: every point's k-th run happens in the same
    // sweep, so slow drifts of the machine hit every scheme alike.
    for rep in 0..cfg.reps {
        progress(&format!(
            "throughput sweep {}/{} ({} points x {} ms)",
            rep + 1,
            cfg.reps,
            points.len(),
            cfg.run.as_millis()
        ));
        for p in points.iter_mut() {
            let r = harness::run_point(p.kind, p.threads, p.iters, cfg.run)?;
            p.runs.push(r);
        }
    }

    let mut drains = Vec::new();
    progress(&format!(
        "drain: idle ({} handles), running k={:?} with d={} ms, devfs poll {} ms",
        cfg.idle_handles,
        cfg.drain_ks,
        cfg.drain_delay.as_millis(),
        cfg.devfs_poll.as_millis()
    ));
    let mut idle = DrainPoint {
        scheme: "pcpu",
        case: DrainCase::Idle,
        runs: Vec::new(),
    };
    let mut idle_devfs = DrainPoint {
        scheme: "devfs",
        case: DrainCase::Idle,
        runs: Vec::new(),
    };
    for _ in 0..cfg.drain_reps {
        idle.runs.push(drain::pcpu_idle(cfg.idle_handles)?);
        idle_devfs
            .runs
            .push(drain::devfs_idle(cfg.idle_handles, cfg.devfs_poll)?);
    }
    drains.push(idle);
    drains.push(idle_devfs);
    for &k in &cfg.drain_ks {
        let mut p = DrainPoint {
            scheme: "pcpu",
            case: DrainCase::Running(k),
            runs: Vec::new(),
        };
        let mut d = DrainPoint {
            scheme: "devfs",
            case: DrainCase::Running(k),
            runs: Vec::new(),
        };
        for _ in 0..cfg.drain_reps {
            p.runs.push(drain::pcpu_running(k, cfg.drain_delay)?);
            d.runs
                .push(drain::devfs_running(k, cfg.drain_delay, cfg.devfs_poll)?);
        }
        drains.push(p);
        drains.push(d);
    }

    Ok(Results {
        config: cfg.clone(),
        machine,
        calibration,
        points,
        drains,
        elapsed_s: started.elapsed().as_secs_f64(),
    })
}

/// Write DIR/benchmarks.json, DIR/benchmarks.md and DIR/benchmarks.svg
/// (each through a temporary file, renamed into place).
pub fn write_docs(r: &Results, dir: &std::path::Path) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let json = serde_json::to_string_pretty(&report::json(r)).map_err(|e| e.to_string())? + "\n";
    let files = [
        ("benchmarks.json", json),
        ("benchmarks.md", report::markdown(r, "benchmarks.svg")),
        ("benchmarks.svg", report::svg(r)?),
    ];
    for (name, body) in files {
        let path = dir.join(name);
        let tmp = dir.join(format!(".{name}.tmp"));
        std::fs::write(&tmp, body).map_err(|e| format!("{}: {e}", tmp.display()))?;
        std::fs::rename(&tmp, &path).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(())
}
