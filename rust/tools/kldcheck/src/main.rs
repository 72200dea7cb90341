//! kldcheck: verifies FreeBSD amd64 loadable kernel modules (.ko) before
//! they meet a kernel.  See `cli::USAGE` for what it checks.
//!
//! Two modes:
//!
//! - `kldcheck [options] MODULE.ko...` checks a linked module: header,
//!   linker sets, relocations, FPU use, symbols, exports, metadata.
//! - `kldcheck kbi --module OBJ.o... --kernel OBJ.o... [--kernel-label NAME]
//!   [--require TYPE]...` checks the kernel binary interface the module was
//!   compiled against.  The module's sources are compiled twice with `-g`:
//!   `--module` objects exactly as the module is built, `--kernel` objects
//!   with the kernel's configuration (its opt_global.h and -D flags).  Every
//!   named struct, union, enum and typedef completely defined in the module
//!   view is compared with the kernel view's: size, explicit alignment,
//!   each member's offset (to the bit for bitfields), width and size,
//!   enumerator values, and — where clang emitted prototypes for call sites
//!   (optimised builds) — the sizes of parameters and return values of
//!   external functions.  Objects of the same view must also agree with
//!   each other.  It cannot see types the module only uses through
//!   pointers (no definition in its DWARF), macros and inline code
//!   (`MAXCPU` itself, a changed `PCPU_GET` offset baked into an inline
//!   function body), or differences in sources the kernel view was not
//!   compiled from.  See `kbi` for why.

mod c_tokens;
mod check_exports;
mod check_fpu;
mod check_gate_patterns;
mod check_header;
mod check_hot_path;
mod check_metadata;
mod check_relocations;
mod check_sections;
mod check_sizes;
mod check_undefined;
mod cli;
mod debug_only;
mod dwarf_dies;
mod dwarf_sections;
mod dwarf_types;
mod fpu_usage;
mod kbi;
mod kbi_compare;
mod kbi_view;
mod kpi_decls;
mod module_file;
mod module_metadata;
mod relocation_types;
mod report;
mod symbol_sets;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::ExitCode;

use check_metadata::Expectations;
use check_undefined::Resolvers;
use cli::{Options, Parsed};
use kpi_decls::KpiDecls;
use module_file::ModuleFile;
use report::Report;

/// Exit status for usage and I/O errors, distinct from "violations found".
const EXIT_USAGE: u8 = 2;

/// Inputs shared by every module checked in one run.
struct Context {
    kpi: Option<KpiDecls>,
    intended_exports: BTreeSet<String>,
    dep_exports: BTreeSet<String>,
    expectations: Expectations,
    max_text: Option<u64>,
    hot_paths: Vec<String>,
    hot_path_max: Option<usize>,
}

fn main() -> ExitCode {
    let options = match cli::parse(std::env::args().skip(1)) {
        Ok(Parsed::Run(options)) => options,
        Ok(Parsed::Kbi(options)) => return kbi::run(&options),
        Ok(Parsed::Help) => {
            println!("{}", cli::USAGE);
            return ExitCode::SUCCESS;
        }
        Err(error) => {
            eprintln!("kldcheck: {error}\n{}", cli::USAGE);
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let context = match load_context(&options) {
        Ok(context) => context,
        Err(error) => {
            eprintln!("kldcheck: {error}");
            return ExitCode::from(EXIT_USAGE);
        }
    };

    let mut violations = 0usize;
    for path in &options.modules {
        println!("{}:", path.display());
        let mut report = Report::new();
        match std::fs::read(path) {
            Ok(data) => check_module(&data, &context, &mut report),
            Err(error) => report.fail("read", format!("cannot read {}: {error}", path.display())),
        }
        println!(
            "  {} violations, {} warnings",
            report.violations(),
            report.warnings()
        );
        violations += report.violations();
    }
    println!(
        "kldcheck: {} modules, {violations} violations",
        options.modules.len()
    );
    if violations == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn load_context(options: &Options) -> Result<Context, String> {
    let kpi = match &options.kpi_decls {
        Some(path) => Some(KpiDecls::from_preprocessed(&read_text(path)?)),
        None => None,
    };
    let intended_exports = match &options.exports {
        Some(path) => symbol_sets::parse_exports_list(&read_text(path)?),
        None => BTreeSet::new(),
    };
    let mut dep_exports = BTreeSet::new();
    for path in &options.deps {
        let data = std::fs::read(path)
            .map_err(|error| format!("cannot read --dep {}: {error}", path.display()))?;
        let elf = module_file::Elf::parse(&*data)
            .map_err(|error| format!("--dep {} is not an ELF64 object: {error}", path.display()))?;
        dep_exports.extend(symbol_sets::global_definitions(&elf));
    }
    Ok(Context {
        kpi,
        intended_exports,
        dep_exports,
        expectations: Expectations {
            kernel_release: options.kernel_release,
            modules: options.expect_modules.clone(),
            depends: options.expect_depends.clone(),
        },
        max_text: options.max_text,
        hot_paths: options.hot_paths.clone(),
        hot_path_max: options.hot_path_max,
    })
}

fn read_text(path: &Path) -> Result<String, String> {
    let bytes =
        std::fs::read(path).map_err(|error| format!("cannot read {}: {error}", path.display()))?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

fn check_module(data: &[u8], context: &Context, report: &mut Report) {
    let Some(elf) = check_header::check(data, report) else {
        return;
    };
    let module = ModuleFile::new(elf);
    check_sections::check(&module, report);
    check_relocations::check(&module, report);
    check_fpu::check(&module, report);
    if let Some(kpi) = &context.kpi {
        report.info(
            "undefined-symbols",
            format!("{} names declared in --kpi-decls", kpi.len()),
        );
    }
    let resolvers = Resolvers {
        kpi: context.kpi.as_ref(),
        dep_exports: &context.dep_exports,
    };
    check_undefined::check(&module, &resolvers, report);
    check_exports::check(&module, &context.intended_exports, report);
    check_metadata::check(&module, &context.expectations, report);
    check_sizes::check(&module, context.max_text, report);
    check_hot_path::check(&module, &context.hot_paths, context.hot_path_max, report);
    check_gate_patterns::check(&module, report);
}
