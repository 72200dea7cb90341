//! DWARF units read into plain trees of DIEs, keeping only the attributes
//! a type layout is made of.
//!
//! gimli's readers are cursors over bytes and references between DIEs are
//! offsets; layout extraction follows `DW_AT_type` chains back and forth.
//! Decoding each unit once into an arena of owned `Die`s — names already
//! resolved through `.debug_str`/`.debug_str_offsets`, type references
//! already indices — keeps that code free of gimli and of error plumbing,
//! and makes the DWARF 4/DWARF 5 form differences (strp vs strx, data vs
//! exprloc member locations) this file's business only.

use std::collections::HashMap;

use gimli::{AttributeValue, DwAt, DwTag, EndianSlice, LittleEndian, Operation, Reader};

use crate::dwarf_sections::DebugSections;

type Slice<'a> = EndianSlice<'a, LittleEndian>;

/// One debugging information entry, reduced.
#[derive(Debug)]
pub struct Die {
    pub tag: DwTag,
    pub name: Option<String>,
    pub children: Vec<usize>,
    /// `DW_AT_type`, as an index into the unit's arena.
    pub type_ref: Option<usize>,
    pub byte_size: Option<u64>,
    pub bit_size: Option<u64>,
    /// DWARF 4+ bitfield position, from the start of the containing type.
    pub data_bit_offset: Option<u64>,
    /// DWARF 2/3 bitfield position: from the most significant bit of the
    /// storage unit at `member_location`, `byte_size` bytes wide.
    pub legacy_bit_offset: Option<u64>,
    pub member_location: Option<u64>,
    pub declaration: bool,
    pub external: bool,
    pub prototyped: bool,
    pub alignment: Option<u64>,
    /// Bounds of a `DW_TAG_subrange_type`: see `element_count`.
    pub count: Option<u64>,
    pub lower_bound: Option<u64>,
    pub upper_bound: Option<u64>,
    /// `DW_AT_const_value` of an enumerator.
    pub const_value: Option<i128>,
}

impl Die {
    fn new(tag: DwTag) -> Self {
        Self {
            tag,
            name: None,
            children: Vec::new(),
            type_ref: None,
            byte_size: None,
            bit_size: None,
            data_bit_offset: None,
            legacy_bit_offset: None,
            member_location: None,
            declaration: false,
            external: false,
            prototyped: false,
            alignment: None,
            count: None,
            lower_bound: None,
            upper_bound: None,
            const_value: None,
        }
    }

    /// Elements in an array dimension: `DW_AT_count` (clang), else
    /// `DW_AT_upper_bound` - `DW_AT_lower_bound` + 1 (gcc; C's lower bound
    /// defaults to 0).  `None` for a flexible array member.
    pub fn element_count(&self) -> Option<u64> {
        if let Some(count) = self.count {
            return Some(count);
        }
        let upper = self.upper_bound?;
        (upper + 1).checked_sub(self.lower_bound.unwrap_or(0))
    }
}

/// One compilation (or type) unit.
pub struct UnitDies {
    pub dies: Vec<Die>,
    /// Children of the unit DIE: the file-scope declarations.
    pub top_level: Vec<usize>,
    /// Pointer size, for pointer types clang emits without `DW_AT_byte_size`.
    pub address_size: u8,
    pub version: u16,
}

impl UnitDies {
    pub fn die(&self, index: usize) -> &Die {
        &self.dies[index]
    }

    /// The unit's `DW_AT_name`: its primary source file.
    pub fn name(&self) -> Option<&str> {
        self.dies.first()?.name.as_deref()
    }
}

/// Every unit in `sections`' `.debug_info`.
pub fn read_units(sections: &DebugSections) -> Result<Vec<UnitDies>, String> {
    let dwarf = gimli::Dwarf::load(|id| -> Result<Slice<'_>, String> {
        Ok(EndianSlice::new(sections.get(id.name()), LittleEndian))
    })?;
    let mut units = Vec::new();
    let mut headers = dwarf.units();
    while let Some(header) = headers.next().map_err(describe)? {
        let unit = dwarf.unit(header).map_err(describe)?;
        units.push(read_unit(&dwarf, &unit).map_err(describe)?);
    }
    Ok(units)
}

fn describe(error: gimli::Error) -> String {
    format!("malformed DWARF: {error}")
}

