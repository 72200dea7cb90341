//! Check 10: every copy of the gate's fast path in the module keeps the
//! protocol's shape — not just the probe functions, but every cdevsw entry
//! and KPI function the compiler inlined it into.
//!
//! For each function with a %gs-relative read-modify-write (the per-CPU
//! counts: the count at offset 0 of the slot, the enter count at 8):
//!
//! - an **enter** (`add $1, %gs:0(B)`) has a byte load of the closing flag
//!   `D(G)` shortly before it (the pre-check) and loads a byte at the same
//!   `D` again after it (the gate may have moved to another register),
//!   before any branch, call or return (the re-check),
//!   with no locked instruction, fence or other %gs access in between;
//! - a **leave** (`sub $1, %gs:0(B)` not followed by the enter count's
//!   undo) loads a byte (the closing flag) after it, before any branch,
//!   call or return;
//! - no other %gs-relative access: reading a per-CPU address with one
//!   instruction and writing through it with another could land on another
//!   CPU's slot after a migration.
//!
//! The undo of a refused enter (count and enter count subtracted together,
//! under the gate's lock) is recognised and left alone.  This is a shape
//! check of the compiled code against docs/design.md, not a proof; the
//! loom models check the protocol.

use iced_x86::{Decoder, DecoderOptions, FlowControl, Instruction, Mnemonic, OpKind, Register};

use object::elf::SHF_EXECINSTR;
use object::{Object, ObjectSection, ObjectSymbol, SymbolKind};

use crate::module_file::ModuleFile;
use crate::report::Report;

const CHECK: &str = "gate-patterns";

/// What the check found in one function.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Found {
    pub enters: usize,
    pub leaves: usize,
    pub undos: usize,
    pub problems: Vec<String>,
}

fn is_gs(insn: &Instruction) -> bool {
    insn.segment_prefix() == Register::GS
        && (0..insn.op_count()).any(|i| insn.op_kind(i) == OpKind::Memory)
}

fn is_gs_rmw(insn: &Instruction) -> bool {
    is_gs(insn)
        && insn.op0_kind() == OpKind::Memory
        && matches!(insn.mnemonic(), Mnemonic::Add | Mnemonic::Sub)
}

fn imm_is_one(insn: &Instruction) -> bool {
    insn.op_count() == 2
        && matches!(
            insn.op1_kind(),
            OpKind::Immediate8 | OpKind::Immediate8to64 | OpKind::Immediate32to64
        )
        && insn.immediate(1) == 1
}

/// A one-byte load (the closing flag) and its address: (base, disp).
fn byte_load(insn: &Instruction) -> Option<(Register, u64)> {
    let has_mem = (0..insn.op_count()).any(|i| insn.op_kind(i) == OpKind::Memory);
    if !has_mem
        || insn.segment_prefix() != Register::None
        || insn.memory_index() != Register::None
        || insn.memory_size().size() != 1
    {
        return None;
    }
    let reads = match insn.mnemonic() {
        Mnemonic::Movzx | Mnemonic::Mov => insn.op0_kind() != OpKind::Memory,
        Mnemonic::Cmp | Mnemonic::Test => true,
        _ => false,
    };
    reads.then(|| (insn.memory_base(), insn.memory_displacement64()))
}

fn forbidden(insn: &Instruction) -> bool {
    insn.has_lock_prefix()
        || matches!(
            insn.mnemonic(),
            Mnemonic::Mfence | Mnemonic::Lfence | Mnemonic::Sfence | Mnemonic::Xchg
        )
}

/// A function's instructions and their control flow.
struct Cfg {
    insns: Vec<Instruction>,
    by_ip: std::collections::BTreeMap<u64, usize>,
}

impl Cfg {
    fn new(code: &[u8]) -> Cfg {
        let mut decoder = Decoder::with_ip(64, code, 0, DecoderOptions::NONE);
        let insns: Vec<Instruction> = decoder.iter().collect();
        let by_ip = insns.iter().enumerate().map(|(i, x)| (x.ip(), i)).collect();
        Cfg { insns, by_ip }
    }

    fn target(&self, insn: &Instruction) -> Option<usize> {
        self.by_ip.get(&insn.near_branch_target()).copied()
    }

    fn successors(&self, i: usize) -> Vec<usize> {
        let Some(insn) = self.insns.get(i) else {
            return Vec::new();
        };
        let next = (i + 1 < self.insns.len()).then_some(i + 1);
        match insn.flow_control() {
            FlowControl::Next | FlowControl::Call | FlowControl::IndirectCall => {
                next.into_iter().collect()
            }
            FlowControl::ConditionalBranch => next.into_iter().chain(self.target(insn)).collect(),
            FlowControl::UnconditionalBranch => self.target(insn).into_iter().collect(),
            _ => Vec::new(),
        }
    }

