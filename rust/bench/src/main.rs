//! `devref-bench`: devref's host benchmark (`make bench`).
//!
//! ```text
//! devref-bench [--quick] [--out DIR] [--readme FILE]
//! ```
//!
//! Prints the table and the PASS/MISS target lines; with `--out DIR`, also
//! writes DIR/benchmarks.json, DIR/benchmarks.md and DIR/benchmarks.svg;
//! with `--readme FILE`, rewrites the headline between FILE's markers.
//! Exits 0 when the benchmark ran (missed targets included), 1 on a
//! harness error, 2 on a usage error.

use std::path::PathBuf;
use std::process::ExitCode;

use devref_bench::{report, run, Config};

const USAGE: &str = "usage: devref-bench [--quick] [--out DIR] [--readme FILE]";

fn main() -> ExitCode {
    let mut quick = false;
    let mut out: Option<PathBuf> = None;
    let mut readme: Option<PathBuf> = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--quick" => quick = true,
            "--readme" => match args.next() {
                Some(f) => readme = Some(PathBuf::from(f)),
                None => {
                    eprintln!("{USAGE}");
                    return ExitCode::from(2);
                }
            },
            "--out" => match args.next() {
                Some(d) => out = Some(PathBuf::from(d)),
                None => {
                    eprintln!("{USAGE}");
                    return ExitCode::from(2);
                }
            },
            "-h" | "--help" => {
                println!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            _ => {
                eprintln!("devref-bench: unknown argument {a:?}\n{USAGE}");
                return ExitCode::from(2);
            }
        }
    }
    let cfg = if quick {
        Config::quick()
    } else {
        Config::full()
    };
    let results = match run(&cfg, &mut |l| eprintln!("devref-bench: {l}")) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("devref-bench: harness error: {e}");
            return ExitCode::from(1);
        }
    };
    print!("{}", report::text(&results));
    if let Some(dir) = out {
        if let Err(e) = devref_bench::write_docs(&results, &dir) {
            eprintln!("devref-bench: {e}");
            return ExitCode::from(1);
        }
        eprintln!(
            "devref-bench: wrote {0}/benchmarks.json, {0}/benchmarks.md, {0}/benchmarks.svg",
            dir.display()
        );
    }
    if let Some(f) = readme {
        let spliced = std::fs::read_to_string(&f)
            .map_err(|e| format!("{}: {e}", f.display()))
            .and_then(|t| report::splice_headline(&t, &report::headline(&results)))
            .and_then(|t| std::fs::write(&f, t).map_err(|e| format!("{}: {e}", f.display())));
        if let Err(e) = spliced {
            eprintln!("devref-bench: {e}");
            return ExitCode::from(1);
        }
        eprintln!("devref-bench: updated the headline in {}", f.display());
    }
    ExitCode::SUCCESS
}
