//! End-to-end: kld-like modules compiled with clang-14 against the FreeBSD
//! headers, one per property kldcheck enforces, each checked by the binary.

mod support;

use std::path::Path;

use support::{kldcheck, Scratch, Verdict};

/// The target release every test module must load on (15.0-RELEASE).
const KERNEL_RELEASE: &str = "1500068";

/// A minimal module: DECLARE_MODULE (→ MDT_DEPEND on kernel, MDT_MODULE,
/// SYSINIT), MODULE_VERSION, and a static MALLOC_DEFINE (→ SYSINIT +
/// SYSUNINIT), so every required linker set exists.  (A non-static
/// MALLOC_DEFINE exports its malloc_type: kldcheck reports that.)  `extra` is appended at file scope;
/// `on_load` runs in the MOD_LOAD handler.
fn module_source(name: &str, extra: &str, on_load: &str) -> String {
    format!(
        r#"#include <sys/param.h>
#include <sys/systm.h>
#include <sys/kernel.h>
#include <sys/module.h>
#include <sys/malloc.h>
#include <sys/lock.h>
#include <sys/mutex.h>

static MALLOC_DEFINE(M_{name}, "{name}", "{name} test module");

{extra}

static int
{name}_handler(module_t mod, int what, void *arg)
{{
	switch (what) {{
	case MOD_LOAD:
		{on_load}
		return (0);
	case MOD_UNLOAD:
		return (0);
	default:
		return (EOPNOTSUPP);
	}}
}}

static moduledata_t {name}_mod = {{ "{name}", {name}_handler, NULL }};
DECLARE_MODULE({name}, {name}_mod, SI_SUB_DRIVERS, SI_ORDER_MIDDLE);
MODULE_VERSION({name}, 1);
"#
    )
}

/// A module exporting a function and a variable, using a mutex and printf.
const GOOD_EXTRA: &str = r#"
static struct mtx goodmod_lock;
int goodmod_counter;
int goodmod_bump(int by);

int
goodmod_bump(int by)
{
	mtx_lock(&goodmod_lock);
	goodmod_counter += by;
	mtx_unlock(&goodmod_lock);
	return (goodmod_counter);
}
"#;

const GOOD_ON_LOAD: &str = r#"mtx_init(&goodmod_lock, "goodmod", NULL, MTX_DEF);
		printf("goodmod: %d\n", goodmod_bump(1));"#;

fn path_arg(path: &Path) -> String {
    path.display().to_string()
}

/// kldcheck with the scratch build's KPI declarations and the targeted
/// release, nothing else: no exports expected, no dependency given.
fn check_against_kpi(scratch: &Scratch, module: &Path) -> Verdict {
    kldcheck([
        "--kpi-decls".to_owned(),
        path_arg(&scratch.kpi_decls()),
        "--kernel-release".to_owned(),
        KERNEL_RELEASE.to_owned(),
        path_arg(module),
    ])
}

