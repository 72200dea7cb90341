//! The layout model: what a C type looks like in memory, as one unit's
//! DWARF describes it.
//!
//! A KBI break is a disagreement about bytes — sizes, member offsets,
//! bitfield positions, enumerator values, the sizes of parameters passed by
//! value — so that is all the model keeps.  Types are named the way C
//! spells them (`struct filterops`, `cpuset_t`) because two compilations
//! share nothing else: DIE offsets differ between any two objects.
//!
//! Only complete file-scope definitions are recorded: a declaration
//! (`struct thread;`, or a typedef of one) has no layout to compare.
//! Anonymous structs and unions have no name of their own, so their members
//! are recorded inside the named type that contains them, under a path
//! (`td_u.<anon>.x`).  Named member types are not recursed into: they are
//! compared under their own name.

use gimli::DwTag;

use crate::dwarf_dies::{Die, UnitDies};

/// How deep type names and anonymous members are followed.  C types are
/// finite, but a corrupt unit can make a `DW_AT_type` cycle.
const MAX_DEPTH: usize = 24;

/// A named type's layout.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TypeLayout {
    /// What the name denotes once typedefs and qualifiers are stripped:
    /// `struct _cpuset` for `cpuset_t`, the name itself for a struct.
    pub underlying: String,
    pub size: u64,
    /// `DW_AT_alignment`: clang emits it only for explicit alignment
    /// (`__aligned`, `_Alignas`).
    pub alignment: Option<u64>,
    /// Data members in declaration order, anonymous aggregates flattened.
    pub members: Vec<(String, Member)>,
    /// Enumerators of an enum, in declaration order.
    pub enumerators: Vec<(String, i128)>,
}

/// One data member of a struct or union.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    /// From the start of the named type; bit-exact for bitfields.
    pub bit_offset: u64,
    /// Width of a bitfield; `None` for an ordinary member.
    pub bit_width: Option<u64>,
    pub type_name: String,
    /// Size of the member's type; `None` for a flexible array.
    pub size: Option<u64>,
}

/// A value with a C type: a parameter or a return value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Typed {
    pub name: Option<String>,
    pub type_name: String,
    pub size: Option<u64>,
}

/// An external function's prototype.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Signature {
    /// `None` for `void`.
    pub returns: Option<Typed>,
    pub params: Vec<Typed>,
    pub variadic: bool,
}

/// Everything one unit defines, keyed by C name.
#[derive(Default)]
pub struct Definitions {
    pub types: Vec<(String, TypeLayout)>,
    pub functions: Vec<(String, Signature)>,
}

/// The named types and prototyped external functions at file scope in
/// `unit`.  clang emits a `DW_TAG_subprogram` declaration for an extern
/// function only when a call site needs it (optimised builds); without one
/// the function is simply not in the model.
pub fn collect(unit: &UnitDies) -> Definitions {
    let types = Types { unit };
    let mut definitions = Definitions::default();
    for &index in &unit.top_level {
        let die = unit.die(index);
        let Some(name) = &die.name else {
            continue;
        };
        if let Some(prefix) = aggregate_keyword(die.tag) {
            if let Some(layout) = types.layout(index, None) {
                definitions.types.push((format!("{prefix} {name}"), layout));
            }
        } else if die.tag == gimli::DW_TAG_typedef {
            if let Some(layout) = die
                .type_ref
                .and_then(|target| types.typedef_layout(target, die))
            {
                definitions.types.push((name.clone(), layout));
            }
        } else if die.tag == gimli::DW_TAG_subprogram && die.external && die.prototyped {
            definitions
                .functions
                .push((name.clone(), types.signature(index)));
        }
    }
    definitions
}

fn aggregate_keyword(tag: DwTag) -> Option<&'static str> {
    match tag {
        gimli::DW_TAG_structure_type => Some("struct"),
        gimli::DW_TAG_union_type => Some("union"),
        gimli::DW_TAG_enumeration_type => Some("enum"),
        gimli::DW_TAG_class_type => Some("class"),
        _ => None,
    }
}

/// Tags that only qualify another type: they change neither size nor layout.
fn is_qualifier(tag: DwTag) -> bool {
    matches!(
        tag,
        gimli::DW_TAG_const_type
            | gimli::DW_TAG_volatile_type
            | gimli::DW_TAG_restrict_type
            | gimli::DW_TAG_atomic_type
    )
}

struct Types<'a> {
    unit: &'a UnitDies,
}

