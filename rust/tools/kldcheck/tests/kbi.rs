//! `kldcheck kbi` end to end: small C files compiled twice with clang-14
//! `-g` — the "module" and the "kernel" view — with one deliberate layout
//! difference each, and the real FreeBSD cpuset_t mistake that prompted
//! the check.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use support::{kldcheck, Scratch, Verdict, EXIT_VIOLATIONS};

/// Target flags of the fixtures: the kernel's target, no host headers.
/// -O2 because clang emits DWARF declarations of called extern functions
/// (their parameter types) only for the call sites of optimised code.
const FLAGS: &[&str] = &[
    "--target=x86_64-unknown-freebsd15.0",
    "-ffreestanding",
    "-nostdinc",
    "-O2",
    "-g",
    "-c",
];

/// clang-14, or `None` (and a note on stderr) when it is not installed:
/// these tests need it to produce DWARF at all.
fn clang() -> Option<PathBuf> {
    let path = std::env::var_os("KLDCHECK_CLANG")
        .map_or_else(|| PathBuf::from("/usr/bin/clang-14"), PathBuf::from);
    if path.exists() {
        Some(path)
    } else {
        eprintln!(
            "SKIPPED: kbi tests need clang-14 at {} (override with KLDCHECK_CLANG)",
            path.display()
        );
        None
    }
}

