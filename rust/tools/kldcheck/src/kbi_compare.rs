//! Differences between two layouts of the same named type, or two
//! prototypes of the same function, as report lines.
//!
//! Used both across views (module vs kernel) and within one view (two
//! objects of the module disagreeing, which is an ODR violation: one of
//! them is wrong about the kernel, and it is not yet known which).  `a` and
//! `b` are labels for the two sides, e.g. "module" and "kernel".

use std::collections::HashMap;
use std::fmt::Display;

use crate::dwarf_types::{Member, Signature, TypeLayout, Typed};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// Bytes differ: code built against one side misreads the other.
    Violation,
    /// Names differ, bytes agree (e.g. `int` vs `u_int`): not a KBI break
    /// in itself, but the two sides were not built from the same headers.
    Warning,
}

/// Findings are reported whole-type first: when sizes differ, every member
/// after the first changed one moves too, and the size line is the one
/// that explains the rest.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Rank {
    Size,
    Member,
    Name,
}

#[derive(Clone, Debug)]
pub struct Finding {
    pub severity: Severity,
    pub rank: Rank,
    pub message: String,
}

/// The two sides being compared, and how messages name them.
#[derive(Clone, Copy)]
pub struct Sides<'a> {
    pub a: &'a str,
    pub b: &'a str,
}

struct Findings<'a> {
    title: String,
    sides: Sides<'a>,
    out: Vec<Finding>,
}

impl Findings<'_> {
    fn push(&mut self, severity: Severity, rank: Rank, detail: impl Display) {
        self.out.push(Finding {
            severity,
            rank,
            message: format!("{}: {detail}", self.title),
        });
    }

    /// "`what` X in a, Y in b" when X != Y.
    fn differ<T: PartialEq + Display>(&mut self, rank: Rank, what: &str, a: T, b: T) {
        if a != b {
            let Sides { a: la, b: lb } = self.sides;
            self.push(
                Severity::Violation,
                rank,
                format!("{what} {a} in {la}, {b} in {lb}"),
            );
        }
    }
}

/// How a type is named in messages: `cpuset_t (struct _cpuset)` for a
/// typedef, the name alone otherwise.
pub fn title(key: &str, layout: &TypeLayout) -> String {
    if layout.underlying == key {
        key.to_owned()
    } else {
        format!("{key} ({})", layout.underlying)
    }
}

/// Every difference between two layouts of type `key`.
pub fn diff_types(key: &str, a: &TypeLayout, b: &TypeLayout, sides: Sides<'_>) -> Vec<Finding> {
    let mut findings = Findings {
        title: title(key, a),
        sides,
        out: Vec::new(),
    };
    findings.differ(Rank::Size, "size", a.size, b.size);
    match (a.alignment, b.alignment) {
        (Some(x), Some(y)) => findings.differ(Rank::Size, "alignment", x, y),
        (None, None) => {}
        (x, y) => findings.push(
            Severity::Warning,
            Rank::Name,
            format!(
                "explicit alignment {} in {}, {} in {}",
                show(x),
                sides.a,
                show(y),
                sides.b
            ),
        ),
    }
    if a.underlying != b.underlying {
        findings.push(
            Severity::Warning,
            Rank::Name,
            format!(
                "names {} in {}, {} in {}",
                a.underlying, sides.a, b.underlying, sides.b
            ),
        );
    }
    diff_members(&mut findings, &a.members, &b.members);
    diff_enumerators(&mut findings, &a.enumerators, &b.enumerators);
    findings.out
}

fn diff_members(findings: &mut Findings<'_>, a: &[(String, Member)], b: &[(String, Member)]) {
    let Sides { a: la, b: lb } = findings.sides;
    let b_by_name: HashMap<&str, &Member> = b.iter().map(|(n, m)| (n.as_str(), m)).collect();
    let a_names: HashMap<&str, ()> = a.iter().map(|(n, _)| (n.as_str(), ())).collect();
    for (path, ma) in a {
        let Some(mb) = b_by_name.get(path.as_str()) else {
            findings.push(
                Severity::Violation,
                Rank::Member,
                format!("member {path} at {} in {la}, absent in {lb}", place(ma)),
            );
            continue;
        };
        findings.differ(
            Rank::Member,
            &format!("member {path} at"),
            place(ma),
            place(mb),
        );
        findings.differ(
            Rank::Member,
            &format!("member {path} width"),
            bits(ma.bit_width),
            bits(mb.bit_width),
        );
        if ma.size != mb.size {
            findings.push(
                Severity::Violation,
                Rank::Member,
                format!(
                    "member {path} size {} in {la}, {} in {lb} ({})",
                    show(ma.size),
                    show(mb.size),
                    types(&ma.type_name, &mb.type_name)
                ),
            );
        } else if ma.type_name != mb.type_name {
            findings.push(
                Severity::Warning,
                Rank::Name,
                format!(
                    "member {path} type {} in {la}, {} in {lb}",
                    ma.type_name, mb.type_name
                ),
            );
        }
    }
    for (path, mb) in b {
        if !a_names.contains_key(path.as_str()) {
            findings.push(
                Severity::Violation,
                Rank::Member,
                format!("member {path} at {} in {lb}, absent in {la}", place(mb)),
            );
        }
    }
}

