//! `kldcheck kbi`: the module's idea of kernel types against the kernel's.
//!
//! A module compiled with the wrong kernel configuration still links and
//! loads: nothing in a `.ko` records how big a `cpuset_t` was when it was
//! compiled.  (The case that prompted this: the shim was built with an
//! empty opt_global.h, so no `SMP`, so `MAXCPU` 1 and an 8-byte `cpuset_t`
//! where the kernel's is 128; passed by value to
//! `smp_rendezvous_cpus_retry` it shifted every later argument.)  The only
//! record of the layouts the compiler assumed is the debug information, so
//! the same sources are compiled twice with `-g` — once exactly as the
//! module, once with the kernel's options — and every type defined in both
//! is compared.  What the kernel view has not seen cannot be compared;
//! that is a warning, or a violation for types named with `--require`.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::ExitCode;

use crate::cli::KbiOptions;
use crate::dwarf_dies::read_units;
use crate::dwarf_sections::DebugSections;
use crate::dwarf_types::collect;
use crate::kbi_compare::{diff_functions, diff_types, Finding, Severity, Sides};
use crate::kbi_view::View;
use crate::module_file::Elf;
use crate::report::Report;
use crate::EXIT_USAGE;

const ODR: &str = "kbi-odr";
const TYPES: &str = "kbi-types";
const FUNCTIONS: &str = "kbi-functions";
const REQUIRE: &str = "kbi-require";

/// A view and facts about how it was read, for the report.
struct Loaded {
    view: View,
    units: usize,
    dwarf_versions: BTreeSet<u16>,
}

