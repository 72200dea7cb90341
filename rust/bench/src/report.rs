//! Everything the benchmark prints and writes: the machine description, the
//! targets (PASS/MISS), the text table, docs/benchmarks.json, .md and .svg.
//! All of it is generated from [`Results`]; nothing is edited by hand.

use std::fmt::Write as _;
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};

use crate::schemes::Kind;
use crate::{DrainCase, DrainPoint, Machine, Results};

// ---------------------------------------------------------------------------
// Machine.

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into())
}

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    if !out.status.success() {
        return None;
    }
    Some(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Short commit, "-dirty" when tracked files differ from it.
pub fn git_commit() -> String {
    match git(&["rev-parse", "--short", "HEAD"]) {
        Some(c) => {
            let dirty = git(&["status", "--porcelain", "--untracked-files=no"])
                .is_some_and(|s| !s.is_empty());
            if dirty {
                format!("{c}-dirty")
            } else {
                c
            }
        }
        None => "unknown".into(),
    }
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// Now, UTC, "YYYY-MM-DD HH:MM:SS UTC".
pub fn utc_now() -> String {
    let s = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let (y, m, d) = civil_from_days(s.div_euclid(86_400));
    let t = s.rem_euclid(86_400);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC",
        t / 3600,
        t / 60 % 60,
        t % 60
    )
}

/// Describe this machine.
pub fn machine() -> Machine {
    Machine {
        cpus: std::thread::available_parallelism().map_or(1, usize::from),
        cpu_model: cpu_model(),
        kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .map(|s| format!("Linux {}", s.trim()))
            .unwrap_or_else(|_| "unknown".into()),
        date: utc_now(),
        commit: git_commit(),
        host_barrier: if devref_host::membarrier_available() {
            "membarrier (fast path: compiler fences only)"
        } else {
            "none: membarrier unavailable (the pcpu scheme needs it)"
        },
    }
}

// ---------------------------------------------------------------------------
// Derived numbers.

/// ns/call of the scheme minus ns/call of `none`, same threads and work.
pub fn added_ns(r: &Results, kind: Kind, threads: usize, iters: u64) -> Option<f64> {
    let c = r.machine.cpus;
    Some(
        r.point(kind, threads, iters)?.ns_per_call(c)
            - r.point(Kind::None, threads, iters)?.ns_per_call(c),
    )
}

/// calls/s of the scheme over calls/s of `base`, same threads and work.
pub fn ratio(r: &Results, kind: Kind, base: Kind, threads: usize, iters: u64) -> Option<f64> {
    Some(r.point(kind, threads, iters)?.rate() / r.point(base, threads, iters)?.rate())
}

fn drain_point<'a>(r: &'a Results, scheme: &str, case: DrainCase) -> Option<&'a DrainPoint> {
    r.drains
        .iter()
        .find(|d| d.scheme == scheme && d.case == case)
}

/// One judged target.
#[derive(Clone, Debug)]
pub struct Target {
    /// What is judged.
    pub name: String,
    /// The measured median.
    pub value: f64,
    /// The bound.
    pub limit: f64,
    /// `true`: value must be ≤ limit (else ≥).
    pub at_most: bool,
    /// Unit, for printing.
    pub unit: &'static str,
}

impl Target {
    /// Whether the median meets the bound.
    pub fn pass(&self) -> bool {
        if self.at_most {
            self.value <= self.limit
        } else {
            self.value >= self.limit
        }
    }

    /// Headroom (positive) or shortfall (negative), in the unit.
    pub fn margin(&self) -> f64 {
        if self.at_most {
            self.limit - self.value
        } else {
            self.value - self.limit
        }
    }

    /// "PASS  name: value <= limit (margin m)" / "MISS ... (missed by m)".
    pub fn line(&self) -> String {
        let op = match (self.at_most, self.pass()) {
            (true, true) => "<=",
            (true, false) => ">",
            (false, true) => ">=",
            (false, false) => "<",
        };
        let u = self.unit;
        let m = self.margin();
        let tail = if self.pass() {
            format!("margin {}{u}", fmt_num(m))
        } else {
            format!("missed by {}{u}", fmt_num(-m))
        };
        format!(
            "{}  {}: {}{u} {op} {}{u} ({tail})",
            if self.pass() { "PASS" } else { "MISS" },
            self.name,
            fmt_num(self.value),
            fmt_num(self.limit)
        )
    }
}