fn diff_enumerators(findings: &mut Findings<'_>, a: &[(String, i128)], b: &[(String, i128)]) {
    let Sides { a: la, b: lb } = findings.sides;
    let b_by_name: HashMap<&str, i128> = b.iter().map(|(n, v)| (n.as_str(), *v)).collect();
    let a_by_name: HashMap<&str, i128> = a.iter().map(|(n, v)| (n.as_str(), *v)).collect();
    for (name, va) in a {
        match b_by_name.get(name.as_str()) {
            Some(vb) => findings.differ(Rank::Member, &format!("enumerator {name} ="), va, vb),
            None => findings.push(
                Severity::Violation,
                Rank::Member,
                format!("enumerator {name} = {va} in {la}, absent in {lb}"),
            ),
        }
    }
    for (name, vb) in b {
        if !a_by_name.contains_key(name.as_str()) {
            findings.push(
                Severity::Violation,
                Rank::Member,
                format!("enumerator {name} = {vb} in {lb}, absent in {la}"),
            );
        }
    }
}

/// Every difference between two prototypes of function `name` that
/// changes how arguments are passed or results returned.  Parameter names
/// are not compared: declarations emitted for call sites have none.
pub fn diff_functions(name: &str, a: &Signature, b: &Signature, sides: Sides<'_>) -> Vec<Finding> {
    let mut findings = Findings {
        title: format!("function {name}"),
        sides,
        out: Vec::new(),
    };
    findings.differ(
        Rank::Size,
        "parameter count",
        a.params.len(),
        b.params.len(),
    );
    findings.differ(Rank::Size, "variadic", a.variadic, b.variadic);
    let void = Typed {
        name: None,
        type_name: "void".to_owned(),
        size: Some(0),
    };
    diff_value(
        &mut findings,
        "return value",
        a.returns.as_ref().unwrap_or(&void),
        b.returns.as_ref().unwrap_or(&void),
    );
    for (number, (pa, pb)) in a.params.iter().zip(&b.params).enumerate() {
        let what = match pa.name.as_ref().or(pb.name.as_ref()) {
            Some(param) => format!("parameter {} ({param})", number + 1),
            None => format!("parameter {}", number + 1),
        };
        diff_value(&mut findings, &what, pa, pb);
    }
    findings.out
}

fn diff_value(findings: &mut Findings<'_>, what: &str, a: &Typed, b: &Typed) {
    let Sides { a: la, b: lb } = findings.sides;
    if a.size != b.size {
        findings.push(
            Severity::Violation,
            Rank::Size,
            format!(
                "{what} size {} in {la}, {} in {lb} ({})",
                show(a.size),
                show(b.size),
                types(&a.type_name, &b.type_name)
            ),
        );
    } else if a.type_name != b.type_name {
        findings.push(
            Severity::Warning,
            Rank::Name,
            format!(
                "{what} type {} in {la}, {} in {lb}",
                a.type_name, b.type_name
            ),
        );
    }
}

/// A member's position: the byte offset, plus the bit for bitfields.
fn place(member: &Member) -> String {
    let (byte, bit) = (member.bit_offset / 8, member.bit_offset % 8);
    if member.bit_width.is_some() {
        format!("byte {byte} bit {bit}")
    } else if bit == 0 {
        byte.to_string()
    } else {
        format!("bit {}", member.bit_offset)
    }
}

/// The type(s) behind a size difference: one name when both sides spell
/// it the same (`cpuset_t`), both otherwise (`long[1] vs long[16]`).
fn types(a: &str, b: &str) -> String {
    if a == b {
        a.to_owned()
    } else {
        format!("{a} vs {b}")
    }
}

