//! Check 5: every undefined symbol will resolve when the module loads on a
//! release kernel.  Acceptable are, in this order:
//! (c) `__start_set_*`/`__stop_set_*`: linker-set boundaries the kernel
//!     linker synthesises for the module's own sets;
//! (b) a defined STB_GLOBAL symbol of a module given with `--dep`;
//! (a) a function or extern variable declared in the preprocessed KPI
//!     headers (`--kpi-decls`).
//! Debug-kernel-only symbols are rejected first, whatever else says yes:
//! some are declared unconditionally (witness_*) yet absent from release
//! kernels.

use std::collections::BTreeSet;

use object::{Object, ObjectSymbol};

use crate::debug_only;
use crate::kpi_decls::KpiDecls;
use crate::module_file::{names_an_object, ModuleFile};
use crate::report::Report;

const CHECK: &str = "undefined-symbols";

pub struct Resolvers<'a> {
    pub kpi: Option<&'a KpiDecls>,
    pub dep_exports: &'a BTreeSet<String>,
}

pub fn check(module: &ModuleFile<'_>, resolvers: &Resolvers<'_>, report: &mut Report) {
    let undefined: BTreeSet<&str> = module
        .elf
        .symbols()
        .filter(|symbol| symbol.is_undefined() && names_an_object(symbol))
        .filter_map(|symbol| symbol.name().ok())
        .collect();

    let mut failures = Vec::new();
    let (mut from_sets, mut from_deps, mut from_kpi) = (0usize, 0usize, 0usize);
    for name in &undefined {
        if let Some(why) = debug_only::reason(name) {
            failures.push(format!(
                "`{name}` exists only in debug kernels ({why}); modules are built without INVARIANTS/WITNESS \
                 and release kernels do not provide it"
            ));
        } else if is_linker_set_boundary(name) {
            from_sets += 1;
        } else if resolvers.dep_exports.contains(*name) {
            from_deps += 1;
        } else if resolvers.kpi.is_some_and(|kpi| kpi.contains(name)) {
            from_kpi += 1;
        } else {
            let hint = if resolvers.kpi.is_none() {
                " (no --kpi-decls given)"
            } else {
                ""
            };
            failures.push(format!(
                "undefined symbol `{name}` is not declared in the KPI headers nor exported by a --dep module{hint}"
            ));
        }
    }

    if failures.is_empty() {
        report.ok(
            CHECK,
            format!(
                "{} undefined symbols resolve: {from_kpi} declared in KPI headers, {from_deps} from dependencies, \
                 {from_sets} linker-set bounds",
                undefined.len()
            ),
        );
    } else {
        report.fail_all(CHECK, &failures);
    }
}

fn is_linker_set_boundary(name: &str) -> bool {
    name.starts_with("__start_set_") || name.starts_with("__stop_set_")
}