    /// The straight line that runs after instruction `i`: fall-through and
    /// unconditional jumps inside the function, up to the first
    /// conditional branch, call, return or jump out.
    fn line_after(&self, i: usize) -> Vec<&Instruction> {
        let mut out = Vec::new();
        let mut at = i + 1;
        for _ in 0..64 {
            let Some(x) = self.insns.get(at) else { break };
            match x.flow_control() {
                FlowControl::Next => {
                    out.push(x);
                    at += 1;
                }
                FlowControl::UnconditionalBranch => match self.target(x) {
                    Some(t) => at = t,
                    None => break,
                },
                _ => break,
            }
        }
        out
    }

    /// Does every path from the entry to instruction `at` load a byte at
    /// displacement `d` (the closing flag) first?  A must-analysis.
    fn always_loaded_before(&self, at: usize, d: u64) -> bool {
        let n = self.insns.len();
        let mut preds = vec![Vec::new(); n];
        for i in 0..n {
            for s in self.successors(i) {
                if let Some(p) = preds.get_mut(s) {
                    p.push(i);
                }
            }
        }
        let gen = |i: usize| {
            self.insns
                .get(i)
                .and_then(byte_load)
                .is_some_and(|(_, x)| x == d)
        };
        // out[i]: on every path from the entry through i, a load was seen.
        let mut out = vec![true; n];
        let mut changed = true;
        while changed {
            changed = false;
            for i in 0..n {
                let inp = if i == 0 {
                    false
                } else {
                    let p = &preds[i];
                    !p.is_empty() && p.iter().all(|&q| out[q])
                };
                let o = inp || gen(i);
                if o != out[i] {
                    out[i] = o;
                    changed = true;
                }
            }
        }
        let p = preds.get(at).cloned().unwrap_or_default();
        at != 0 && !p.is_empty() && p.iter().all(|&q| out[q])
    }
}

/// Check one function's code (see the module doc).
pub fn analyse(code: &[u8]) -> Found {
    let cfg = Cfg::new(code);
    let mut f = Found::default();
    if !cfg.insns.iter().any(is_gs_rmw) {
        return f;
    }
    for (i, insn) in cfg.insns.iter().enumerate() {
        if is_gs(insn) && !is_gs_rmw(insn) {
            f.problems.push(format!(
                "+{:#x}: a %gs access that is not one read-modify-write: a migration could split it",
                insn.ip()
            ));
            continue;
        }
        if !is_gs_rmw(insn) || insn.memory_displacement64() != 0 || !imm_is_one(insn) {
            continue;
        }
        let line = cfg.line_after(i);
        if insn.mnemonic() == Mnemonic::Sub {
            // The undo subtracts the enter count too; a leave does not.
            if line.iter().any(|x| {
                is_gs_rmw(x) && x.mnemonic() == Mnemonic::Sub && x.memory_displacement64() == 8
            }) {
                f.undos += 1;
                continue;
            }
            f.leaves += 1;
            let bad = line.iter().position(|x| forbidden(x) || is_gs(x));
            let load = line.iter().position(|x| byte_load(x).is_some());
            match (load, bad) {
                (Some(l), b) if b.is_none_or(|b| l < b) => {}
                _ => f.problems.push(format!(
                    "+{:#x}: a leave that does not load the closing flag before it branches",
                    insn.ip()
                )),
            }
            continue;
        }
        // An enter: the re-check after the add, before any branch, with
        // nothing locked or fenced in between...
        let mut recheck = None;
        for x in &line {
            if forbidden(x) || (is_gs(x) && !is_gs_rmw(x)) {
                break;
            }
            if let Some((_, d)) = byte_load(x) {
                recheck = Some(d);
                break;
            }
        }
        f.enters += 1;
        let Some(d) = recheck else {
            f.problems.push(format!(
                "+{:#x}: an enter that does not re-check the closing flag before it branches, \
                 with nothing locked or fenced in between",
                insn.ip()
            ));
            continue;
        };
        // ...and the pre-check of the same byte on every path to the add.
        if !cfg.always_loaded_before(i, d) {
            f.problems.push(format!(
                "+{:#x}: an enter reachable without a pre-check of the closing flag (+{d:#x})",
                insn.ip()
            ));
        }
    }
    f
}

