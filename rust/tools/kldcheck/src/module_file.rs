//! A loaded `.ko` and the lookups every check needs: symbols by index,
//! relocations by (section, offset), and bytes behind a symbol+addend.
//!
//! FreeBSD amd64 modules are relocatable objects (ET_REL): every section
//! starts at address 0, symbol values are offsets into their section, and
//! pointers stored in data are zero in the file, filled in by RELA entries.

use std::collections::{BTreeMap, HashMap};

use object::elf;
use object::read::elf::{ElfFile64, ElfSymbol64, SectionHeader};
use object::{
    Endianness, Object, ObjectSection, ObjectSymbol, RelocationFlags, RelocationTarget,
    SectionIndex, SymbolIndex, SymbolSection,
};

pub type Elf<'data> = ElfFile64<'data, Endianness>;

/// One RELA entry, reduced to what the checks look at.
#[derive(Clone, Copy, Debug)]
pub struct Reloc {
    pub r_type: u32,
    /// `None` for r_sym == 0 (an absolute relocation).
    pub symbol: Option<SymbolIndex>,
    pub addend: i64,
}

/// A place in the module's image: a section and an offset inside it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Location {
    pub section: SectionIndex,
    pub offset: u64,
}

pub struct ModuleFile<'data> {
    pub elf: Elf<'data>,
    /// Relocations applied to each section, keyed by offset in that section.
    relocs: HashMap<SectionIndex, BTreeMap<u64, Reloc>>,
}

impl<'data> ModuleFile<'data> {
    pub fn new(elf: Elf<'data>) -> Self {
        let mut relocs: HashMap<SectionIndex, BTreeMap<u64, Reloc>> = HashMap::new();
        for section in elf.sections() {
            let mut by_offset = BTreeMap::new();
            for (offset, relocation) in section.relocations() {
                let RelocationFlags::Elf { r_type } = relocation.flags() else {
                    continue;
                };
                let symbol = match relocation.target() {
                    RelocationTarget::Symbol(index) => Some(index),
                    _ => None,
                };
                let addend = relocation.addend();
                by_offset.insert(
                    offset,
                    Reloc {
                        r_type,
                        symbol,
                        addend,
                    },
                );
            }
            if !by_offset.is_empty() {
                relocs.insert(section.index(), by_offset);
            }
        }
        Self { elf, relocs }
    }

    /// Relocations applied to `section`, ordered by offset.
    pub fn relocations_in(&self, section: SectionIndex) -> impl Iterator<Item = (u64, Reloc)> + '_ {
        self.relocs
            .get(&section)
            .into_iter()
            .flat_map(|map| map.iter().map(|(offset, reloc)| (*offset, *reloc)))
    }

    /// The relocation that fills the word at `location`, if any.
    pub fn relocation_at(&self, location: Location) -> Option<Reloc> {
        self.relocs
            .get(&location.section)?
            .get(&location.offset)
            .copied()
    }

    pub fn section_name(&self, index: SectionIndex) -> String {
        self.elf
            .section_by_index(index)
            .ok()
            .and_then(|section| section.name().ok().map(str::to_owned))
            .unwrap_or_else(|| format!("section#{}", index.0))
    }

    pub fn section_flags(&self, index: SectionIndex) -> u64 {
        self.elf
            .section_by_index(index)
            .map(|section| section.elf_section_header().sh_flags(self.elf.endian()))
            .unwrap_or(0)
    }

    pub fn symbol(&self, index: SymbolIndex) -> Option<ElfSymbol64<'data, '_, Endianness>> {
        self.elf.symbol_by_index(index).ok()
    }

    /// A name for a relocation target fit for a report: the symbol name, or
    /// for section symbols (how clang refers to string literals) the
    /// section's name.
    pub fn symbol_display_name(&self, index: Option<SymbolIndex>) -> String {
        let Some(index) = index else {
            return "<absolute>".to_owned();
        };
        let Some(symbol) = self.symbol(index) else {
            return format!("symbol#{}", index.0);
        };
        match symbol.name() {
            Ok(name) if !name.is_empty() => name.to_owned(),
            _ => match symbol.section() {
                SymbolSection::Section(section) => self.section_name(section),
                _ => format!("symbol#{}", index.0),
            },
        }
    }

    /// Where `symbol + addend` points, for a symbol defined in a section.
    pub fn resolve(&self, symbol: SymbolIndex, addend: i64) -> Option<Location> {
        let symbol = self.symbol(symbol)?;
        let SymbolSection::Section(section) = symbol.section() else {
            return None;
        };
        let offset = symbol.address().checked_add_signed(addend)?;
        Some(Location { section, offset })
    }

    /// Where the pointer-sized relocation at `location` points.
    pub fn pointer_target(&self, location: Location) -> Option<Location> {
        let reloc = self.relocation_at(location)?;
        if reloc.r_type != elf::R_X86_64_64 {
            return None;
        }
        self.resolve(reloc.symbol?, reloc.addend)
    }

    /// `len` bytes at `location`, or `None` when they are not in the file
    /// (past the end, or a NOBITS section such as .bss).
    pub fn bytes_at(&self, location: Location, len: usize) -> Option<&'data [u8]> {
        let section = self.elf.section_by_index(location.section).ok()?;
        let data = section.data().ok()?;
        let start = usize::try_from(location.offset).ok()?;
        data.get(start..start.checked_add(len)?)
    }

    pub fn i32_at(&self, location: Location) -> Option<i32> {
        let bytes = self.bytes_at(location, 4)?;
        Some(i32::from_le_bytes(bytes.try_into().ok()?))
    }

    /// The NUL-terminated string at `location`.
    pub fn c_string_at(&self, location: Location) -> Option<String> {
        let section = self.elf.section_by_index(location.section).ok()?;
        let data = section.data().ok()?;
        let tail = data.get(usize::try_from(location.offset).ok()?..)?;
        let end = tail.iter().position(|&byte| byte == 0)?;
        Some(String::from_utf8_lossy(&tail[..end]).into_owned())
    }
}

/// The ELF binding (STB_*) of a symbol.
pub fn binding(symbol: &ElfSymbol64<'_, '_, Endianness>) -> u8 {
    symbol.elf_symbol().st_bind()
}

/// The ELF type (STT_*) of a symbol.
pub fn symbol_type(symbol: &ElfSymbol64<'_, '_, Endianness>) -> u8 {
    symbol.elf_symbol().st_type()
}

/// True for symbols that name code or data (not sections or source files).
pub fn names_an_object(symbol: &ElfSymbol64<'_, '_, Endianness>) -> bool {
    !matches!(symbol_type(symbol), elf::STT_SECTION | elf::STT_FILE)
        && symbol.name().is_ok_and(|name| !name.is_empty())
}