fn read_unit(
    dwarf: &gimli::Dwarf<Slice<'_>>,
    unit: &gimli::Unit<Slice<'_>>,
) -> gimli::Result<UnitDies> {
    let mut dies: Vec<Die> = Vec::new();
    let mut index_of: HashMap<usize, usize> = HashMap::new();
    // Unresolved DW_AT_type references: (die index, unit offset).
    let mut pending: Vec<(usize, usize)> = Vec::new();
    // path[d] is the DIE at depth d on the way to the current one.
    let mut path: Vec<usize> = Vec::new();
    let mut depth: isize = 0;
    let mut cursor = unit.entries();
    while let Some((delta, entry)) = cursor.next_dfs()? {
        depth += delta;
        path.truncate(usize::try_from(depth).unwrap_or(0));
        let index = dies.len();
        index_of.insert(entry.offset().0, index);
        let mut die = Die::new(entry.tag());
        let mut attrs = entry.attrs();
        while let Some(attr) = attrs.next()? {
            read_attribute(
                dwarf,
                unit,
                &mut die,
                attr.name(),
                attr.value(),
                &mut pending,
                index,
            )?;
        }
        if let Some(&parent) = path.last() {
            dies[parent].children.push(index);
        }
        dies.push(die);
        path.push(index);
    }
    for (index, offset) in pending {
        dies[index].type_ref = index_of.get(&offset).copied();
    }
    let top_level = if dies.is_empty() {
        Vec::new()
    } else {
        dies[0].children.clone()
    };
    Ok(UnitDies {
        dies,
        top_level,
        address_size: unit.encoding().address_size,
        version: unit.encoding().version,
    })
}

fn read_attribute(
    dwarf: &gimli::Dwarf<Slice<'_>>,
    unit: &gimli::Unit<Slice<'_>>,
    die: &mut Die,
    name: DwAt,
    value: AttributeValue<Slice<'_>>,
    pending: &mut Vec<(usize, usize)>,
    index: usize,
) -> gimli::Result<()> {
    match name {
        gimli::DW_AT_name => {
            let text = dwarf.attr_string(unit, value)?;
            die.name = Some(text.to_string_lossy().into_owned());
        }
        gimli::DW_AT_type => {
            // Objects are single units: references outside the unit
            // (DW_FORM_ref_addr, type signatures) only come from LTO or
            // type units, and leave the type unknown.
            if let AttributeValue::UnitRef(offset) = value {
                pending.push((index, offset.0));
            }
        }
        gimli::DW_AT_byte_size => die.byte_size = value.udata_value(),
        gimli::DW_AT_bit_size => die.bit_size = value.udata_value(),
        gimli::DW_AT_data_bit_offset => die.data_bit_offset = value.udata_value(),
        gimli::DW_AT_bit_offset => die.legacy_bit_offset = value.udata_value(),
        gimli::DW_AT_data_member_location => {
            die.member_location = match value {
                AttributeValue::Exprloc(expression) => {
                    constant_location(expression.0, unit.encoding())
                }
                other => other.udata_value(),
            };
        }
        gimli::DW_AT_declaration => die.declaration = flag(&value),
        gimli::DW_AT_external => die.external = flag(&value),
        gimli::DW_AT_prototyped => die.prototyped = flag(&value),
        gimli::DW_AT_alignment => die.alignment = value.udata_value(),
        gimli::DW_AT_count => die.count = value.udata_value(),
        gimli::DW_AT_upper_bound => die.upper_bound = value.udata_value(),
        gimli::DW_AT_lower_bound => die.lower_bound = value.udata_value(),
        gimli::DW_AT_const_value => {
            die.const_value = match value {
                AttributeValue::Sdata(signed) => Some(i128::from(signed)),
                AttributeValue::Udata(unsigned) => Some(i128::from(unsigned)),
                other => other.udata_value().map(i128::from),
            };
        }
        _ => {}
    }
    Ok(())
}

fn flag(value: &AttributeValue<Slice<'_>>) -> bool {
    matches!(value, AttributeValue::Flag(true))
}

/// A member location written as an expression (DWARF 2 style):
/// `DW_OP_plus_uconst N` or a lone constant.  Anything computed is not a
/// fixed offset and yields `None`.
fn constant_location(mut bytes: Slice<'_>, encoding: gimli::Encoding) -> Option<u64> {
    let operation = Operation::parse(&mut bytes, encoding).ok()?;
    if !bytes.is_empty() {
        return None;
    }
    match operation {
        Operation::PlusConstant { value } => Some(value),
        Operation::UnsignedConstant { value } => Some(value),
        _ => None,
    }
}
