//! x86-64 relocation types: which ones FreeBSD's amd64 kernel linker applies,
//! and their psABI names for reports.

use object::elf;

/// The types link_elf_obj's amd64 relocator handles for a module: absolute
/// 64-bit pointers, PC-relative calls and references, and sign-extended
/// 32-bit absolutes (valid because modules load in the top 2 GiB,
/// -mcmodel=kernel).  Everything else (GOT/PLT indirections from PIC code,
/// TLS, 32-bit zero-extended absolutes) makes kldload fail with
/// "unexpected relocation type".
pub const ACCEPTED: [u32; 5] = [
    elf::R_X86_64_NONE,
    elf::R_X86_64_64,
    elf::R_X86_64_PC32,
    elf::R_X86_64_PLT32,
    elf::R_X86_64_32S,
];

pub fn is_accepted(r_type: u32) -> bool {
    ACCEPTED.contains(&r_type)
}

pub fn name(r_type: u32) -> String {
    let name = match r_type {
        elf::R_X86_64_NONE => "R_X86_64_NONE",
        elf::R_X86_64_64 => "R_X86_64_64",
        elf::R_X86_64_PC32 => "R_X86_64_PC32",
        elf::R_X86_64_GOT32 => "R_X86_64_GOT32",
        elf::R_X86_64_PLT32 => "R_X86_64_PLT32",
        elf::R_X86_64_COPY => "R_X86_64_COPY",
        elf::R_X86_64_GLOB_DAT => "R_X86_64_GLOB_DAT",
        elf::R_X86_64_JUMP_SLOT => "R_X86_64_JUMP_SLOT",
        elf::R_X86_64_RELATIVE => "R_X86_64_RELATIVE",
        elf::R_X86_64_GOTPCREL => "R_X86_64_GOTPCREL",
        elf::R_X86_64_32 => "R_X86_64_32",
        elf::R_X86_64_32S => "R_X86_64_32S",
        elf::R_X86_64_16 => "R_X86_64_16",
        elf::R_X86_64_PC16 => "R_X86_64_PC16",
        elf::R_X86_64_8 => "R_X86_64_8",
        elf::R_X86_64_PC8 => "R_X86_64_PC8",
        elf::R_X86_64_DTPMOD64 => "R_X86_64_DTPMOD64",
        elf::R_X86_64_DTPOFF64 => "R_X86_64_DTPOFF64",
        elf::R_X86_64_TPOFF64 => "R_X86_64_TPOFF64",
        elf::R_X86_64_TLSGD => "R_X86_64_TLSGD",
        elf::R_X86_64_TLSLD => "R_X86_64_TLSLD",
        elf::R_X86_64_DTPOFF32 => "R_X86_64_DTPOFF32",
        elf::R_X86_64_GOTTPOFF => "R_X86_64_GOTTPOFF",
        elf::R_X86_64_TPOFF32 => "R_X86_64_TPOFF32",
        elf::R_X86_64_PC64 => "R_X86_64_PC64",
        elf::R_X86_64_GOTOFF64 => "R_X86_64_GOTOFF64",
        elf::R_X86_64_GOTPC32 => "R_X86_64_GOTPC32",
        elf::R_X86_64_GOT64 => "R_X86_64_GOT64",
        elf::R_X86_64_GOTPCREL64 => "R_X86_64_GOTPCREL64",
        elf::R_X86_64_GOTPC64 => "R_X86_64_GOTPC64",
        elf::R_X86_64_GOTPLT64 => "R_X86_64_GOTPLT64",
        elf::R_X86_64_PLTOFF64 => "R_X86_64_PLTOFF64",
        elf::R_X86_64_SIZE32 => "R_X86_64_SIZE32",
        elf::R_X86_64_SIZE64 => "R_X86_64_SIZE64",
        elf::R_X86_64_GOTPC32_TLSDESC => "R_X86_64_GOTPC32_TLSDESC",
        elf::R_X86_64_TLSDESC_CALL => "R_X86_64_TLSDESC_CALL",
        elf::R_X86_64_TLSDESC => "R_X86_64_TLSDESC",
        elf::R_X86_64_IRELATIVE => "R_X86_64_IRELATIVE",
        elf::R_X86_64_GOTPCRELX => "R_X86_64_GOTPCRELX",
        elf::R_X86_64_REX_GOTPCRELX => "R_X86_64_REX_GOTPCRELX",
        _ => return format!("unknown type {r_type}"),
    };
    format!("{name} ({r_type})")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gotpcrel_is_rejected_and_named() {
        assert!(!is_accepted(elf::R_X86_64_REX_GOTPCRELX));
        assert_eq!(name(42), "R_X86_64_REX_GOTPCRELX (42)");
        assert!(is_accepted(elf::R_X86_64_PLT32));
    }
}