fn fmt_num(v: f64) -> String {
    let a = v.abs();
    if a >= 100.0 {
        format!("{v:.0}")
    } else if a >= 10.0 {
        format!("{v:.1}")
    } else if a >= 0.1 || a == 0.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    }
}

/// The spec's targets (issue 10 for the per-call cost), judged on medians.
pub fn targets(r: &Results) -> Vec<Target> {
    let mut t = Vec::new();
    let w = r.calibration.iters;
    for th in [1, 2] {
        if let Some(v) = added_ns(r, Kind::Pcpu, th, 0) {
            t.push(Target {
                name: format!("pcpu added cost, {th} thread(s), no work"),
                value: v,
                limit: 1.5,
                at_most: true,
                unit: " ns",
            });
        }
    }
    for &th in &r.config.threads {
        if let (Some(p), Some(a)) = (
            added_ns(r, Kind::Pcpu, th, 0),
            added_ns(r, Kind::Atomic, th, 0),
        ) {
            t.push(Target {
                name: format!(
                    "pcpu added cost below atomic's ({} ns), {th} thread(s), no work",
                    fmt_num(a)
                ),
                value: p,
                limit: a,
                at_most: true,
                unit: " ns",
            });
        }
    }
    if let (Some(p), Some(d)) = (
        added_ns(r, Kind::Pcpu, 2, 0),
        added_ns(r, Kind::Percdev, 2, 0),
    ) {
        t.push(Target {
            name: format!(
                "pcpu added cost <= 1/10 of percdev's ({} ns), 2 threads, no work",
                fmt_num(d)
            ),
            value: p,
            limit: d / 10.0,
            at_most: true,
            unit: " ns",
        });
    }
    for th in [1, 2] {
        if let Some(v) = ratio(r, Kind::Pcpu, Kind::None, th, w) {
            t.push(Target {
                name: format!(
                    "pcpu calls/s / none calls/s, {th} thread(s), {:.0} ns work",
                    r.calibration.measured_ns
                ),
                value: v,
                limit: 0.97,
                at_most: false,
                unit: "",
            });
        }
    }
    if let Some(d) = drain_point(r, "pcpu", DrainCase::Idle) {
        t.push(Target {
            name: format!(
                "drain, nothing running, {} idle handles",
                r.config.idle_handles
            ),
            value: d.median_ns() / 1e6,
            limit: 1.0,
            at_most: true,
            unit: " ms",
        });
    }
    let dms = r.config.drain_delay.as_secs_f64() * 1e3;
    for &k in &r.config.drain_ks {
        if let Some(d) = drain_point(r, "pcpu", DrainCase::Running(k)) {
            t.push(Target {
                name: format!("drain, {k} call(s) running that end after d = {dms:.0} ms"),
                value: d.median_ns() / 1e6,
                limit: dms + 1.0,
                at_most: true,
                unit: " ms",
            });
        }
    }
    t
}

// ---------------------------------------------------------------------------
// Tables.

fn work_label(r: &Results, iters: u64) -> String {
    if iters == 0 {
        "0".into()
    } else {
        format!("{:.0} ns", r.work_ns(iters))
    }
}

fn threads_label(r: &Results, th: usize) -> String {
    if th > r.machine.cpus {
        format!("{th}*")
    } else {
        th.to_string()
    }
}

fn opt(v: Option<f64>, f: impl Fn(f64) -> String) -> String {
    v.map_or_else(|| "-".into(), f)
}

