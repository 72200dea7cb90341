//! Check 8: how big the module is, and what makes it so.
//!
//! A module carries only what it reaches: the Rust half is linked with LTO,
//! so `core`'s float formatting, Unicode tables and the like stay out unless
//! something calls them.  This check reports text, read-only data and data
//! sizes and the largest symbols, and with `--max-text` fails a module
//! whose executable sections outgrow the bound (the bounds live in
//! mk/check.mk, next to the targets they enforce).

use object::elf::{SHF_ALLOC, SHF_EXECINSTR, SHF_WRITE};
use object::{Object, ObjectSection, ObjectSymbol, SymbolKind};

use crate::module_file::ModuleFile;
use crate::report::Report;

const CHECK: &str = "sizes";

/// How many of the largest symbols the report names.
const LARGEST: usize = 5;

/// Byte counts of a module's loaded sections, by kind.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Sizes {
    pub text: u64,
    pub rodata: u64,
    pub data: u64,
}

pub fn sizes(module: &ModuleFile<'_>) -> Sizes {
    let mut s = Sizes::default();
    for section in module.elf.sections() {
        let flags = module.section_flags(section.index());
        if flags & u64::from(SHF_ALLOC) == 0 {
            continue;
        }
        let size = section.size();
        if flags & u64::from(SHF_EXECINSTR) != 0 {
            s.text += size;
        } else if flags & u64::from(SHF_WRITE) != 0 {
            s.data += size;
        } else {
            s.rodata += size;
        }
    }
    s
}

/// The largest defined symbols (functions and objects), largest first.
pub fn largest(module: &ModuleFile<'_>, n: usize) -> Vec<(String, u64)> {
    let mut all: Vec<(String, u64)> = module
        .elf
        .symbols()
        .filter(|s| s.is_definition() && matches!(s.kind(), SymbolKind::Text | SymbolKind::Data))
        .filter_map(|s| Some((s.name().ok()?.to_owned(), s.size())))
        .collect();
    all.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    all.truncate(n);
    all
}

pub fn check(module: &ModuleFile<'_>, max_text: Option<u64>, report: &mut Report) {
    let s = sizes(module);
    report.info(
        CHECK,
        format!(
            "text {} bytes, rodata {} bytes, data+bss {} bytes",
            s.text, s.rodata, s.data
        ),
    );
    let top = largest(module, LARGEST);
    if !top.is_empty() {
        let list: Vec<String> = top.iter().map(|(n, z)| format!("{n} ({z})")).collect();
        report.info(CHECK, format!("largest symbols: {}", list.join(", ")));
    }
    if let Some(max) = max_text {
        if s.text > max {
            report.fail(
                CHECK,
                format!(
                    "text is {} bytes, over the bound of {max}: something pulled in code \
                     nothing needs (formatting, panics with messages, an unused crate?)",
                    s.text
                ),
            );
        } else {
            report.ok(
                CHECK,
                format!("text {} bytes within the bound of {max}", s.text),
            );
        }
    }
}
