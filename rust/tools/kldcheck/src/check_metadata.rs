//! Check 7: the module metadata the kernel linker acts on.
//!
//! A bad version range is the classic silent failure: DECLARE_MODULE
//! records a dependency on `kernel` with min = __FreeBSD_version and
//! max = roundup(__FreeBSD_version, 100000) - 1, so building with
//! __FreeBSD_version 1500000 yields max 1499999 < min and the module can
//! never load ("requires kernel 1500000..1499999").

use crate::module_file::ModuleFile;
use crate::module_metadata::{self, Record, RecordKind, MDT_STRUCT_VERSION};
use crate::report::Report;

const CHECK: &str = "metadata";

#[derive(Default)]
pub struct Expectations {
    /// The __FreeBSD_version of the kernel the module must load on.
    pub kernel_release: Option<i32>,
    pub modules: Vec<String>,
    pub depends: Vec<String>,
}

pub fn check(module: &ModuleFile<'_>, expect: &Expectations, report: &mut Report) {
    let Some(decoded) = module_metadata::decode(module) else {
        report.fail(
            CHECK,
            format!(
                "no {} section: nothing to decode",
                module_metadata::SET_SECTION
            ),
        );
        return;
    };
    for record in &decoded.records {
        report.info(CHECK, format!("[{}] {}", record.slot, record.describe()));
    }
    report.fail_all(CHECK, &decoded.errors);

    let mut failures = Vec::new();
    for record in &decoded.records {
        if record.md_version != MDT_STRUCT_VERSION {
            failures.push(format!(
                "{}: md_version {} is not MDT_STRUCT_VERSION ({MDT_STRUCT_VERSION})",
                record.object, record.md_version
            ));
        }
        if record.cval.is_none() && !matches!(record.kind, RecordKind::PnpInfo) {
            failures.push(format!(
                "{}: md_cval is NULL; the record names no module",
                record.object
            ));
        }
        if let RecordKind::Depend {
            minimum,
            preferred,
            maximum,
        } = record.kind
        {
            if !(minimum <= preferred && preferred <= maximum) {
                failures.push(format!(
                    "dependency on \"{}\" has impossible version range min={minimum} preferred={preferred} \
                     max={maximum} (need min <= preferred <= max); the module can never load",
                    name(record)
                ));
            }
        }
    }

    let modules: Vec<&Record> = decoded
        .records
        .iter()
        .filter(|r| r.kind == RecordKind::Module)
        .collect();
    let versions = decoded
        .records
        .iter()
        .filter(|r| matches!(r.kind, RecordKind::Version { .. }))
        .count();
    if modules.is_empty() {
        failures.push("no MDT_MODULE record (DECLARE_MODULE missing)".to_owned());
    }
    if versions == 0 {
        failures.push("no MDT_VERSION record (MODULE_VERSION missing): other modules cannot depend on this one".to_owned());
    }

    check_kernel_dependency(&decoded.records, expect.kernel_release, &mut failures);

    for wanted in &expect.modules {
        if !modules
            .iter()
            .any(|record| record.cval.as_deref() == Some(wanted.as_str()))
        {
            failures.push(format!("expected MDT_MODULE \"{wanted}\" is missing"));
        }
    }
    for wanted in &expect.depends {
        if !dependencies(&decoded.records).any(|(depended, ..)| depended == wanted) {
            failures.push(format!("expected MDT_DEPEND on \"{wanted}\" is missing"));
        }
    }

    if failures.is_empty() && decoded.errors.is_empty() {
        let release = expect.kernel_release.map_or_else(
            || "no --kernel-release given".to_owned(),
            |release| format!("loads on kernel {release}"),
        );
        report.ok(
            CHECK,
            format!("{} records consistent; {release}", decoded.records.len()),
        );
    } else {
        report.fail_all(CHECK, &failures);
    }
}

fn check_kernel_dependency(
    records: &[Record],
    kernel_release: Option<i32>,
    failures: &mut Vec<String>,
) {
    let kernel: Vec<(&str, i32, i32)> = dependencies(records)
        .filter(|(depended, ..)| *depended == "kernel")
        .collect();
    if kernel.is_empty() {
        failures.push("no MDT_DEPEND on \"kernel\" (DECLARE_MODULE records one)".to_owned());
        return;
    }
    let Some(release) = kernel_release else {
        return;
    };
    for (_, minimum, maximum) in kernel {
        if !(minimum <= release && release <= maximum) {
            failures.push(format!(
                "dependency on \"kernel\" accepts {minimum}..={maximum}, which excludes the target kernel {release}"
            ));
        }
    }
}

/// (depended-on module, minimum, maximum) for every MDT_DEPEND record.
fn dependencies(records: &[Record]) -> impl Iterator<Item = (&str, i32, i32)> {
    records.iter().filter_map(|record| match record.kind {
        RecordKind::Depend {
            minimum, maximum, ..
        } => Some((name(record), minimum, maximum)),
        _ => None,
    })
}

fn name(record: &Record) -> &str {
    record.cval.as_deref().unwrap_or("<null>")
}