/// Rows of the throughput table (header first).
fn throughput_rows(r: &Results) -> Vec<Vec<String>> {
    let mut rows = vec![vec![
        "work".into(),
        "threads".into(),
        "scheme".into(),
        "Mcalls/s".into(),
        "spread".into(),
        "ns/call".into(),
        "added ns".into(),
        "x none".into(),
        "x percdev".into(),
        "cpu%".into(),
    ]];
    for iters in r.work_levels() {
        for &th in &r.config.threads {
            for kind in Kind::ALL {
                let Some(p) = r.point(kind, th, iters) else {
                    continue;
                };
                rows.push(vec![
                    work_label(r, iters),
                    threads_label(r, th),
                    kind.name().into(),
                    format!("{:.2}", p.rate() / 1e6),
                    format!("{:.1}%", p.spread_pct()),
                    format!("{:.2}", p.ns_per_call(r.machine.cpus)),
                    opt(added_ns(r, kind, th, iters), |v| format!("{v:+.2}")),
                    opt(ratio(r, kind, Kind::None, th, iters), |v| format!("{v:.3}")),
                    opt(ratio(r, kind, Kind::Percdev, th, iters), |v| {
                        format!("{v:.2}")
                    }),
                    format!("{:.0}", p.cpu_pct()),
                ]);
            }
        }
    }
    rows
}

fn fmt_ms(ns: f64) -> String {
    format!("{:.3}", ns / 1e6)
}

/// Rows of the drain table (header first).
fn drain_rows(r: &Results) -> Vec<Vec<String>> {
    let mut rows = vec![vec![
        "case".into(),
        "scheme".into(),
        "destroy ms (median)".into(),
        "max ms".into(),
        "after last leave ms".into(),
        "runs".into(),
    ]];
    let dms = r.config.drain_delay.as_millis();
    for d in &r.drains {
        let case = match d.case {
            DrainCase::Idle => format!("idle, {} handles", r.config.idle_handles),
            DrainCase::Running(k) => format!("{k} running, d={dms} ms"),
        };
        let scheme = match d.scheme {
            "devfs" => format!("devfs (poll {} ms)", r.config.devfs_poll.as_millis()),
            s => s.to_string(),
        };
        rows.push(vec![
            case,
            scheme,
            fmt_ms(d.median_ns()),
            fmt_ms(d.max_ns()),
            match d.case {
                DrainCase::Idle => "-".into(),
                DrainCase::Running(_) => fmt_ms(d.median_after_leave_ns()),
            },
            d.runs.len().to_string(),
        ]);
    }
    rows
}