impl Types<'_> {
    fn die(&self, index: usize) -> &Die {
        self.unit.die(index)
    }

    /// The layout of the type at `index`, reached directly or through
    /// `typedef` (whose own `DW_AT_alignment` then counts).  `None` when
    /// it is incomplete: a declaration, `void`, a function type.
    fn layout(&self, index: usize, typedef: Option<&Die>) -> Option<TypeLayout> {
        let size = self.size(index, 0)?;
        let target = self.strip(index, true);
        let die = self.die(target);
        if die.declaration {
            return None;
        }
        let mut members = Vec::new();
        let mut enumerators = Vec::new();
        match die.tag {
            gimli::DW_TAG_structure_type | gimli::DW_TAG_union_type | gimli::DW_TAG_class_type => {
                self.members(target, 0, "", &mut members, 0);
            }
            gimli::DW_TAG_enumeration_type => {
                for &child in &die.children {
                    let child = self.die(child);
                    if child.tag == gimli::DW_TAG_enumerator {
                        if let (Some(name), Some(value)) = (&child.name, child.const_value) {
                            enumerators.push((name.clone(), value));
                        }
                    }
                }
            }
            _ => {}
        }
        Some(TypeLayout {
            underlying: self.name(target, 0),
            size,
            alignment: typedef
                .and_then(|typedef| typedef.alignment)
                .or(die.alignment),
            members,
            enumerators,
        })
    }

    /// The layout a typedef names.  When that is a named struct, union or
    /// enum, its members are compared under its own name; repeating them
    /// here would report every difference twice, so only the size stays.
    fn typedef_layout(&self, target: usize, typedef: &Die) -> Option<TypeLayout> {
        let mut layout = self.layout(target, Some(typedef))?;
        let underlying = self.die(self.strip(target, true));
        if underlying.name.is_some() && aggregate_keyword(underlying.tag).is_some() {
            layout.members.clear();
            layout.enumerators.clear();
        }
        Some(layout)
    }

    /// Appends the data members of the struct/union at `index`, placed at
    /// `base_bits` inside the named type, to `out`.
    fn members(
        &self,
        index: usize,
        base_bits: u64,
        prefix: &str,
        out: &mut Vec<(String, Member)>,
        depth: usize,
    ) {
        if depth > MAX_DEPTH {
            return;
        }
        let mut anonymous = 0;
        for &child in &self.die(index).children {
            let member = self.die(child);
            if member.tag != gimli::DW_TAG_member {
                continue;
            }
            let name = match &member.name {
                Some(name) => name.clone(),
                None => {
                    anonymous += 1;
                    if anonymous == 1 {
                        "<anon>".to_owned()
                    } else {
                        format!("<anon{anonymous}>")
                    }
                }
            };
            let path = format!("{prefix}{name}");
            let bit_offset = base_bits + self.member_bit_offset(member);
            let (type_name, size) = match member.type_ref {
                Some(target) => (self.name(target, 0), self.size(target, 0)),
                None => ("<unknown>".to_owned(), None),
            };
            out.push((
                path.clone(),
                Member {
                    bit_offset,
                    bit_width: member.bit_size,
                    type_name,
                    size,
                },
            ));
            if let Some((inner, suffix)) = member.type_ref.and_then(|t| self.anonymous_aggregate(t))
            {
                self.members(
                    inner,
                    bit_offset,
                    &format!("{path}{suffix}."),
                    out,
                    depth + 1,
                );
            }
        }
    }

    /// The anonymous struct/union a member of type `index` contains, with
    /// the path suffix that reaches it: directly (`""`), or as the first
    /// element of an array of them (`"[0]"`).
    fn anonymous_aggregate(&self, index: usize) -> Option<(usize, &'static str)> {
        let mut target = self.strip(index, false);
        let mut suffix = "";
        if self.die(target).tag == gimli::DW_TAG_array_type {
            target = self.strip(self.die(target).type_ref?, false);
            suffix = "[0]";
        }
        let die = self.die(target);
        let aggregate = matches!(
            die.tag,
            gimli::DW_TAG_structure_type | gimli::DW_TAG_union_type
        );
        (aggregate && die.name.is_none() && !die.declaration).then_some((target, suffix))
    }

    /// Where a member starts, in bits from the start of its struct.
    fn member_bit_offset(&self, member: &Die) -> u64 {
        if let Some(bits) = member.data_bit_offset {
            return bits;
        }
        let byte_bits = member.member_location.unwrap_or(0) * 8;
        match (member.legacy_bit_offset, member.bit_size) {
            // DWARF 2/3 counts from the storage unit's most significant bit;
            // on little-endian x86 that is storage - offset - width from the
            // unit's start.
            (Some(from_msb), Some(width)) => {
                let storage_bits = member
                    .byte_size
                    .or_else(|| member.type_ref.and_then(|t| self.size(t, 0)))
                    .unwrap_or(0)
                    * 8;
                byte_bits + storage_bits.saturating_sub(from_msb + width)
            }
            _ => byte_bits,
        }
    }

    /// Follows qualifiers (and typedefs, when `typedefs`) to the type
    /// they name.
    fn strip(&self, mut index: usize, typedefs: bool) -> usize {
        for _ in 0..MAX_DEPTH {
            let die = self.die(index);
            let follow = is_qualifier(die.tag) || (typedefs && die.tag == gimli::DW_TAG_typedef);
            match die.type_ref {
                Some(target) if follow => index = target,
                _ => break,
            }
        }
        index
    }

    /// The size in bytes of the type at `index`; `None` if incomplete.
    fn size(&self, index: usize, depth: usize) -> Option<u64> {
        if depth > MAX_DEPTH {
            return None;
        }
        let die = self.die(index);
        match die.tag {
            gimli::DW_TAG_typedef => self.size(die.type_ref?, depth + 1),
            tag if is_qualifier(tag) => self.size(die.type_ref?, depth + 1),
            gimli::DW_TAG_pointer_type
            | gimli::DW_TAG_reference_type
            | gimli::DW_TAG_rvalue_reference_type => {
                Some(die.byte_size.unwrap_or(u64::from(self.unit.address_size)))
            }
            gimli::DW_TAG_array_type => {
                if let Some(size) = die.byte_size {
                    return Some(size);
                }
                let mut size = self.size(die.type_ref?, depth + 1)?;
                for &child in &die.children {
                    let child = self.die(child);
                    if child.tag == gimli::DW_TAG_subrange_type {
                        size = size.checked_mul(child.element_count()?)?;
                    }
                }
                Some(size)
            }
            gimli::DW_TAG_subroutine_type => None,
            _ if die.declaration => None,
            _ => die.byte_size,
        }
    }

    /// The type at `index` spelled roughly as C would: `struct _cpuset`,
    /// `const char *`, `long[16]`, `int (void *)` for a function type.
    fn name(&self, index: usize, depth: usize) -> String {
        if depth > MAX_DEPTH {
            return "...".to_owned();
        }
        let die = self.die(index);
        let inner = |depth| match die.type_ref {
            Some(target) => self.name(target, depth + 1),
            None => "void".to_owned(),
        };
        if let Some(keyword) = aggregate_keyword(die.tag) {
            let name = die.name.as_deref().unwrap_or("<anon>");
            return format!("{keyword} {name}");
        }
        match die.tag {
            gimli::DW_TAG_pointer_type => format!("{} *", inner(depth)),
            gimli::DW_TAG_reference_type => format!("{} &", inner(depth)),
            gimli::DW_TAG_const_type => format!("const {}", inner(depth)),
            gimli::DW_TAG_volatile_type => format!("volatile {}", inner(depth)),
            gimli::DW_TAG_restrict_type => format!("{} restrict", inner(depth)),
            gimli::DW_TAG_atomic_type => format!("_Atomic {}", inner(depth)),
            gimli::DW_TAG_array_type => {
                let mut text = inner(depth);
                for &child in &die.children {
                    let child = self.die(child);
                    if child.tag == gimli::DW_TAG_subrange_type {
                        match child.element_count() {
                            Some(count) => text.push_str(&format!("[{count}]")),
                            None => text.push_str("[]"),
                        }
                    }
                }
                text
            }
            gimli::DW_TAG_subroutine_type => {
                let params: Vec<String> = die
                    .children
                    .iter()
                    .filter_map(|&child| {
                        let child = self.die(child);
                        match child.tag {
                            gimli::DW_TAG_formal_parameter => Some(match child.type_ref {
                                Some(target) => self.name(target, depth + 1),
                                None => "<unknown>".to_owned(),
                            }),
                            gimli::DW_TAG_unspecified_parameters => Some("...".to_owned()),
                            _ => None,
                        }
                    })
                    .collect();
                format!("{} ({})", inner(depth), params.join(", "))
            }
            _ => die.name.clone().unwrap_or_else(|| format!("<{}>", die.tag)),
        }
    }

    fn typed(&self, name: Option<String>, type_ref: Option<usize>) -> Typed {
        match type_ref {
            Some(target) => Typed {
                name,
                type_name: self.name(target, 0),
                size: self.size(target, 0),
            },
            None => Typed {
                name,
                type_name: "<unknown>".to_owned(),
                size: None,
            },
        }
    }

    fn signature(&self, index: usize) -> Signature {
        let die = self.die(index);
        let mut params = Vec::new();
        let mut variadic = false;
        for &child in &die.children {
            let child = self.die(child);
            match child.tag {
                gimli::DW_TAG_formal_parameter => {
                    params.push(self.typed(child.name.clone(), child.type_ref));
                }
                gimli::DW_TAG_unspecified_parameters => variadic = true,
                _ => {}
            }
        }
        Signature {
            returns: die.type_ref.map(|_| self.typed(None, die.type_ref)),
            params,
            variadic,
        }
    }
}
