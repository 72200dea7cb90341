//! Builds kld-like objects with Debian's clang-14 against the real FreeBSD
//! headers, and runs kldcheck on them.  Missing tools or headers fail the
//! test loudly: a verifier test that silently passes proves nothing.

#![allow(dead_code)] // each test binary uses a different subset

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Kernel C flags for a module (the build's KMOD_CFLAGS minus warnings
/// that only matter for the project's own sources).
const KERNEL_FLAGS: &[&str] = &[
    "--target=x86_64-unknown-freebsd15.0",
    "-nostdinc",
    "-D_KERNEL",
    "-DKLD_MODULE",
    "-D__FreeBSD_version=1500001",
    "-O2",
    "-ffreestanding",
    "-fwrapv",
    "-fno-common",
    "-fno-omit-frame-pointer",
    "-mcmodel=kernel",
    "-mno-red-zone",
    "-mno-mmx",
    "-mno-sse",
    "-msoft-float",
    "-fno-asynchronous-unwind-tables",
    "-fno-pic",
    "-fno-pie",
    "-fno-stack-protector",
    "-Wall",
    "-Werror",
];

/// The headers whose declarations the test modules may use.
pub const KPI_HEADERS: &str = "\
#include <sys/param.h>
#include <sys/systm.h>
#include <sys/kernel.h>
#include <sys/module.h>
#include <sys/malloc.h>
#include <sys/lock.h>
#include <sys/mutex.h>
";

/// The exit status kldcheck uses for violations.
pub const EXIT_VIOLATIONS: i32 = 1;

pub fn clang() -> PathBuf {
    tool(
        "KLDCHECK_CLANG",
        "/usr/bin/clang-14",
        "clang-14 (apt-get install clang-14)",
    )
}

pub fn ld_lld() -> PathBuf {
    tool(
        "KLDCHECK_LD_LLD",
        "/usr/bin/ld.lld-14",
        "ld.lld-14 (apt-get install lld-14)",
    )
}

fn tool(variable: &str, default: &str, what: &str) -> PathBuf {
    let path = std::env::var_os(variable).map_or_else(|| PathBuf::from(default), PathBuf::from);
    assert!(
        path.exists(),
        "kldcheck tests need {what} at {} (override with {variable}); it is not installed",
        path.display()
    );
    path
}

/// FreeBSD headers: $DEVREF_FBSD_INCLUDE, else $HOME/.cache/devref/freebsd-15/include.
pub fn freebsd_include() -> PathBuf {
    let dir = std::env::var_os("DEVREF_FBSD_INCLUDE").map_or_else(
        || {
            let home = std::env::var_os("HOME")
                .expect("HOME is not set and DEVREF_FBSD_INCLUDE is not given");
            Path::new(&home).join(".cache/devref/freebsd-15/include")
        },
        PathBuf::from,
    );
    for part in ["arch", "generic"] {
        assert!(
            dir.join(part).is_dir(),
            "FreeBSD headers not found at {}/{part}: run mk/deps.sh or set DEVREF_FBSD_INCLUDE",
            dir.display()
        );
    }
    dir
}

/// A private scratch directory, removed when the test ends.
pub struct Scratch {
    pub dir: PathBuf,
}

impl Scratch {
    pub fn new(test: &str) -> Self {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let unique = COUNTER.fetch_add(1, Ordering::Relaxed);
        let dir =
            std::env::temp_dir().join(format!("kldcheck-{}-{test}-{unique}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create scratch dir");
        // The kernel build force-includes an options header; ours is empty.
        std::fs::write(dir.join("opt_global.h"), "").expect("write opt_global.h");
        Self { dir }
    }

    pub fn write(&self, name: &str, contents: &str) -> PathBuf {
        let path = self.dir.join(name);
        std::fs::write(&path, contents).expect("write scratch file");
        path
    }

    /// Kernel flags with `replace` applied (pairs of old flag, new flag;
    /// an empty new flag drops the old one) and `extra` appended.
    fn flags(&self, replace: &[(&str, &str)], extra: &[&str]) -> Vec<String> {
        let include = freebsd_include();
        let mut flags: Vec<String> = KERNEL_FLAGS
            .iter()
            .filter_map(|flag| match replace.iter().find(|(old, _)| old == flag) {
                Some((_, "")) => None,
                Some((_, new)) => Some((*new).to_owned()),
                None => Some((*flag).to_owned()),
            })
            .collect();
        // arch must come before generic: it provides <machine/...>.
        flags.extend([
            "-isystem".to_owned(),
            include.join("arch").display().to_string(),
            "-isystem".to_owned(),
            include.join("generic").display().to_string(),
            "-include".to_owned(),
            self.dir.join("opt_global.h").display().to_string(),
        ]);
        flags.extend(extra.iter().map(|flag| (*flag).to_owned()));
        flags
    }

    /// Compiles `source` as kernel C and links it like a module
    /// (`ld.lld -m elf_x86_64_fbsd -r`), returning the .ko path.
    pub fn build_module(
        &self,
        name: &str,
        source: &str,
        replace: &[(&str, &str)],
        extra: &[&str],
    ) -> PathBuf {
        let c_file = self.write(&format!("{name}.c"), source);
        let object = self.dir.join(format!("{name}.o"));
        let module = self.dir.join(format!("{name}.ko"));
        run(Command::new(clang())
            .args(self.flags(replace, extra))
            .arg("-c")
            .arg(&c_file)
            .arg("-o")
            .arg(&object));
        run(Command::new(ld_lld())
            .args(["-m", "elf_x86_64_fbsd", "-r", "-o"])
            .arg(&module)
            .arg(&object));
        module
    }

    /// `clang-14 -E` of the KPI header list with the same flags: the file
    /// kldcheck's --kpi-decls expects.
    pub fn kpi_decls(&self) -> PathBuf {
        let header = self.write("kpi-headers.h", KPI_HEADERS);
        let output = self.dir.join("kpi-decls.i");
        run(Command::new(clang())
            .args(self.flags(&[], &[]))
            .args(["-E", "-P", "-x", "c"])
            .arg(&header)
            .arg("-o")
            .arg(&output));
        output
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn run(command: &mut Command) {
    let output = command
        .output()
        .unwrap_or_else(|error| panic!("cannot run {command:?}: {error}"));
    assert!(
        output.status.success(),
        "{command:?} failed:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// kldcheck's result: exit code and report text.
pub struct Verdict {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

pub fn kldcheck<I, S>(args: I) -> Verdict
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    let Output {
        status,
        stdout,
        stderr,
    } = Command::new(env!("CARGO_BIN_EXE_kldcheck"))
        .args(args)
        .output()
        .expect("run kldcheck");
    Verdict {
        code: status.code(),
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
    }
}

impl Verdict {
    pub fn assert_passes(&self) {
        assert_eq!(
            self.code,
            Some(0),
            "kldcheck should pass:\n{}{}",
            self.stdout,
            self.stderr
        );
        assert!(
            self.stdout.contains("1 modules, 0 violations"),
            "summary missing:\n{}",
            self.stdout
        );
    }

    /// Exit status says "violations" and some FAIL line mentions every needle.
    pub fn assert_rejected_for(&self, needles: &[&str]) {
        assert_eq!(
            self.code,
            Some(EXIT_VIOLATIONS),
            "kldcheck should reject:\n{}{}",
            self.stdout,
            self.stderr
        );
        let named = self
            .stdout
            .lines()
            .filter(|line| line.trim_start().starts_with("FAIL"))
            .any(|line| needles.iter().all(|needle| line.contains(needle)));
        assert!(named, "no FAIL line names {needles:?}:\n{}", self.stdout);
    }
}
