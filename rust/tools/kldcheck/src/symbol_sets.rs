//! Symbol-name sets read from files or from other modules.

use std::collections::BTreeSet;

use object::elf::STB_GLOBAL;
use object::{Object, ObjectSymbol};

use crate::module_file::{binding, names_an_object, Elf};

/// Parses an exports list: one symbol per line, `#` starts a comment,
/// blank lines ignored.
pub fn parse_exports_list(text: &str) -> BTreeSet<String> {
    text.lines()
        .map(|line| line.split('#').next().unwrap_or("").trim())
        .filter(|line| !line.is_empty())
        .map(str::to_owned)
        .collect()
}

/// What a module offers other modules: its defined STB_GLOBAL symbols (the
/// FreeBSD kernel linker resolves nothing else between modules).
pub fn global_definitions(elf: &Elf<'_>) -> BTreeSet<String> {
    elf.symbols()
        .filter(|symbol| {
            !symbol.is_undefined() && names_an_object(symbol) && binding(symbol) == STB_GLOBAL
        })
        .filter_map(|symbol| symbol.name().ok().map(str::to_owned))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::parse_exports_list;

    #[test]
    fn exports_list_ignores_comments_and_blanks() {
        let set = parse_exports_list("# KPI\ndevref_open\n\n  devref_close  # trailing\n#gone\n");
        assert_eq!(
            set.into_iter().collect::<Vec<_>>(),
            ["devref_close", "devref_open"]
        );
    }
}
