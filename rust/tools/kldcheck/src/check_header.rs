//! Check 1: the file is what FreeBSD's amd64 kernel linker (link_elf_obj)
//! accepts: a little-endian ELF64 relocatable object for x86-64.  A module
//! that fails this check cannot be examined further.

use object::elf;
use object::read::elf::FileHeader;
use object::FileKind;

use crate::module_file::Elf;
use crate::report::Report;

const CHECK: &str = "elf-header";

pub fn check<'data>(data: &'data [u8], report: &mut Report) -> Option<Elf<'data>> {
    match FileKind::parse(data) {
        Ok(FileKind::Elf64) => {}
        Ok(other) => {
            report.fail(CHECK, format!("not an ELF64 file (detected {other:?})"));
            return None;
        }
        Err(error) => {
            report.fail(CHECK, format!("not an object file: {error}"));
            return None;
        }
    }
    let elf = match Elf::parse(data) {
        Ok(elf) => elf,
        Err(error) => {
            report.fail(CHECK, format!("malformed ELF64: {error}"));
            return None;
        }
    };
    let header = elf.elf_header();
    let endian = elf.endian();
    let e_type = header.e_type(endian);
    let e_machine = header.e_machine(endian);
    let little_endian = header.e_ident().data == elf::ELFDATA2LSB;
    let mut ok = true;
    if e_type != elf::ET_REL {
        ok = false;
        report.fail(
            CHECK,
            format!("e_type is {e_type}, expected ET_REL (1): amd64 kernel modules are relocatable objects (ld -r)"),
        );
    }
    if e_machine != elf::EM_X86_64 {
        ok = false;
        report.fail(
            CHECK,
            format!("e_machine is {e_machine}, expected EM_X86_64 (62)"),
        );
    }
    if !little_endian {
        ok = false;
        report.fail(CHECK, "big-endian ELF; x86-64 is little-endian");
    }
    if !ok {
        return None;
    }
    let os_abi = header.e_ident().os_abi;
    report.ok(CHECK, format!("ELF64 ET_REL EM_X86_64 (EI_OSABI {os_abi})"));
    Some(elf)
}
