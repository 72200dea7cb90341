//! Decoding `set_modmetadata_set` from a relocatable module.
//!
//! In the file the set is an array of 8-byte slots, all zero, each filled at
//! load time by an R_X86_64_64 relocation pointing at a
//!
//! ```c
//! struct mod_metadata {          /* sys/module.h */
//!     int         md_version;    /* +0  MDT_STRUCT_VERSION == 1 */
//!     int         md_type;       /* +4  MDT_* */
//!     const void *md_data;       /* +8  relocation */
//!     const char *md_cval;       /* +16 relocation */
//! };                             /* 24 bytes */
//! ```
//!
//! whose two pointers are again relocations (symbol + addend) into .data
//! and .rodata; the kernel linker reads these records before the module
//! runs to decide whether, and after what, it may be loaded.

use object::{Object, ObjectSection};

use crate::module_file::{Location, ModuleFile};

pub const SET_SECTION: &str = "set_modmetadata_set";
pub const MDT_STRUCT_VERSION: i32 = 1;
const MDT_DEPEND: i32 = 1;
const MDT_MODULE: i32 = 2;
const MDT_VERSION: i32 = 3;
const MDT_PNP_INFO: i32 = 4;

const SLOT_SIZE: u64 = 8;
const MD_VERSION_OFFSET: u64 = 0;
const MD_TYPE_OFFSET: u64 = 4;
const MD_DATA_OFFSET: u64 = 8;
const MD_CVAL_OFFSET: u64 = 16;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RecordKind {
    /// `struct mod_depend`; `cval` names the module depended on.
    Depend {
        minimum: i32,
        preferred: i32,
        maximum: i32,
    },
    /// `cval` is the module's name.
    Module,
    /// `struct mod_version`; `cval` is the module's name.
    Version {
        version: i32,
    },
    PnpInfo,
    Unknown {
        md_type: i32,
    },
}

#[derive(Clone, Debug)]
pub struct Record {
    /// Index of the slot in the set, for error messages.
    pub slot: u64,
    /// Name of the `struct mod_metadata` object (or its section+offset).
    pub object: String,
    pub md_version: i32,
    pub kind: RecordKind,
    pub cval: Option<String>,
}

impl Record {
    pub fn describe(&self) -> String {
        let name = self.cval.as_deref().unwrap_or("<null>");
        match &self.kind {
            RecordKind::Depend {
                minimum,
                preferred,
                maximum,
            } => format!(
                "MDT_DEPEND on \"{name}\" min={minimum} preferred={preferred} max={maximum} ({})",
                self.object
            ),
            RecordKind::Module => format!("MDT_MODULE \"{name}\" ({})", self.object),
            RecordKind::Version { version } => {
                format!("MDT_VERSION \"{name}\" version={version} ({})", self.object)
            }
            RecordKind::PnpInfo => format!(
                "MDT_PNP_INFO bus \"{name}\" (not decoded) ({})",
                self.object
            ),
            RecordKind::Unknown { md_type } => {
                format!("unknown md_type {md_type} ({})", self.object)
            }
        }
    }
}

/// The decoded records and the problems met while decoding.  A record that
/// cannot be decoded is left out and explained in `errors`.
#[derive(Default)]
pub struct Decoded {
    pub records: Vec<Record>,
    pub errors: Vec<String>,
}

pub fn decode(module: &ModuleFile<'_>) -> Option<Decoded> {
    let section = module.elf.section_by_name(SET_SECTION)?;
    let mut decoded = Decoded::default();
    if section.size() % SLOT_SIZE != 0 {
        decoded.errors.push(format!(
            "{SET_SECTION} is {} bytes, not a whole number of pointers",
            section.size()
        ));
    }
    for slot in 0..section.size() / SLOT_SIZE {
        let slot_location = Location {
            section: section.index(),
            offset: slot * SLOT_SIZE,
        };
        match decode_slot(module, slot, slot_location) {
            Ok(record) => decoded.records.push(record),
            Err(error) => decoded.errors.push(format!(
                "{SET_SECTION}[{slot}] (offset {:#x}): {error}",
                slot * SLOT_SIZE
            )),
        }
    }
    Some(decoded)
}

fn decode_slot(
    module: &ModuleFile<'_>,
    slot: u64,
    slot_location: Location,
) -> Result<Record, String> {
    let reloc = module
        .relocation_at(slot_location)
        .ok_or("no relocation fills this slot (a NULL entry)")?;
    let target = module.pointer_target(slot_location).ok_or_else(|| {
        format!(
            "slot relocation {} against `{}` does not point into the module",
            crate::relocation_types::name(reloc.r_type),
            module.symbol_display_name(reloc.symbol)
        )
    })?;
    let object = object_name(module, reloc.symbol, target);
    let field = |offset: u64| Location {
        section: target.section,
        offset: target.offset + offset,
    };

    let md_version = module
        .i32_at(field(MD_VERSION_OFFSET))
        .ok_or("struct mod_metadata is not in the file")?;
    let md_type = module
        .i32_at(field(MD_TYPE_OFFSET))
        .ok_or("struct mod_metadata is truncated")?;
    let data = module.pointer_target(field(MD_DATA_OFFSET));
    let cval = match module.pointer_target(field(MD_CVAL_OFFSET)) {
        Some(location) => Some(
            module
                .c_string_at(location)
                .ok_or("md_cval does not point at a string")?,
        ),
        None => None,
    };

    let data_i32 = |index: u64| -> Result<i32, String> {
        let location =
            data.ok_or_else(|| format!("{object}: md_data is not a pointer into the module"))?;
        module
            .i32_at(Location {
                section: location.section,
                offset: location.offset + 4 * index,
            })
            .ok_or_else(|| format!("{object}: md_data points outside its section's file contents"))
    };
    let kind = match md_type {
        MDT_DEPEND => RecordKind::Depend {
            minimum: data_i32(0)?,
            preferred: data_i32(1)?,
            maximum: data_i32(2)?,
        },
        MDT_MODULE => RecordKind::Module,
        MDT_VERSION => RecordKind::Version {
            version: data_i32(0)?,
        },
        MDT_PNP_INFO => RecordKind::PnpInfo,
        other => RecordKind::Unknown { md_type: other },
    };
    Ok(Record {
        slot,
        object,
        md_version,
        kind,
        cval,
    })
}

/// The metadata object's symbol name when the slot names it directly, else
/// section+offset (clang may relocate against the section symbol).
fn object_name(
    module: &ModuleFile<'_>,
    symbol: Option<object::SymbolIndex>,
    target: Location,
) -> String {
    let named = module.symbol_display_name(symbol);
    let section = module.section_name(target.section);
    if named == section {
        format!("{section}+{:#x}", target.offset)
    } else {
        named
    }
}
