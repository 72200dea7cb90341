//! The DWARF sections of one relocatable object, with their relocations
//! applied.
//!
//! In an ET_REL object (a `.o`, or a `.ko`, which is `ld -r` output) every
//! reference from `.debug_info` to another debug section — abbreviation
//! table, string offsets, line table, `DW_AT_str_offsets_base`,
//! `DW_AT_low_pc` — is a RELA entry whose addend holds the value and whose
//! bytes in the section are zero.  Reading the sections raw makes every
//! unit claim abbreviation table 0 and every name the first string; the
//! result is plausible-looking garbage.  So the sections are copied and the
//! relocations written into the copies before gimli sees them.

use std::collections::HashMap;

use object::elf;
use object::{Object, ObjectSection, ObjectSymbol, RelocationFlags, RelocationTarget};

use crate::module_file::Elf;

/// The sections type layouts are read from (gimli parses a unit's line
/// program header when it opens the unit).  Frames, ranges and location
/// lists are not needed, so their relocations (whatever they are) cannot
/// make the check fail.
const NEEDED: &[&str] = &[
    ".debug_info",
    ".debug_line",
    ".debug_abbrev",
    ".debug_str",
    ".debug_str_offsets",
    ".debug_line_str",
    ".debug_addr",
    ".debug_types",
];

/// Relocated contents of the debug sections of one object.
pub struct DebugSections {
    sections: HashMap<String, Vec<u8>>,
}

impl DebugSections {
    /// Copies and relocates the `NEEDED` sections of `elf`.  Fails on
    /// what cannot be read faithfully: compressed sections (this build of
    /// `object` has no zlib), or relocation types a debug section should
    /// never carry.
    pub fn read(elf: &Elf<'_>) -> Result<Self, String> {
        if elf.elf_header().e_machine.get(elf.endian()) != elf::EM_X86_64 {
            return Err("not an x86-64 object".to_owned());
        }
        let mut sections = HashMap::new();
        for section in elf.sections() {
            let Ok(name) = section.name() else {
                continue;
            };
            if !NEEDED.contains(&name) {
                continue;
            }
            let data = section
                .uncompressed_data()
                .map_err(|error| format!("cannot read {name}: {error}"))?;
            let mut data = data.into_owned();
            for (offset, relocation) in section.relocations() {
                let RelocationFlags::Elf { r_type } = relocation.flags() else {
                    continue;
                };
                let symbol_value = match relocation.target() {
                    RelocationTarget::Symbol(index) => elf
                        .symbol_by_index(index)
                        .map(|symbol| symbol.address())
                        .unwrap_or(0),
                    _ => 0,
                };
                let value = symbol_value.wrapping_add_signed(relocation.addend());
                patch(&mut data, offset, r_type, value)
                    .map_err(|error| format!("{name}+{offset:#x}: {error}"))?;
            }
            sections.insert(name.to_owned(), data);
        }
        Ok(Self { sections })
    }

    /// The relocated bytes of section `name` (".debug_info"), empty when
    /// the object has no such section.
    pub fn get(&self, name: &str) -> &[u8] {
        self.sections.get(name).map_or(&[], Vec::as_slice)
    }

    pub fn has(&self, name: &str) -> bool {
        self.sections.contains_key(name)
    }
}

/// Writes `value` (S + A) at `offset` as relocation `r_type` would.  Debug
/// sections only hold absolute values: 32-bit section offsets and 64-bit
/// addresses.  In an ET_REL object a section symbol's value is 0, so the
/// stored offsets are the addends, exactly what a reader of the linked
/// file would see for a single object.
fn patch(data: &mut [u8], offset: u64, r_type: u32, value: u64) -> Result<(), String> {
    let bytes = match r_type {
        elf::R_X86_64_NONE => return Ok(()),
        // Truncation is the relocation's definition: .debug_* offsets fit.
        elf::R_X86_64_32 | elf::R_X86_64_32S => (value as u32).to_le_bytes().to_vec(),
        elf::R_X86_64_64 => value.to_le_bytes().to_vec(),
        other => {
            return Err(format!(
                "unexpected relocation type {other} in a debug section"
            ))
        }
    };
    let start = usize::try_from(offset).map_err(|_| "offset out of range".to_owned())?;
    let end = start + bytes.len();
    let target = data
        .get_mut(start..end)
        .ok_or_else(|| "relocation past the end of the section".to_owned())?;
    target.copy_from_slice(&bytes);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::patch;
    use object::elf;

    #[test]
    fn patches_32_and_64_bit_values_and_rejects_the_rest() {
        let mut data = [0u8; 12];
        patch(&mut data, 0, elf::R_X86_64_32, 0x1234).unwrap();
        patch(&mut data, 4, elf::R_X86_64_64, 0x0102_0304_0506_0708).unwrap();
        assert_eq!(&data[..4], &[0x34, 0x12, 0, 0]);
        assert_eq!(&data[4..], &[8, 7, 6, 5, 4, 3, 2, 1]);
        assert!(patch(&mut data, 10, elf::R_X86_64_32, 1).is_err());
        assert!(patch(&mut data, 0, elf::R_X86_64_PC32, 1).is_err());
    }
}