pub fn check(module: &ModuleFile<'_>, report: &mut Report) {
    let mut total = Found::default();
    let mut functions = 0;
    for sym in module.elf.symbols() {
        if sym.kind() != SymbolKind::Text || !sym.is_definition() || sym.size() == 0 {
            continue;
        }
        let Some(index) = sym.section_index() else {
            continue;
        };
        if module.section_flags(index) & u64::from(SHF_EXECINSTR) == 0 {
            continue;
        }
        let Ok(section) = module.elf.section_by_index(index) else {
            continue;
        };
        let Ok(data) = section.data() else { continue };
        let (Ok(start), Ok(len)) = (usize::try_from(sym.address()), usize::try_from(sym.size()))
        else {
            continue;
        };
        let Some(code) = data.get(start..start.saturating_add(len)) else {
            continue;
        };
        let found = analyse(code);
        if found.enters + found.leaves + found.undos + found.problems.len() == 0 {
            continue;
        }
        functions += 1;
        let name = sym.name().unwrap_or("?");
        total.enters += found.enters;
        total.leaves += found.leaves;
        total.undos += found.undos;
        total
            .problems
            .extend(found.problems.into_iter().map(|p| format!("{name}{p}")));
    }
    if functions == 0 {
        report.info(CHECK, "no per-CPU counts in this module");
        return;
    }
    report.info(
        CHECK,
        format!(
            "{} enters, {} leaves, {} undos in {functions} functions",
            total.enters, total.leaves, total.undos
        ),
    );
    if total.problems.is_empty() {
        report.ok(
            CHECK,
            "every enter re-checks the closing flag it pre-checked, every leave loads it, \
             no split %gs access",
        );
    } else {
        report.fail_all(CHECK, &total.problems);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // movzbl 0x30(%rdi),%ecx; test %cl,%cl; jne out;
    // mov (%rdi),%rax; addq $1,%gs:(%rax); addq $1,%gs:8(%rax);
    // movzbl 0x30(%rdi),%ecx; test %cl,%cl; jne undo; ret
    const GOOD_ENTER: [u8; 34] = [
        0x0f, 0xb6, 0x4f, 0x30, // movzbl 0x30(%rdi),%ecx
        0x84, 0xc9, // test %cl,%cl
        0x75, 0x17, // jne
        0x48, 0x8b, 0x07, // mov (%rdi),%rax
        0x65, 0x48, 0x83, 0x00, 0x01, // addq $1,%gs:(%rax)
        0x65, 0x48, 0x83, 0x40, 0x08, 0x01, // addq $1,%gs:8(%rax)
        0x0f, 0xb6, 0x4f, 0x30, // movzbl 0x30(%rdi),%ecx
        0x84, 0xc9, // test
        0x75, 0x01, // jne
        0xc3, // ret
        0xc3, 0xc3, 0xc3,
    ];

    #[test]
    fn the_real_shape_passes() {
        let f = analyse(&GOOD_ENTER);
        assert_eq!((f.enters, f.problems.len()), (1, 0), "{f:?}");
    }

    #[test]
    fn an_enter_without_the_recheck_fails() {
        let mut code = GOOD_ENTER;
        // Turn the re-check's load into a load of another byte.
        code[25] = 0x31;
        let f = analyse(&code);

        assert_eq!(f.problems.len(), 1, "{f:?}");
    }

    #[test]
    fn an_enter_reachable_without_the_precheck_fails() {
        let mut code = GOOD_ENTER;
        // The first load reads another byte: the add is reached with no
        // load of the byte the re-check reads.
        code[3] = 0x31;
        let f = analyse(&code);
        assert!(f.problems.iter().any(|p| p.contains("pre-check")), "{f:?}");
    }

    #[test]
    fn a_fence_between_add_and_recheck_fails() {
        let mut code = GOOD_ENTER.to_vec();
        // mfence right after the enters add.
        code.splice(22..22, [0x0f, 0xae, 0xf0]);
        let f = analyse(&code);
        assert_eq!(f.problems.len(), 1, "{f:?}");
    }

    #[test]
    fn a_split_percpu_access_fails() {
        // mov %gs:0x38,%rcx; addq $1,%gs:(%rax); movzbl ...; ret
        let code = [
            0x0f, 0xb6, 0x4f, 0x30, // pre-check
            0x65, 0x48, 0x8b, 0x0c, 0x25, 0x38, 0, 0, 0, // mov %gs:0x38,%rcx
            0x65, 0x48, 0x83, 0x00, 0x01, // addq $1,%gs:(%rax)
            0x0f, 0xb6, 0x4f, 0x30, // re-check
            0xc3,
        ];
        let f = analyse(&code);
        assert!(f.problems.iter().any(|p| p.contains("split")), "{f:?}");
    }

    #[test]
    fn a_leave_without_its_load_fails_and_the_undo_is_exempt() {
        // subq $1,%gs:(%rax); ret
        let leave = [0x65, 0x48, 0x83, 0x28, 0x01, 0xc3];
        assert_eq!(analyse(&leave).problems.len(), 1);
        // subq $1,%gs:(%rax); movzbl 0x30(%rdi),%eax; ret
        let good = [0x65, 0x48, 0x83, 0x28, 0x01, 0x0f, 0xb6, 0x47, 0x30, 0xc3];
        let f = analyse(&good);
        assert_eq!((f.leaves, f.problems.len()), (1, 0), "{f:?}");
        // subq $1,%gs:(%rax); subq $1,%gs:8(%rax); call ...
        let undo = [
            0x65, 0x48, 0x83, 0x28, 0x01, 0x65, 0x48, 0x83, 0x68, 0x08, 0x01, 0xe8, 0, 0, 0, 0,
        ];
        let f = analyse(&undo);
        assert_eq!((f.undos, f.problems.len()), (1, 0), "{f:?}");
    }
}