/// Compiles `source` as `name.o` in `scratch` with `FLAGS` plus `extra`.
fn compile(clang: &Path, scratch: &Scratch, name: &str, source: &str, extra: &[&str]) -> PathBuf {
    let c_file = scratch.write(&format!("{name}.c"), source);
    let object = scratch.dir.join(format!("{name}.o"));
    let output = Command::new(clang)
        .args(FLAGS)
        .args(extra)
        .arg(&c_file)
        .arg("-o")
        .arg(&object)
        .output()
        .expect("run clang");
    assert!(
        output.status.success(),
        "clang failed on {name}.c:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    object
}

/// `kldcheck kbi` with each object after its view's flag, then `extra`.
fn kbi(modules: &[&Path], kernel: &[&Path], extra: &[&str]) -> Verdict {
    let mut args = vec!["kbi".to_owned()];
    for (flag, paths) in [("--module", modules), ("--kernel", kernel)] {
        for path in paths {
            args.push(flag.to_owned());
            args.push(path.display().to_string());
        }
    }
    args.extend(extra.iter().map(|arg| (*arg).to_owned()));
    kldcheck(args)
}

fn assert_kbi_passes(verdict: &Verdict) {
    assert_eq!(
        verdict.code,
        Some(0),
        "kbi should pass:\n{}{}",
        verdict.stdout,
        verdict.stderr
    );
    assert!(
        verdict.stdout.contains(" 0 violations"),
        "summary missing:\n{}",
        verdict.stdout
    );
}

/// A header-like file: a struct with a function-pointer table, a bitfield
/// word, an anonymous union with an anonymous struct inside, an enum, a
/// typedef'd anonymous struct, and an extern function taking a struct by
/// value (so its declaration, with parameter types, is in the DWARF).
/// `tweak` is substituted for `@TWEAK@`, where each test puts its change.
const HEADER: &str = r#"
struct knote;
struct filterops {
	int	f_isfd;
	int	(*f_attach)(struct knote *kn);
	void	(*f_detach)(struct knote *kn);
	int	(*f_event)(struct knote *kn, long hint);
	void	(*f_touch)(struct knote *kn, void *kev, unsigned long type);
	int	(*f_userdump)(void *p, struct knote *kn, void *kin);
	@FILTEROPS_TAIL@
};
struct td_like {
	int		td_flags;
	unsigned	td_a : 3, td_b : 5;
	union {
		long	td_long;
		struct {
			@ANON_FIRST@	td_c;
			short	td_s;
		};
	} td_u;
	@TD_TAIL@
};
enum td_state { TDS_INACTIVE = 0, TDS_RUNNING = @RUNNING@ };
typedef struct { int x; int y; } point_t;
struct by_value { long a; long b; };
void kbi_consume(struct by_value v, point_t p);
@EXTRA@
int kbi_use(struct filterops *f, struct td_like *t, enum td_state s, point_t *p);
int
kbi_use(struct filterops *f, struct td_like *t, enum td_state s, point_t *p)
{
	struct by_value v = { f->f_isfd, t->td_b };
	kbi_consume(v, *p);
	return (f->f_isfd + t->td_flags + t->td_u.td_s + (int)s + p->x);
}
"#;

/// `HEADER` with the defaults, then `changes` (placeholder, text) applied.
fn header(changes: &[(&str, &str)]) -> String {
    let defaults = [
        ("@FILTEROPS_TAIL@", ""),
        ("@ANON_FIRST@", "char"),
        ("@TD_TAIL@", ""),
        ("@RUNNING@", "1"),
        ("@EXTRA@", ""),
    ];
    let mut text = HEADER.to_owned();
    for (placeholder, default) in defaults {
        let value = changes
            .iter()
            .find(|(name, _)| *name == placeholder)
            .map_or(default, |(_, value)| value);
        text = text.replace(placeholder, value);
    }
    text
}

/// Builds the module view from `module` and the kernel view from `kernel`
/// and runs the check; `None` when clang is missing.
fn compare(test: &str, module: &str, kernel: &str, extra: &[&str]) -> Option<Verdict> {
    let clang = clang()?;
    let scratch = Scratch::new(test);
    let module = compile(&clang, &scratch, "module", module, &[]);
    let kernel = compile(&clang, &scratch, "kernel", kernel, &[]);
    Some(kbi(&[&module], &[&kernel], extra))
}

#[test]
fn identical_views_pass() {
    let Some(verdict) = compare("same", &header(&[]), &header(&[]), &[]) else {
        return;
    };
    assert_kbi_passes(&verdict);
    // Everything was actually read: the structs, the enum, the typedefs
    // and the extern function's prototype.
    for needle in [
        "5 types defined in both views have the same layout",
        "2 functions take and return the same sizes",
    ] {
        assert!(verdict.stdout.contains(needle), "{}", verdict.stdout);
    }
}

#[test]
fn member_added_at_the_end_is_named() {
    let kernel = header(&[(
        "@FILTEROPS_TAIL@",
        "int (*f_copy)(struct knote *kn, void *p);",
    )]);
    let Some(verdict) = compare("grown", &header(&[]), &kernel, &[]) else {
        return;
    };
    verdict.assert_rejected_for(&[
        "kbi-types",
        "struct filterops: member f_copy at 48 in kernel, absent in module",
    ]);
    verdict.assert_rejected_for(&["struct filterops: size 48 in module, 56 in kernel"]);
}

#[test]
fn cpuset_sized_by_maxcpu_is_rejected() {
    let source = |maxcpu: u32| {
        format!(
            r#"
#define MAXCPU {maxcpu}
typedef struct _cpuset {{ long __bits[(MAXCPU + 63) / 64]; }} cpuset_t;
void smp_rendezvous_cpus_retry(cpuset_t map, void (*action)(void *), void *arg);
void kbi_rendezvous(cpuset_t *map, void (*action)(void *));
void
kbi_rendezvous(cpuset_t *map, void (*action)(void *))
{{
	smp_rendezvous_cpus_retry(*map, action, map);
}}
"#
        )
    };
    let Some(verdict) = compare("cpuset", &source(1), &source(1024), &[]) else {
        return;
    };
    verdict.assert_rejected_for(&["cpuset_t (struct _cpuset): size 8 in module, 128 in kernel"]);
    verdict.assert_rejected_for(&[
        "kbi-functions",
        "function smp_rendezvous_cpus_retry: parameter 1",
        "size 8 in module, 128 in kernel (cpuset_t)",
    ]);
    verdict.assert_rejected_for(&["struct _cpuset: member __bits size 8 in module, 128 in kernel"]);
}

#[test]
fn moved_members_are_rejected() {
    // An int before td_flags moves every member after it.
    let kernel = header(&[]).replacen("int\t\ttd_flags;", "int\t\ttd_pad;\n\tint\t\ttd_flags;", 1);
    assert_ne!(kernel, header(&[]), "fixture edit");
    let Some(verdict) = compare("moved", &header(&[]), &kernel, &[]) else {
        return;
    };
    verdict.assert_rejected_for(&["struct td_like: member td_flags at 0 in module, 4 in kernel"]);
    verdict.assert_rejected_for(&["member td_a at byte 4 bit 0 in module, byte 8 bit 0 in kernel"]);
    verdict
        .assert_rejected_for(&["struct td_like: member td_pad at 0 in kernel, absent in module"]);

    // A wider first member of the anonymous struct moves td_s inside the
    // anonymous union, while the containing struct keeps its size.
    let kernel = header(&[("@ANON_FIRST@", "int")]);
    let Some(verdict) = compare("anon", &header(&[]), &kernel, &[]) else {
        return;
    };
    verdict.assert_rejected_for(&[
        "struct td_like: member td_u.<anon>.td_s at 10 in module, 12 in kernel",
    ]);
    verdict.assert_rejected_for(&[
        "member td_u.<anon>.td_c size 1 in module, 4 in kernel (char vs int)",
    ]);
    assert!(
        !verdict.stdout.contains("td_like: size"),
        "{}",
        verdict.stdout
    );
}

#[test]
fn changed_enumerator_is_rejected() {
    let kernel = header(&[("@RUNNING@", "2")]);
    let Some(verdict) = compare("enum", &header(&[]), &kernel, &[]) else {
        return;
    };
    verdict
        .assert_rejected_for(&["enum td_state: enumerator TDS_RUNNING = 1 in module, 2 in kernel"]);
}

#[test]
fn type_missing_from_kernel_view_warns_unless_required() {
    let module = header(&[(
        "@EXTRA@",
        "struct only_module { int a; };\nint kbi_only(struct only_module *m);\n\
         int kbi_only(struct only_module *m) { return (m->a); }",
    )]);
    let Some(verdict) = compare("unseen", &module, &header(&[]), &[]) else {
        return;
    };
    assert_kbi_passes(&verdict);
    assert!(
        verdict
            .stdout
            .contains("warn  kbi-types: struct only_module: defined in the module view only"),
        "{}",
        verdict.stdout
    );

    let Some(verdict) = compare(
        "required",
        &module,
        &header(&[]),
        &["--require", "struct only_module", "--require=point_t"],
    ) else {
        return;
    };
    verdict.assert_rejected_for(&[
        "kbi-require",
        "required type struct only_module is not defined in the kernel view",
    ]);
    assert!(
        verdict
            .stdout
            .contains("ok    kbi-require: point_t is defined in both views"),
        "{}",
        verdict.stdout
    );
}

#[test]
fn module_objects_that_disagree_are_rejected() {
    let Some(clang) = clang() else {
        return;
    };
    let scratch = Scratch::new("odr");
    let first = compile(&clang, &scratch, "first", &header(&[]), &[]);
    let second = compile(
        &clang,
        &scratch,
        "second",
        &header(&[("@TD_TAIL@", "long td_extra;")]),
        &[],
    );
    let kernel = compile(&clang, &scratch, "kernel", &header(&[]), &[]);
    let verdict = kbi(&[&first, &second], &[&kernel], &[]);
    verdict.assert_rejected_for(&[
        "kbi-odr",
        "module view disagrees with itself: struct td_like: size",
        "first.o",
        "second.o",
    ]);
    verdict.assert_rejected_for(&["kbi-odr", "member td_extra", "absent in"]);
}

#[test]
fn dwarf_4_and_5_objects_are_both_read() {
    let Some(clang) = clang() else {
        return;
    };
    let scratch = Scratch::new("dwarf");
    let same = header(&[]);
    let grown = header(&[("@TD_TAIL@", "long td_extra;")]);
    let v4 = compile(&clang, &scratch, "v4", &same, &["-gdwarf-4"]);
    let v5 = compile(&clang, &scratch, "v5", &same, &["-gdwarf-5"]);
    let v5_grown = compile(&clang, &scratch, "v5grown", &grown, &["-gdwarf-5"]);
    let v4_grown = compile(&clang, &scratch, "v4grown", &grown, &["-gdwarf-4"]);

    let verdict = kbi(&[&v4, &v5], &[&v5], &[]);
    assert_kbi_passes(&verdict);
    assert!(
        verdict.stdout.contains("2 units (DWARF 4, 5): 5 types"),
        "{}",
        verdict.stdout
    );
    assert!(
        verdict.stdout.contains("5 types defined in both views"),
        "{}",
        verdict.stdout
    );
    // Not vacuous in either direction: differences are seen across versions.
    kbi(&[&v4], &[&v5_grown], &[]).assert_rejected_for(&[
        "struct td_like: member td_extra at 16 in kernel, absent in module",
    ]);
    kbi(&[&v5], &[&v4_grown], &[]).assert_rejected_for(&[
        "struct td_like: member td_extra at 16 in kernel, absent in module",
    ]);
}

#[test]
fn inputs_without_dwarf_are_usage_errors() {
    let Some(clang) = clang() else {
        return;
    };
    let scratch = Scratch::new("nodwarf");
    let with_g = compile(&clang, &scratch, "with", &header(&[]), &[]);
    let without_g = compile(&clang, &scratch, "without", &header(&[]), &["-g0"]);
    let verdict = kbi(&[&with_g], &[&without_g], &[]);
    assert_eq!(
        verdict.code,
        Some(2),
        "{}{}",
        verdict.stdout,
        verdict.stderr
    );
    assert!(
        verdict.stderr.contains("has no DWARF") && verdict.stderr.contains("without.o"),
        "{}",
        verdict.stderr
    );
    let text = scratch.write("text.o", "not an object\n");
    let verdict = kbi(&[&text], &[&with_g], &[]);
    assert_eq!(
        verdict.code,
        Some(2),
        "{}{}",
        verdict.stdout,
        verdict.stderr
    );
    assert_ne!(verdict.code, Some(EXIT_VIOLATIONS));
}

/// FreeBSD headers, if fetched (mk/deps.sh): $DEVREF_FBSD_INCLUDE, else
/// $HOME/.cache/devref/freebsd-15/include.
fn freebsd_include() -> Option<PathBuf> {
    let dir = match std::env::var_os("DEVREF_FBSD_INCLUDE") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(&std::env::var_os("HOME")?).join(".cache/devref/freebsd-15/include"),
    };
    if dir.join("arch").is_dir() && dir.join("generic").is_dir() {
        Some(dir)
    } else {
        eprintln!(
            "SKIPPED: FreeBSD headers not found at {} (run mk/deps.sh)",
            dir.display()
        );
        None
    }
}

