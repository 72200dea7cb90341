//! Check 2: the linker sets a module is built from.  `set_modmetadata_set`
//! is how the kernel linker learns the module's name, version and
//! dependencies; `set_sysinit_set` carries DECLARE_MODULE's registration
//! hook.  Without them the kernel loads the file but never registers the
//! module.  `set_sysuninit_set` appears only when the module has SYSUNINITs
//! of its own (MALLOC_DEFINE makes one; DECLARE_MODULE does not: unload
//! goes through the module event handler), so its absence is reported but
//! is not a violation.

use object::{Object, ObjectSection};

use crate::module_file::ModuleFile;
use crate::report::Report;

const CHECK: &str = "sections";

pub const REQUIRED_SECTIONS: [&str; 2] = ["set_modmetadata_set", "set_sysinit_set"];

/// Expected in most modules, but legitimately absent (see the module doc).
pub const USUAL_SECTIONS: [&str; 1] = ["set_sysuninit_set"];

pub fn check(module: &ModuleFile<'_>, report: &mut Report) {
    for name in REQUIRED_SECTIONS {
        match module.elf.section_by_name(name) {
            Some(section) => report.ok(CHECK, format!("{name} present ({} bytes)", section.size())),
            None => report.fail(CHECK, format!("section {name} is missing")),
        }
    }
    for name in USUAL_SECTIONS {
        match module.elf.section_by_name(name) {
            Some(section) => report.ok(CHECK, format!("{name} present ({} bytes)", section.size())),
            None => report.warn(CHECK, format!("{name} absent: the module has no SYSUNINIT")),
        }
    }
}
