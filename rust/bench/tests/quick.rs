//! The benchmark harness in quick mode: proves that every scheme, the drain
//! cases, the targets and the three output files work.  It asserts
//! structure and sanity, never speed.

use devref_bench::schemes::Kind;
use devref_bench::{report, run, Config, DrainCase};

#[test]
fn quick_run_produces_a_complete_report() {
    let cfg = Config::quick();
    let r = run(&cfg, &mut |l| eprintln!("{l}")).expect("harness error in quick mode");

    // Calibration.
    assert!(r.calibration.iters >= 1);
    assert!(r.calibration.measured_ns.is_finite() && r.calibration.measured_ns > 0.0);

    // Throughput grid: 2 work levels x threads x schemes, each with `reps`
    // runs that made calls.
    assert_eq!(r.points.len(), 2 * cfg.threads.len() * Kind::ALL.len());
    for iters in r.work_levels() {
        for &t in &cfg.threads {
            for k in Kind::ALL {
                let p = r.point(k, t, iters).expect("grid point");
                assert_eq!(p.runs.len(), cfg.reps);
                for run in &p.runs {
                    assert!(run.calls > 0 && run.wall_ns > 0);
                }
                assert!(p.rate().is_finite() && p.rate() > 0.0);
                assert!(p.ns_per_call(r.machine.cpus) > 0.0);
            }
            let none = report::added_ns(&r, Kind::None, t, iters).expect("none");
            assert!(none.abs() < 1e-9, "none's added cost is 0 by definition");
            let rn = report::ratio(&r, Kind::None, Kind::None, t, iters).expect("ratio");
            assert!((rn - 1.0).abs() < 1e-12);
        }
    }

    // Drain: idle and running cases for both schemes; pcpu returns after the
    // calls left (the harness checks that) and long before devfs's first
    // poll step would end.
    assert_eq!(r.drains.len(), 2 * (1 + cfg.drain_ks.len()));
    for d in &r.drains {
        assert_eq!(d.runs.len(), cfg.drain_reps);
        if let DrainCase::Running(_) = d.case {
            let delay = cfg.drain_delay.as_nanos() as f64;
            assert!(
                d.median_ns() >= delay,
                "{} returned before the calls left",
                d.scheme
            );
            if d.scheme == "devfs" {
                assert!(d.median_ns() >= cfg.devfs_poll.as_nanos() as f64);
            }
        }
    }

    // Targets are judged (whatever the verdict in quick mode).
    let targets = report::targets(&r);
    assert_eq!(
        targets.len(),
        3 + cfg.threads.len() + 2 + 1 + cfg.drain_ks.len()
    );
    for t in &targets {
        let l = t.line();
        assert!(l.starts_with("PASS  ") || l.starts_with("MISS  "), "{l}");
    }

    // Text table.
    let text = report::text(&r);
    assert!(text.contains("QUICK MODE"));
    for k in Kind::ALL {
        assert!(text.contains(k.name()));
    }
    assert!(text.contains("oversubscribed"));

    // Files.
    let dir = std::env::temp_dir().join(format!("devref-bench-test-{}", std::process::id()));
    devref_bench::write_docs(&r, &dir).expect("write docs");
    let json: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("benchmarks.json")).expect("json file"),
    )
    .expect("valid JSON");
    assert_eq!(json["format"], "devref-bench/1");
    assert_eq!(json["quick"], true);
    assert_eq!(
        json["throughput"].as_array().map(Vec::len),
        Some(r.points.len())
    );
    assert_eq!(json["drain"].as_array().map(Vec::len), Some(r.drains.len()));
    assert_eq!(
        json["targets"].as_array().map(Vec::len),
        Some(targets.len())
    );
    assert!(json["machine"]["cpus"].as_u64().is_some_and(|c| c >= 1));
    let md = std::fs::read_to_string(dir.join("benchmarks.md")).expect("md file");
    assert!(md.contains("# devref benchmarks") && md.contains("| pcpu |"));
    assert!(md.contains("benchmarks.svg"));
    let svg = std::fs::read_to_string(dir.join("benchmarks.svg")).expect("svg file");
    assert!(svg.contains("<svg") && svg.contains("</svg>"));
    for k in Kind::ALL {
        assert!(svg.contains(k.name()), "legend lacks {}", k.name());
    }
    std::fs::remove_dir_all(&dir).expect("clean up");

    // The README headline comes from the same run and is spliced between
    // the markers, leaving the rest of the README alone.
    let h = report::headline(&r);
    assert!(
        h.contains("| 1 thread |") && h.contains("| 2 threads |"),
        "{h}"
    );
    assert!(h.contains("Targets met:"), "{h}");
    let readme = "intro\n<!-- bench-headline:begin (make bench writes this part) -->\nold\n<!-- bench-headline:end -->\ntail\n";
    let out = report::splice_headline(readme, &h).expect("markers");
    assert!(out.starts_with("intro\n") && out.ends_with("<!-- bench-headline:end -->\ntail\n"));
    assert!(!out.contains("\nold\n") && out.contains(&h));
    assert!(report::splice_headline("no markers", &h).is_err());
}