/// Align columns: text columns left, numbers right.
fn render_text(rows: &[Vec<String>], left: usize) -> String {
    let ncol = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..ncol)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for (i, row) in rows.iter().enumerate() {
        let mut line = String::new();
        for (c, (cell, w)) in row.iter().zip(&widths).enumerate() {
            if c > 0 {
                line.push_str("  ");
            }
            if c < left {
                let _ = write!(line, "{cell:<w$}");
            } else {
                let _ = write!(line, "{cell:>w$}");
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
        if i == 0 {
            let total = widths.iter().sum::<usize>() + 2 * ncol.saturating_sub(1);
            out.push_str(&"-".repeat(total));
            out.push('\n');
        }
    }
    out
}

fn render_md(rows: &[Vec<String>], left: usize) -> String {
    let mut out = String::new();
    for (i, row) in rows.iter().enumerate() {
        out.push('|');
        for cell in row {
            let _ = write!(out, " {} |", cell.replace('|', "\\|"));
        }
        out.push('\n');
        if i == 0 {
            out.push('|');
            for c in 0..row.len() {
                out.push_str(if c < left { " --- |" } else { " ---: |" });
            }
            out.push('\n');
        }
    }
    out
}

fn oversub_note(r: &Results) -> Option<String> {
    let over: Vec<String> = r
        .config
        .threads
        .iter()
        .filter(|&&t| t > r.machine.cpus)
        .map(ToString::to_string)
        .collect();
    (!over.is_empty()).then(|| {
        format!(
            "* {} threads on {} CPUs: oversubscribed (threads time-share the CPUs; ns/call there \
             is wall time x {} CPUs / calls)",
            over.join(", "),
            r.machine.cpus,
            r.machine.cpus
        )
    })
}

/// The whole stdout report.
pub fn text(r: &Results) -> String {
    let mut s = String::new();
    let m = &r.machine;
    let _ = writeln!(
        s,
        "devref host benchmark{}",
        if r.config.quick {
            " (QUICK MODE: numbers not meaningful)"
        } else {
            ""
        }
    );
    let _ = writeln!(s, "machine: {} CPUs, {}, {}", m.cpus, m.cpu_model, m.kernel);
    let _ = writeln!(s, "date: {}   commit: {}", m.date, m.commit);
    let _ = writeln!(s, "host barrier: {}", m.host_barrier);
    let _ = writeln!(
        s,
        "work: {} iterations = {:.1} ns per call (calibrated once, target {} ns)",
        r.calibration.iters, r.calibration.measured_ns, r.calibration.target_ns
    );
    let _ = writeln!(
        s,
        "{} runs of {} ms per point; medians; spread = (max - min) / median of calls/s;\n\
         cpu% = workers' CPU time / their wall time: < 100 when preempted (outside load,\n\
         oversubscription) or blocked in a futex wait\n",
        r.config.reps,
        r.config.run.as_millis()
    );
    s.push_str(&render_text(&throughput_rows(r), 3));
    if let Some(n) = oversub_note(r) {
        let _ = writeln!(s, "{n}");
    }
    s.push('\n');
    s.push_str(&render_text(&drain_rows(r), 2));
    s.push('\n');
    for t in targets(r) {
        let _ = writeln!(s, "{}", t.line());
    }
    let _ = writeln!(s, "\nmeasured in {:.1} s", r.elapsed_s);
    s
}

// ---------------------------------------------------------------------------
// JSON.

/// docs/benchmarks.json.
pub fn json(r: &Results) -> Value {
    let c = r.machine.cpus;
    let points: Vec<Value> = r
        .points
        .iter()
        .map(|p| {
            let (lo, hi) = p.rate_range();
            json!({
                "scheme": p.kind.name(),
                "threads": p.threads,
                "oversubscribed": p.threads > c,
                "work_iters": p.iters,
                "work_ns": r.work_ns(p.iters),
                "calls_per_s": p.rate(),
                "calls_per_s_min": lo,
                "calls_per_s_max": hi,
                "spread_pct": p.spread_pct(),
                "ns_per_call": p.ns_per_call(c),
                "cpu_pct": p.cpu_pct(),
                "added_ns": added_ns(r, p.kind, p.threads, p.iters),
                "ratio_none": ratio(r, p.kind, Kind::None, p.threads, p.iters),
                "ratio_percdev": ratio(r, p.kind, Kind::Percdev, p.threads, p.iters),
                "runs": p.runs.iter().map(|x| json!({
                    "calls": x.calls,
                    "wall_ns": x.wall_ns,
                    "calls_per_s": x.calls_per_s(),
                    "ns_per_call": x.ns_per_call(p.threads, c),
                    "cpu_ns": x.cpu_ns,
                    "thread_wall_ns": x.thread_wall_ns,
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    let drains: Vec<Value> = r
        .drains
        .iter()
        .map(|d| {
            let (case, k) = match d.case {
                DrainCase::Idle => ("idle", 0),
                DrainCase::Running(k) => ("running", k),
            };
            json!({
                "scheme": d.scheme,
                "case": case,
                "k": k,
                "idle_handles": if k == 0 { r.config.idle_handles } else { 0 },
                "delay_ns": if k == 0 { 0 } else { r.config.drain_delay.as_nanos() as u64 },
                "median_ns": d.median_ns(),
                "max_ns": d.max_ns(),
                "median_after_last_leave_ns": d.median_after_leave_ns(),
                "runs_ns": d.runs.iter().map(|x| x.destroy_ns).collect::<Vec<_>>(),
            })
        })
        .collect();
    let targets: Vec<Value> = targets(r)
        .iter()
        .map(|t| {
            json!({
                "name": t.name,
                "value": t.value,
                "limit": t.limit,
                "at_most": t.at_most,
                "unit": t.unit.trim(),
                "pass": t.pass(),
                "margin": t.margin(),
            })
        })
        .collect();
    json!({
        "format": "devref-bench/1",
        "tool": "devref-bench",
        "quick": r.config.quick,
        "machine": {
            "cpus": c,
            "cpu_model": r.machine.cpu_model,
            "kernel": r.machine.kernel,
            "date": r.machine.date,
            "commit": r.machine.commit,
            "host_barrier": r.machine.host_barrier,
        },
        "config": {
            "threads": r.config.threads,
            "run_ms": r.config.run.as_millis() as u64,
            "reps": r.config.reps,
            "batch": crate::harness::BATCH,
            "idle_handles": r.config.idle_handles,
            "drain_ks": r.config.drain_ks,
            "drain_delay_ms": r.config.drain_delay.as_millis() as u64,
            "drain_reps": r.config.drain_reps,
            "devfs_poll_ms": r.config.devfs_poll.as_millis() as u64,
        },
        "work": {
            "target_ns": r.calibration.target_ns,
            "iters": r.calibration.iters,
            "calibrated_ns": r.calibration.measured_ns,
        },
        "schemes": Kind::ALL.iter().map(|k| json!({"name": k.name(), "model": k.describe()})).collect::<Vec<_>>(),
        "throughput": points,
        "drain": drains,
        "targets": targets,
        "elapsed_s": r.elapsed_s,
    })
}

// ---------------------------------------------------------------------------
// Markdown.

/// docs/benchmarks.md.
pub fn markdown(r: &Results, svg_name: &str) -> String {
    let m = &r.machine;
    let mut s = String::new();
    s.push_str(
        "<!-- Generated by `make bench` (rust/bench, devref-bench). Do not edit by hand. -->\n",
    );
    s.push_str("# devref benchmarks\n\n");
    if r.config.quick {
        s.push_str("**Quick mode: these numbers come from tiny runs and mean nothing.**\n\n");
    }
    s.push_str(
        "Host benchmark of the protection a character-device entry point needs: \
         devref's per-CPU gate against models of devfs's schemes, all run by one \
         harness on Linux. Regenerate with `make bench` (writes this file, \
         `benchmarks.json` and `benchmarks.svg`). The FreeBSD benchmark of the \
         real devices is `tools/devbench` (run in a FreeBSD VM).\n\n",
    );
    s.push_str("## Machine\n\n");
    let _ = writeln!(s, "- CPUs: {} ({})", m.cpus, m.cpu_model);
    let _ = writeln!(s, "- kernel: {}", m.kernel);
    let _ = writeln!(s, "- date: {}", m.date);
    let _ = writeln!(s, "- commit: `{}`", m.commit);
    let _ = writeln!(s, "- host platform barrier: {}", m.host_barrier);
    let _ = writeln!(
        s,
        "- work per call: {} loop iterations = {:.1} ns (calibrated once per run, target {} ns)",
        r.calibration.iters, r.calibration.measured_ns, r.calibration.target_ns
    );
    let _ = writeln!(
        s,
        "- {} runs of {} ms per point, sweeps interleaved (run k of every point in sweep k); \
         medians; measured in {:.0} s\n",
        r.config.reps,
        r.config.run.as_millis(),
        r.elapsed_s
    );
    s.push_str("## Schemes\n\nEach call is enter protection, the work (if any), leave.\n\n");
    for k in Kind::ALL {
        let _ = writeln!(s, "- `{}`: {}", k.name(), k.describe());
    }
    s.push_str(
        "\nLocks are `std::sync::Mutex` (futex-based sleep mutexes that spin briefly, like \
         FreeBSD's adaptive mtx); each lock and each shared counter sits on its own cache \
         lines, as separate kernel objects do.\n\n",
    );
    s.push_str("## Throughput\n\n");
    s.push_str(
        "`ns/call` is the time one call occupies a CPU: wall time x min(threads, CPUs) / calls \
         (with threads <= CPUs, each thread's own time per call). `added ns` is the scheme's \
         ns/call minus `none`'s at the same threads and work. `x none` and `x percdev` are \
         ratios of calls/s. `spread` is (max - min) / median of the runs' calls/s. `cpu%` is \
         the workers' CPU time over their own wall time: below 100 when they were preempted \
         (outside load, or more threads than CPUs) or blocked in a lock's futex wait.\n\n",
    );
    s.push_str(&render_md(&throughput_rows(r), 3));
    if let Some(n) = oversub_note(r) {
        let _ = writeln!(s, "\n\\{n}");
    }
    s.push_str(
        "\nA large `spread` means the runs disagree: on a shared or virtual machine, outside \
         load and host-side scheduling move single runs by tens of percent. The medians of many \
         interleaved runs are what the targets use; compare small differences with care.\n",
    );
    let _ = writeln!(s, "\n![calls/s vs threads]({svg_name})\n");
    s.push_str("## Drain latency\n\n");
    let _ = writeln!(
        s,
        "Time from the destroy request to its return. `pcpu`: `Gate::close_and_drain`. \
         `devfs`: a model of destroy_devl (mark the device dead, then poll si_threadcount with \
         {} ms sleeps, msleep(hz / 10), that nobody wakes). Idle: nothing running, {} open \
         handles (per-open objects holding the device) that are not inside. Running: k \
         threads inside, each leaving d = {} ms after the request; `after last leave` is the \
         time from the last leave to the return.\n",
        r.config.devfs_poll.as_millis(),
        r.config.idle_handles,
        r.config.drain_delay.as_millis()
    );
    s.push_str(&render_md(&drain_rows(r), 2));
    s.push_str("\n## Targets\n\nJudged on the medians above by the benchmark itself.\n\n```\n");
    for t in targets(r) {
        let _ = writeln!(s, "{}", t.line());
    }
    s.push_str("```\n");
    s
}

// ---------------------------------------------------------------------------
// SVG.

/// docs/benchmarks.svg: calls/s vs threads, one series per scheme, one
/// panel per work level; bars show the slowest and fastest run.
pub fn svg(r: &Results) -> Result<String, String> {
    use plotters::prelude::*;

    let mut buf = String::new();
    {
        let root = SVGBackend::with_string(&mut buf, (1100, 480)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let panels = root.split_evenly((1, 2));
        let colors = [
            RGBColor(0x55, 0x55, 0x55),
            RGBColor(0xd6, 0x27, 0x28),
            RGBColor(0x1f, 0x77, 0xb4),
            RGBColor(0x2c, 0xa0, 0x2c),
            RGBColor(0xff, 0x7f, 0x0e),
        ];
        let (mut lo, mut hi) = (f64::INFINITY, 0.0f64);
        for p in &r.points {
            let (a, b) = p.rate_range();
            lo = lo.min(a);
            hi = hi.max(b);
        }
        let lo = (lo / 2.0).max(1.0);
        let hi = hi * 2.0;
        let tmax = r.config.threads.iter().copied().max().unwrap_or(1) as f64 + 0.5;
        for (panel, iters) in panels.iter().zip(r.work_levels()) {
            let title = if iters == 0 {
                "no work".to_string()
            } else {
                format!("{:.0} ns of work per call", r.work_ns(iters))
            };
            let mut chart = ChartBuilder::on(panel)
                .caption(title, ("sans-serif", 20))
                .margin(12)
                .x_label_area_size(40)
                .y_label_area_size(70)
                .build_cartesian_2d(0.5f64..tmax, (lo..hi).log_scale())
                .map_err(|e| e.to_string())?;
            chart
                .configure_mesh()
                .x_desc(format!("threads ({} CPUs)", r.machine.cpus))
                .y_desc("calls/s")
                .x_labels(r.config.threads.len() + 8)
                .x_label_formatter(&|x| {
                    if (x - x.round()).abs() < 1e-9
                        && r.config.threads.contains(&(x.round() as usize))
                    {
                        format!("{}", x.round() as usize)
                    } else {
                        String::new()
                    }
                })
                .y_label_formatter(&|y| format!("{:.0e}", y))
                .draw()
                .map_err(|e| e.to_string())?;
            for (kind, color) in Kind::ALL.into_iter().zip(colors) {
                let pts: Vec<(f64, f64)> = r
                    .config
                    .threads
                    .iter()
                    .filter_map(|&t| r.point(kind, t, iters).map(|p| (t as f64, p.rate())))
                    .collect();
                chart
                    .draw_series(LineSeries::new(pts.clone(), color.stroke_width(2)))
                    .map_err(|e| e.to_string())?
                    .label(kind.name())
                    .legend(move |(x, y)| {
                        PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
                    });
                chart
                    .draw_series(
                        pts.iter()
                            .map(|&(x, y)| Circle::new((x, y), 3, color.filled())),
                    )
                    .map_err(|e| e.to_string())?;
                let bars: Vec<_> = r
                    .config
                    .threads
                    .iter()
                    .filter_map(|&t| r.point(kind, t, iters))
                    .map(|p| {
                        let (a, b) = p.rate_range();
                        PathElement::new(vec![(p.threads as f64, a), (p.threads as f64, b)], color)
                    })
                    .collect();
                chart.draw_series(bars).map_err(|e| e.to_string())?;
            }
            chart
                .configure_series_labels()
                .position(SeriesLabelPosition::LowerLeft)
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK)
                .draw()
                .map_err(|e| e.to_string())?;
        }
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(buf)
}

/// The README's headline: per-call cost at 1 and 2 threads without work,
/// and destroy latency, from the same run as docs/benchmarks.md.
pub fn headline(r: &Results) -> String {
    let c = r.machine.cpus;
    let mut s = String::new();
    s.push_str(&format!(
        "Host benchmark, {} CPUs ({}), {}, commit `{}` — medians; \
         the full table, the targets and the plot are in \
         [docs/benchmarks.md](docs/benchmarks.md).\n\n",
        c, r.machine.cpu_model, r.machine.date, r.machine.commit
    ));
    s.push_str(
        "| ns per call, no work | none | pcpu (devref) | atomic | percdev (devfs since 2019) |\n",
    );
    s.push_str("|---|---|---|---|---|\n");
    for threads in [1usize, 2] {
        let cell = |k: Kind| {
            r.point(k, threads, 0)
                .map_or("-".to_string(), |p| format!("{:.1}", p.ns_per_call(c)))
        };
        s.push_str(&format!(
            "| {} thread{} | {} | {} | {} | {} |\n",
            threads,
            if threads == 1 { "" } else { "s" },
            cell(Kind::None),
            cell(Kind::Pcpu),
            cell(Kind::Atomic),
            cell(Kind::Percdev)
        ));
    }
    let ms = |scheme: &str, case: DrainCase| {
        drain_point(r, scheme, case).map_or("-".to_string(), |d| {
            format!("{:.3} ms", d.median_ns() / 1e6)
        })
    };
    s.push_str(&format!(
        "\nDestroy with 10,000 idle open handles: {} (devfs model: {}); with one call \
         running that ends after 20 ms: {} (devfs model, polling every 100 ms: {}).\n",
        ms("pcpu", DrainCase::Idle),
        ms("devfs", DrainCase::Idle),
        ms("pcpu", DrainCase::Running(1)),
        ms("devfs", DrainCase::Running(1)),
    ));
    let ts = targets(r);
    let missed: Vec<String> = ts.iter().filter(|t| !t.pass()).map(|t| t.line()).collect();
    s.push_str(&format!(
        "\nTargets met: {} of {}.",
        ts.len() - missed.len(),
        ts.len()
    ));
    if !missed.is_empty() {
        s.push_str(" Missed:\n\n");
        for m in missed {
            s.push_str(&format!("- {}\n", m.trim_start_matches("MISS").trim()));
        }
    } else {
        s.push('\n');
    }
    s
}

/// Replace the text between the headline markers of a README.
pub fn splice_headline(readme: &str, headline: &str) -> Result<String, String> {
    const BEGIN: &str = "<!-- bench-headline:begin (make bench writes this part) -->";
    const END: &str = "<!-- bench-headline:end -->";
    let b = readme
        .find(BEGIN)
        .ok_or("README has no bench-headline:begin marker")?;
    let e = readme
        .find(END)
        .ok_or("README has no bench-headline:end marker")?;
    if e < b {
        return Err("README's bench-headline markers are out of order".into());
    }
    Ok(format!(
        "{}{}\n{}{}",
        &readme[..b + BEGIN.len()],
        "\n",
        headline,
        &readme[e..]
    ))
}