fn bits(width: Option<u64>) -> String {
    width.map_or_else(|| "(not a bitfield)".to_owned(), |w| format!("{w} bits"))
}

fn show(value: Option<u64>) -> String {
    value.map_or_else(|| "unknown".to_owned(), |v| v.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SIDES: Sides<'static> = Sides {
        a: "module",
        b: "kernel",
    };

    fn member(offset: u64, size: u64, type_name: &str) -> Member {
        Member {
            bit_offset: offset * 8,
            bit_width: None,
            type_name: type_name.to_owned(),
            size: Some(size),
        }
    }

    fn layout(underlying: &str, size: u64, members: &[(&str, Member)]) -> TypeLayout {
        TypeLayout {
            underlying: underlying.to_owned(),
            size,
            alignment: None,
            members: members
                .iter()
                .map(|(name, m)| ((*name).to_owned(), m.clone()))
                .collect(),
            enumerators: Vec::new(),
        }
    }

    fn messages(findings: &[Finding]) -> Vec<&str> {
        findings.iter().map(|f| f.message.as_str()).collect()
    }

    #[test]
    fn identical_layouts_have_no_findings() {
        let a = layout("struct s", 8, &[("x", member(0, 8, "long"))]);
        assert!(diff_types("struct s", &a, &a.clone(), SIDES).is_empty());
    }

    #[test]
    fn names_typedef_size_and_extra_member() {
        let a = layout("struct _cpuset", 8, &[("__bits", member(0, 8, "long[1]"))]);
        let b = layout(
            "struct _cpuset",
            128,
            &[
                ("__bits", member(0, 128, "long[16]")),
                ("extra", member(128, 8, "long")),
            ],
        );
        let findings = diff_types("cpuset_t", &a, &b, SIDES);
        assert_eq!(
            messages(&findings),
            [
                "cpuset_t (struct _cpuset): size 8 in module, 128 in kernel",
                "cpuset_t (struct _cpuset): member __bits size 8 in module, 128 in kernel (long[1] vs long[16])",
                "cpuset_t (struct _cpuset): member extra at 128 in kernel, absent in module",
            ]
        );
    }

    #[test]
    fn same_size_different_type_name_is_only_a_warning() {
        let a = layout("struct s", 4, &[("x", member(0, 4, "int"))]);
        let b = layout("struct s", 4, &[("x", member(0, 4, "u_int"))]);
        let findings = diff_types("struct s", &a, &b, SIDES);
        assert_eq!(findings.len(), 1);
        assert_eq!(findings[0].severity, Severity::Warning);
    }

    #[test]
    fn bitfield_moves_and_widths_are_violations() {
        let field = |bit_offset, width| Member {
            bit_offset,
            bit_width: Some(width),
            type_name: "unsigned int".to_owned(),
            size: Some(4),
        };
        let a = layout("struct s", 4, &[("f", field(3, 5))]);
        let b = layout("struct s", 4, &[("f", field(4, 4))]);
        assert_eq!(
            messages(&diff_types("struct s", &a, &b, SIDES)),
            [
                "struct s: member f at byte 0 bit 3 in module, byte 0 bit 4 in kernel",
                "struct s: member f width 5 bits in module, 4 bits in kernel",
            ]
        );
    }

    #[test]
    fn enumerator_values_are_compared() {
        let mut a = layout("enum e", 4, &[]);
        let mut b = a.clone();
        a.enumerators = vec![("A".to_owned(), 1), ("B".to_owned(), 2)];
        b.enumerators = vec![("A".to_owned(), 1), ("B".to_owned(), 3)];
        assert_eq!(
            messages(&diff_types("enum e", &a, &b, SIDES)),
            ["enum e: enumerator B = 2 in module, 3 in kernel"]
        );
    }

    #[test]
    fn by_value_parameter_size_names_the_function() {
        let param = |size| Typed {
            name: None,
            type_name: "cpuset_t".to_owned(),
            size: Some(size),
        };
        let a = Signature {
            returns: None,
            params: vec![param(8)],
            variadic: false,
        };
        let b = Signature {
            params: vec![param(128)],
            ..a.clone()
        };
        assert_eq!(
            messages(&diff_functions("smp_rendezvous_cpus_retry", &a, &b, SIDES)),
            ["function smp_rendezvous_cpus_retry: parameter 1 size 8 in module, 128 in kernel (cpuset_t)"]
        );
    }
}