pub fn run(options: &KbiOptions) -> ExitCode {
    let views = load("module", &options.modules).and_then(|module| {
        let kernel = load(&options.kernel_label, &options.kernel)?;
        Ok((module, kernel))
    });
    let (module, kernel) = match views {
        Ok(views) => views,
        Err(error) => {
            eprintln!("kldcheck: kbi: {error}");
            return ExitCode::from(EXIT_USAGE);
        }
    };

    println!(
        "kbi: {} module objects vs {} {} objects:",
        options.modules.len(),
        options.kernel.len(),
        kernel.view.label
    );
    let mut report = Report::new();
    for loaded in [&module, &kernel] {
        describe(loaded, &mut report);
    }
    for loaded in [&module, &kernel] {
        check_odr(&loaded.view, &mut report);
    }
    let types = check_types(&module.view, &kernel.view, &options.require, &mut report);
    let functions = check_functions(&module.view, &kernel.view, &mut report);
    check_required(&module.view, &kernel.view, &options.require, &mut report);

    println!(
        "  {} violations, {} warnings",
        report.violations(),
        report.warnings()
    );
    println!(
        "kldcheck kbi: {types} types and {functions} functions compared, {} violations",
        report.violations()
    );
    if report.violations() == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Reads every object of one view.  An object that cannot be read, or
/// has no DWARF, is an error rather than a finding: a comparison with one
/// side missing would pass vacuously.
fn load(label: &str, paths: &[impl AsRef<Path>]) -> Result<Loaded, String> {
    let mut loaded = Loaded {
        view: View::new(label),
        units: 0,
        dwarf_versions: BTreeSet::new(),
    };
    for path in paths {
        let path = path.as_ref();
        let shown = path.display();
        let data = std::fs::read(path).map_err(|error| format!("cannot read {shown}: {error}"))?;
        let elf = Elf::parse(&*data)
            .map_err(|error| format!("{shown} is not an ELF64 object: {error}"))?;
        let sections = DebugSections::read(&elf).map_err(|error| format!("{shown}: {error}"))?;
        if !sections.has(".debug_info") {
            return Err(format!(
                "{shown} has no DWARF (.debug_info): compile the {label} view with -g"
            ));
        }
        let units = read_units(&sections).map_err(|error| format!("{shown}: {error}"))?;
        let several = units.len() > 1;
        for unit in &units {
            let origin = match unit.name() {
                Some(source) if several => format!("{shown}({source})"),
                _ => shown.to_string(),
            };
            loaded.dwarf_versions.insert(unit.version);
            loaded.view.add(&origin, collect(unit));
        }
        loaded.units += units.len();
        loaded.view.objects += 1;
    }
    Ok(loaded)
}

fn describe(loaded: &Loaded, report: &mut Report) {
    let versions: Vec<String> = loaded.dwarf_versions.iter().map(u16::to_string).collect();
    let view = &loaded.view;
    report.info(
        TYPES,
        format!(
            "{} view: {} objects, {} units (DWARF {}): {} types, {} function prototypes",
            view.label,
            view.objects,
            loaded.units,
            versions.join(", "),
            view.types.len(),
            view.functions.len()
        ),
    );
}

/// Objects of one view must agree among themselves.
fn check_odr(view: &View, report: &mut Report) {
    if view.conflicts.is_empty() {
        if view.objects > 1 {
            report.ok(
                ODR,
                format!(
                    "the {} {} objects agree on every shared definition",
                    view.objects, view.label
                ),
            );
        }
        return;
    }
    let prefixed: Vec<Finding> = view
        .conflicts
        .iter()
        .map(|finding| Finding {
            message: format!(
                "{} view disagrees with itself: {}",
                view.label, finding.message
            ),
            ..finding.clone()
        })
        .collect();
    emit(ODR, &prefixed, report);
}

/// Every type the module defines, against the kernel's.  Returns how many
/// were compared.
fn check_types(module: &View, kernel: &View, require: &[String], report: &mut Report) -> usize {
    let sides = Sides {
        a: &module.label,
        b: &kernel.label,
    };
    let mut findings = Vec::new();
    let mut unseen = Vec::new();
    let mut compared = 0;
    for (key, ours) in &module.types {
        match kernel.types.get(key) {
            Some(theirs) => {
                compared += 1;
                findings.extend(diff_types(key, &ours.value, &theirs.value, sides));
            }
            // --require turns this into a violation in check_required.
            None if require.contains(key) => {}
            None => unseen.push(format!(
                "{key}: defined in the {} view only ({} view did not see it)",
                module.label, kernel.label
            )),
        }
    }
    if module.types.is_empty() {
        report.warn(
            TYPES,
            format!(
                "the {} view defines no types: nothing to compare",
                module.label
            ),
        );
    }
    if !findings
        .iter()
        .any(|finding| finding.severity == Severity::Violation)
    {
        report.ok(
            TYPES,
            format!("{compared} types defined in both views have the same layout"),
        );
    }
    emit(TYPES, &findings, report);
    report.warn_all(TYPES, &unseen);
    compared
}

/// External functions declared or defined in both views: what is passed
/// by value must have the same size.  Returns how many were compared.
fn check_functions(module: &View, kernel: &View, report: &mut Report) -> usize {
    let sides = Sides {
        a: &module.label,
        b: &kernel.label,
    };
    let mut findings = Vec::new();
    let mut compared = 0;
    for (name, ours) in &module.functions {
        if let Some(theirs) = kernel.functions.get(name) {
            compared += 1;
            findings.extend(diff_functions(name, &ours.value, &theirs.value, sides));
        }
    }
    if compared == 0 {
        report.info(
            FUNCTIONS,
            "no function prototypes in both views (clang emits them for call sites of optimised builds)",
        );
        return 0;
    }
    if !findings
        .iter()
        .any(|finding| finding.severity == Severity::Violation)
    {
        report.ok(
            FUNCTIONS,
            format!("{compared} functions take and return the same sizes in both views"),
        );
    }
    emit(FUNCTIONS, &findings, report);
    compared
}

/// `--require TYPE`: defined in both views, so it was really compared.
fn check_required(module: &View, kernel: &View, require: &[String], report: &mut Report) {
    for key in require {
        let missing: Vec<String> = [module, kernel]
            .into_iter()
            .filter(|view| !view.types.contains_key(key))
            .map(|view| format!("{} view", view.label))
            .collect();
        if missing.is_empty() {
            report.ok(REQUIRE, format!("{key} is defined in both views"));
        } else {
            report.fail(
                REQUIRE,
                format!(
                    "required type {key} is not defined in the {} (absent, only declared, or unused there)",
                    missing.join(" and ")
                ),
            );
        }
    }
}

/// Violations (whole-type differences first), then warnings.
fn emit(check: &str, findings: &[Finding], report: &mut Report) {
    let mut sorted: Vec<&Finding> = findings.iter().collect();
    sorted.sort_by_key(|finding| (finding.severity, finding.rank));
    let (violations, warnings): (Vec<&Finding>, Vec<&Finding>) = sorted
        .into_iter()
        .partition(|finding| finding.severity == Severity::Violation);
    let messages = |list: Vec<&Finding>| -> Vec<String> {
        list.into_iter()
            .map(|finding| finding.message.clone())
            .collect()
    };
    if !violations.is_empty() {
        report.fail_all(check, &messages(violations));
    }
    report.warn_all(check, &messages(warnings));
}
