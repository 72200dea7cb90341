//! Check 6: the module exports exactly its intended KPI.
//!
//! Every defined STB_GLOBAL symbol of a loaded module joins the kernel's
//! global namespace (the kernel linker ignores ELF visibility), so a stray
//! non-static helper can clash with, or be silently used by, another module.
//! Conversely an intended export must be STB_GLOBAL: the kernel linker does
//! not resolve other modules' references against STB_WEAK definitions.

use std::collections::BTreeSet;

use object::elf::STB_WEAK;
use object::{Object, ObjectSymbol};

use crate::module_file::{binding, names_an_object, ModuleFile};
use crate::report::Report;
use crate::symbol_sets::global_definitions;

const CHECK: &str = "exports";

pub fn check(module: &ModuleFile<'_>, intended: &BTreeSet<String>, report: &mut Report) {
    let globals = global_definitions(&module.elf);
    let weaks: BTreeSet<String> = module
        .elf
        .symbols()
        .filter(|symbol| {
            !symbol.is_undefined() && names_an_object(symbol) && binding(symbol) == STB_WEAK
        })
        .filter_map(|symbol| symbol.name().ok().map(str::to_owned))
        .collect();

    let mut failures = Vec::new();
    for name in intended {
        if globals.contains(name) {
            continue;
        }
        if weaks.contains(name) {
            failures.push(format!(
                "`{name}` is defined STB_WEAK; the FreeBSD kernel linker resolves only STB_GLOBAL symbols \
                 between modules"
            ));
        } else {
            failures.push(format!(
                "intended export `{name}` is missing (not defined as a global symbol)"
            ));
        }
    }
    for name in globals.difference(intended) {
        failures.push(format!(
            "unintended export `{name}`: defined STB_GLOBAL but not in the exports list (make it static or add it)"
        ));
    }

    if failures.is_empty() {
        report.ok(
            CHECK,
            format!("exports exactly the {} intended symbols", intended.len()),
        );
    } else {
        report.fail_all(CHECK, &failures);
    }
    let stray_weaks: Vec<&String> = weaks.difference(intended).collect();
    if !stray_weaks.is_empty() {
        report.info(
            CHECK,
            format!(
                "{} weak definitions, invisible to other modules: {}",
                stray_weaks.len(),
                join_some(&stray_weaks)
            ),
        );
    }
}

fn join_some(names: &[&String]) -> String {
    const SHOWN: usize = 8;
    let mut text = names
        .iter()
        .take(SHOWN)
        .map(|name| name.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    if names.len() > SHOWN {
        text.push_str(", ...");
    }
    text
}