fn as_strs(flags: &[String]) -> Vec<&str> {
    flags.iter().map(String::as_str).collect()
}

/// The original bug: the same shim source compiled with an empty options
/// header (no SMP, so MAXCPU 1) and with the kernel's `SMP`.
#[test]
fn real_headers_without_smp_are_rejected_for_cpuset_t() {
    let (Some(clang), Some(include)) = (clang(), freebsd_include()) else {
        return;
    };
    let scratch = Scratch::new("realsmp");
    let source = r#"#include <sys/param.h>
#include <sys/cpuset.h>
#include <sys/smp.h>

void kbi_rendezvous(cpuset_t *map, void (*action)(void *));
void
kbi_rendezvous(cpuset_t *map, void (*action)(void *))
{
	smp_rendezvous_cpus_retry(*map, NULL, action, NULL, NULL, NULL);
}
"#;
    let smp = scratch.write("opt_smp.h", "#define SMP 1\n");
    let empty = scratch.write("opt_empty.h", "");
    let kernel_flags = |options: &Path| {
        vec![
            "-D_KERNEL".to_owned(),
            "-DKLD_MODULE".to_owned(),
            "-D__FreeBSD_version=1500001".to_owned(),
            "-isystem".to_owned(),
            include.join("arch").display().to_string(),
            "-isystem".to_owned(),
            include.join("generic").display().to_string(),
            "-include".to_owned(),
            options.display().to_string(),
        ]
    };
    let module_flags = kernel_flags(&empty);
    let kernel_view_flags = kernel_flags(&smp);
    let module = compile(&clang, &scratch, "shim", source, &as_strs(&module_flags));
    let kernel = compile(
        &clang,
        &scratch,
        "shim-kernel",
        source,
        &as_strs(&kernel_view_flags),
    );

    let verdict = kbi(&[&module], &[&kernel], &["--kernel-label", "GENERIC"]);
    verdict.assert_rejected_for(&["cpuset_t (struct _cpuset): size 8 in module, 128 in GENERIC"]);
    verdict.assert_rejected_for(&[
        "function smp_rendezvous_cpus_retry: parameter 1",
        "cpuset_t",
    ]);
    // And the correctly configured module passes.
    let good = compile(
        &clang,
        &scratch,
        "shim-good",
        source,
        &as_strs(&kernel_view_flags),
    );
    assert_kbi_passes(&kbi(&[&good], &[&kernel], &["--require", "cpuset_t"]));
}
