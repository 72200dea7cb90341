//! Check 3: every relocation the kernel linker will apply is of a type it
//! implements.
//!
//! Relocations against non-SHF_ALLOC sections (.debug_*, .comment) are not
//! checked: link_elf_obj ignores relocation tables whose target section it
//! does not load, and DWARF legitimately uses R_X86_64_32 offsets.

use object::elf::SHF_ALLOC;
use object::{Object, ObjectSection};

use crate::module_file::ModuleFile;
use crate::relocation_types;
use crate::report::Report;

const CHECK: &str = "relocations";

pub fn check(module: &ModuleFile<'_>, report: &mut Report) {
    let mut checked = 0usize;
    let mut skipped = 0usize;
    let mut bad = Vec::new();
    for section in module.elf.sections() {
        let loaded = module.section_flags(section.index()) & u64::from(SHF_ALLOC) != 0;
        for (offset, reloc) in module.relocations_in(section.index()) {
            if !loaded {
                skipped += 1;
                continue;
            }
            checked += 1;
            if !relocation_types::is_accepted(reloc.r_type) {
                bad.push(format!(
                    "{}+{offset:#x}: {} against `{}`{} is not applied by the FreeBSD amd64 kernel linker \
                     (PIC/GOT code? build with -fno-pic -mcmodel=kernel)",
                    module.section_name(section.index()),
                    relocation_types::name(reloc.r_type),
                    module.symbol_display_name(reloc.symbol),
                    addend_suffix(reloc.addend),
                ));
            }
        }
    }
    if bad.is_empty() {
        report.ok(
            CHECK,
            format!("{checked} relocations in loaded sections, all of accepted types"),
        );
    } else {
        report.fail_all(CHECK, &bad);
    }
    if skipped > 0 {
        report.info(
            CHECK,
            format!("{skipped} relocations in non-loaded sections (debug info) not checked"),
        );
    }
}

fn addend_suffix(addend: i64) -> String {
    match addend {
        0 => String::new(),
        positive if positive > 0 => format!("+{positive:#x}"),
        negative => format!("-{:#x}", negative.unsigned_abs()),
    }
}
