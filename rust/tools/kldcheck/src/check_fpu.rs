//! Check 4: no x87/MMX/SSE/AVX instructions in executable sections.
//!
//! Each SHF_EXECINSTR section is decoded linearly from offset 0 (in an
//! ET_REL every section starts at 0).  Linear decoding can desynchronise on
//! data embedded in text; clang and rustc emit none for x86-64, so bytes
//! that do not decode are reported as a warning, not a violation.

use std::collections::BTreeMap;

use iced_x86::{
    Decoder, DecoderOptions, Formatter, GasFormatter, Instruction, InstructionInfoFactory,
};
use object::elf::{SHF_EXECINSTR, STT_FUNC};
use object::{Object, ObjectSection, ObjectSymbol, SectionIndex, SymbolSection};

use crate::fpu_usage;
use crate::module_file::{symbol_type, ModuleFile};
use crate::report::{Report, MAX_DETAIL_LINES};

const CHECK: &str = "no-fpu";

pub fn check(module: &ModuleFile<'_>, report: &mut Report) {
    let functions = function_starts(module);
    let mut formatter = GasFormatter::new();
    // In an ET_REL the displacement is a relocation placeholder; show the
    // operand as written (`0x0(%rip)`), not as a meaningless absolute address.
    formatter.options_mut().set_rip_relative_addresses(true);
    let mut info_factory = InstructionInfoFactory::new();
    let mut offending = Vec::new();
    let mut undecodable = Vec::new();
    let mut decoded = 0usize;
    let mut sections = 0usize;

    for section in module.elf.sections() {
        if module.section_flags(section.index()) & u64::from(SHF_EXECINSTR) == 0 {
            continue;
        }
        let Ok(code) = section.data() else { continue };
        sections += 1;
        let section_name = module.section_name(section.index());
        let mut decoder = Decoder::with_ip(64, code, 0, DecoderOptions::NONE);
        let mut instruction = Instruction::default();
        while decoder.can_decode() {
            decoder.decode_out(&mut instruction);
            decoded += 1;
            let offset = instruction.ip();
            let place = describe_place(&functions, section.index(), &section_name, offset);
            if instruction.is_invalid() {
                undecodable.push(format!("{place}: bytes do not decode as an instruction"));
                continue;
            }
            if let Some(class) = fpu_usage::classify(&instruction, &mut info_factory) {
                let mut text = String::new();
                formatter.format(&instruction, &mut text);
                offending.push(format!(
                    "{place}: {} instruction `{text}` (CPUID {:?}); kernel code must not touch FPU/SIMD state \
                     (build with -mno-mmx -mno-sse -msoft-float / soft-float target)",
                    class.label(),
                    instruction.cpuid_features(),
                ));
            }
        }
    }

    if offending.is_empty() {
        report.ok(CHECK, format!("{decoded} instructions in {sections} executable sections, none use x87/MMX/SSE/AVX"));
    } else {
        report.fail_all(CHECK, &offending);
    }
    for line in undecodable.iter().take(MAX_DETAIL_LINES) {
        report.warn(CHECK, line);
    }
    if undecodable.len() > MAX_DETAIL_LINES {
        report.warn(
            CHECK,
            format!("... {} undecodable spots in all", undecodable.len()),
        );
    }
}

/// Function symbols by section and start offset, to say "in foo+0x12"
/// rather than a bare section offset.
fn function_starts(module: &ModuleFile<'_>) -> BTreeMap<(usize, u64), String> {
    let mut starts = BTreeMap::new();
    for symbol in module.elf.symbols() {
        if symbol_type(&symbol) != STT_FUNC {
            continue;
        }
        let (SymbolSection::Section(section), Ok(name)) = (symbol.section(), symbol.name()) else {
            continue;
        };
        starts.insert((section.0, symbol.address()), name.to_owned());
    }
    starts
}

fn describe_place(
    functions: &BTreeMap<(usize, u64), String>,
    section: SectionIndex,
    section_name: &str,
    offset: u64,
) -> String {
    let containing = functions
        .range((section.0, 0)..=(section.0, offset))
        .next_back()
        .map(|((_, start), name)| format!(" in {name}+{:#x}", offset - start));
    format!(
        "{section_name}+{offset:#x}{}",
        containing.unwrap_or_default()
    )
}
