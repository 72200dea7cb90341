//! One view of the KBI: every type and function definition found in the
//! objects of one configuration (the module's, or the kernel's), merged.
//!
//! Each header type appears once per object that uses it; the view keeps
//! the first and checks that the others agree.  Objects of one view
//! disagreeing means they were not compiled alike (a per-file `-D`, an
//! options header included by some files only): a violation in itself,
//! whatever the other view says.

use std::collections::BTreeMap;

use crate::dwarf_types::{Definitions, Signature, TypeLayout};
use crate::kbi_compare::{diff_functions, diff_types, Finding, Sides};

/// A definition and where it was first seen.
pub struct Sourced<T> {
    pub value: T,
    pub origin: String,
}

pub struct View {
    pub label: String,
    pub objects: usize,
    pub types: BTreeMap<String, Sourced<TypeLayout>>,
    pub functions: BTreeMap<String, Sourced<Signature>>,
    /// Disagreements between this view's own objects.
    pub conflicts: Vec<Finding>,
}

impl View {
    pub fn new(label: &str) -> Self {
        Self {
            label: label.to_owned(),
            objects: 0,
            types: BTreeMap::new(),
            functions: BTreeMap::new(),
            conflicts: Vec::new(),
        }
    }

    /// Merges what one unit defines.  `origin` names the unit in messages
    /// (the object file, plus the source file for multi-unit `.ko`s).
    pub fn add(&mut self, origin: &str, definitions: Definitions) {
        for (key, layout) in definitions.types {
            match self.types.get(&key) {
                Some(seen) => {
                    let sides = Sides {
                        a: &seen.origin,
                        b: origin,
                    };
                    let findings = diff_types(&key, &seen.value, &layout, sides);
                    self.conflicts.extend(findings);
                }
                None => {
                    self.types.insert(key, sourced(layout, origin));
                }
            }
        }
        for (name, signature) in definitions.functions {
            match self.functions.get(&name) {
                Some(seen) => {
                    let sides = Sides {
                        a: &seen.origin,
                        b: origin,
                    };
                    let findings = diff_functions(&name, &seen.value, &signature, sides);
                    self.conflicts.extend(findings);
                }
                None => {
                    self.functions.insert(name, sourced(signature, origin));
                }
            }
        }
    }
}

fn sourced<T>(value: T, origin: &str) -> Sourced<T> {
    Sourced {
        value,
        origin: origin.to_owned(),
    }
}