#[test]
fn good_module_passes_every_check() {
    let scratch = Scratch::new("good");
    let module = scratch.build_module(
        "goodmod",
        &module_source("goodmod", GOOD_EXTRA, GOOD_ON_LOAD),
        &[],
        &[],
    );
    let exports = scratch.write("exports", "# goodmod KPI\ngoodmod_bump\ngoodmod_counter\n");
    let verdict = kldcheck([
        "--kpi-decls".to_owned(),
        path_arg(&scratch.kpi_decls()),
        "--exports".to_owned(),
        path_arg(&exports),
        "--kernel-release".to_owned(),
        KERNEL_RELEASE.to_owned(),
        "--expect-module".to_owned(),
        "goodmod".to_owned(),
        "--expect-depend".to_owned(),
        "kernel".to_owned(),
        path_arg(&module),
    ]);
    verdict.assert_passes();
    // The decoded records are printed, with the range DECLARE_MODULE makes
    // from __FreeBSD_version 1500001.
    assert!(
        verdict
            .stdout
            .contains(r#"MDT_DEPEND on "kernel" min=1500001 preferred=1500001 max=1599999"#),
        "{}",
        verdict.stdout
    );
    assert!(
        verdict.stdout.contains(r#"MDT_MODULE "goodmod""#),
        "{}",
        verdict.stdout
    );
    assert!(
        verdict
            .stdout
            .contains(r#"MDT_VERSION "goodmod" version=1"#),
        "{}",
        verdict.stdout
    );
    assert!(
        verdict
            .stdout
            .contains("exports exactly the 2 intended symbols"),
        "{}",
        verdict.stdout
    );
}

#[test]
fn pic_build_is_rejected_for_got_relocations() {
    let scratch = Scratch::new("pic");
    // bootverbose is a KPI variable (extern in sys/systm.h); PIC code
    // reaches it through the GOT.
    let source = module_source("picmod", "", r#"if (bootverbose) printf("picmod\n");"#);
    let module = scratch.build_module(
        "picmod",
        &source,
        &[("-fno-pic", "-fPIC"), ("-fno-pie", "")],
        &[],
    );
    let verdict = check_against_kpi(&scratch, &module);
    verdict.assert_rejected_for(&["relocations", "GOTPCREL", "`bootverbose`", ".text+0x"]);
}

#[test]
fn sse_code_is_rejected() {
    let scratch = Scratch::new("sse");
    let extra = r#"
static double
ssemod_scale(double x)
{
	return (x * 1.5 + 0.25);
}
"#;
    let source = module_source(
        "ssemod",
        extra,
        r#"printf("%d\n", (int)ssemod_scale((double)(long)arg));"#,
    );
    let module = scratch.build_module(
        "ssemod",
        &source,
        &[("-mno-sse", "-msse2"), ("-msoft-float", "")],
        &[],
    );
    let verdict = check_against_kpi(&scratch, &module);
    verdict.assert_rejected_for(&["no-fpu", "SSE instruction", "xmm"]);
}

#[test]
fn unintended_export_is_rejected() {
    let scratch = Scratch::new("stray");
    let extra = "int straymod_helper(int x);\nint straymod_helper(int x) { return (x + 1); }\n";
    let source = module_source(
        "straymod",
        extra,
        r#"printf("%d\n", straymod_helper(what));"#,
    );
    let module = scratch.build_module("straymod", &source, &[], &[]);
    // No --exports: the module must export nothing.
    let verdict = check_against_kpi(&scratch, &module);
    verdict.assert_rejected_for(&["exports", "unintended export `straymod_helper`"]);
}

#[test]
fn weak_export_is_rejected() {
    let scratch = Scratch::new("weak");
    let extra = "int weakmod_api(int x);\n__attribute__((weak)) int weakmod_api(int x) { return (x * 2); }\n";
    let source = module_source("weakmod", extra, r#"printf("%d\n", weakmod_api(what));"#);
    let module = scratch.build_module("weakmod", &source, &[], &[]);
    let exports = scratch.write("exports", "weakmod_api\n");
    let verdict = kldcheck([
        "--kpi-decls".to_owned(),
        path_arg(&scratch.kpi_decls()),
        "--exports".to_owned(),
        path_arg(&exports),
        "--kernel-release".to_owned(),
        KERNEL_RELEASE.to_owned(),
        path_arg(&module),
    ]);
    verdict.assert_rejected_for(&["exports", "`weakmod_api` is defined STB_WEAK"]);
}

#[test]
fn freebsd_version_mm00000_gives_impossible_kernel_range() {
    let scratch = Scratch::new("range");
    let source = module_source("rangemod", "", "");
    let module = scratch.build_module(
        "rangemod",
        &source,
        &[("-D__FreeBSD_version=1500001", "-D__FreeBSD_version=1500000")],
        &[],
    );
    let verdict = check_against_kpi(&scratch, &module);
    verdict.assert_rejected_for(&[
        "metadata",
        r#"dependency on "kernel""#,
        "impossible version range",
        "max=1499999",
    ]);
    verdict.assert_rejected_for(&["metadata", "excludes the target kernel 1500068"]);
}

#[test]
fn hand_written_inverted_dependency_is_rejected() {
    let scratch = Scratch::new("depend");
    let source = module_source("depmod", "MODULE_DEPEND(depmod, othermod, 3, 2, 1);", "");
    let module = scratch.build_module("depmod", &source, &[], &[]);
    let verdict = kldcheck([
        "--kpi-decls".to_owned(),
        path_arg(&scratch.kpi_decls()),
        "--kernel-release".to_owned(),
        KERNEL_RELEASE.to_owned(),
        "--expect-depend".to_owned(),
        "othermod".to_owned(),
        path_arg(&module),
    ]);
    verdict.assert_rejected_for(&[
        "metadata",
        r#"dependency on "othermod""#,
        "min=3 preferred=2 max=1",
    ]);
    // The record exists, so --expect-depend itself is satisfied.
    assert!(
        !verdict
            .stdout
            .contains(r#"expected MDT_DEPEND on "othermod" is missing"#),
        "{}",
        verdict.stdout
    );
}

#[test]
fn kernel_release_outside_the_range_is_rejected() {
    let scratch = Scratch::new("release");
    let module = scratch.build_module("relmod", &module_source("relmod", "", ""), &[], &[]);
    let verdict = kldcheck([
        "--kpi-decls".to_owned(),
        path_arg(&scratch.kpi_decls()),
        "--kernel-release".to_owned(),
        "1400097".to_owned(),
        "--expect-module".to_owned(),
        "nosuchmod".to_owned(),
        path_arg(&module),
    ]);
    verdict.assert_rejected_for(&[
        "metadata",
        "1500001..=1599999",
        "excludes the target kernel 1400097",
    ]);
    verdict.assert_rejected_for(&["metadata", r#"expected MDT_MODULE "nosuchmod" is missing"#]);
}

#[test]
fn undeclared_undefined_symbol_is_rejected() {
    let scratch = Scratch::new("undeclared");
    let extra = "int undeclmod_private_kernel_fn(int);\n";
    let source = module_source(
        "undeclmod",
        extra,
        r#"printf("%d\n", undeclmod_private_kernel_fn(what));"#,
    );
    let module = scratch.build_module("undeclmod", &source, &[], &[]);
    let verdict = check_against_kpi(&scratch, &module);
    verdict.assert_rejected_for(&[
        "undefined-symbols",
        "`undeclmod_private_kernel_fn` is not declared",
    ]);
}

#[test]
fn debug_only_symbols_are_rejected() {
    let scratch = Scratch::new("debugonly");
    // _mtx_assert by a hand-written prototype, and witness_warn, which
    // sys/lock.h declares even though only WITNESS kernels define it.
    let extra = r#"
void _mtx_assert(struct mtx *m, int what, const char *file, int line);
static struct mtx dbgmod_lock;
"#;
    let on_load = r#"mtx_init(&dbgmod_lock, "dbgmod", NULL, MTX_DEF);
		_mtx_assert(&dbgmod_lock, 0, __FILE__, __LINE__);
		witness_warn(0, NULL, "dbgmod");"#;
    let source = module_source("dbgmod", extra, on_load);
    let module = scratch.build_module("dbgmod", &source, &[], &[]);
    let verdict = check_against_kpi(&scratch, &module);
    verdict.assert_rejected_for(&[
        "undefined-symbols",
        "`_mtx_assert` exists only in debug kernels",
    ]);
    verdict.assert_rejected_for(&[
        "undefined-symbols",
        "`witness_warn` exists only in debug kernels",
        "WITNESS",
    ]);
}

#[test]
fn dependency_exports_resolve_undefined_symbols() {
    let scratch = Scratch::new("dep");
    let provider_extra = "int provmod_api(int x);\nint provmod_api(int x) { return (x + 40); }\n";
    let provider = scratch.build_module(
        "provmod",
        &module_source(
            "provmod",
            provider_extra,
            r#"printf("%d\n", provmod_api(what));"#,
        ),
        &[],
        &[],
    );
    let user_extra = "int provmod_api(int x);\nMODULE_DEPEND(usermod, provmod, 1, 1, 1);\n";
    let user = scratch.build_module(
        "usermod",
        &module_source("usermod", user_extra, r#"printf("%d\n", provmod_api(2));"#),
        &[],
        &[],
    );
    let kpi = path_arg(&scratch.kpi_decls());
    let common = [
        "--kpi-decls".to_owned(),
        kpi,
        "--kernel-release".to_owned(),
        KERNEL_RELEASE.to_owned(),
    ];

    let with_dep = kldcheck(
        common
            .iter()
            .cloned()
            .chain([
                "--dep".to_owned(),
                path_arg(&provider),
                "--expect-depend".to_owned(),
                "provmod".to_owned(),
            ])
            .chain([path_arg(&user)]),
    );
    with_dep.assert_passes();
    assert!(
        with_dep.stdout.contains("1 from dependencies"),
        "{}",
        with_dep.stdout
    );

    let without_dep = kldcheck(common.iter().cloned().chain([path_arg(&user)]));
    without_dep.assert_rejected_for(&["undefined-symbols", "`provmod_api`"]);
}

#[test]
fn object_without_module_declarations_is_rejected() {
    let scratch = Scratch::new("bare");
    let source = "#include <sys/param.h>\n#include <sys/systm.h>\nstatic int bare(void) { return (1); }\nint (*bare_ref)(void) = bare;\n";
    let module = scratch.build_module("bare", source, &[], &[]);
    let exports = scratch.write("exports", "bare_ref\n");
    let verdict = kldcheck([
        "--exports".to_owned(),
        path_arg(&exports),
        path_arg(&module),
    ]);
    verdict.assert_rejected_for(&["sections", "set_modmetadata_set is missing"]);
    verdict.assert_rejected_for(&["sections", "set_sysinit_set is missing"]);
    verdict.assert_rejected_for(&["metadata", "no set_modmetadata_set section"]);
}

#[test]
fn non_object_input_is_rejected() {
    let scratch = Scratch::new("notelf");
    let file = scratch.write("notelf.ko", "this is not an ELF file\n");
    let verdict = kldcheck([path_arg(&file)]);
    verdict.assert_rejected_for(&["elf-header", "not an object file"]);
}
