//! Check 9: the gate's fast path, as linked into the module, is what the
//! design says it is — no call, no locked instruction, one per-CPU add.
//!
//! devref.ko keeps two probe functions (`devref_gate_probe_enter`,
//! `devref_gate_probe_leave`) that run exactly the kernel gate's enter and
//! leave, the same generic code every cdevsw entry inlines.  Each named
//! `--hot-path SYMBOL` is decoded from its symbol's start to its size into
//! a control-flow graph, and its *fast path* is the shortest path from the
//! entry through at least one %gs-relative read-modify-write (the per-CPU
//! count: the open gate's path; a refused enter returns before any) to a
//! `ret`, going through no `call`, no `lock`-prefixed (or implicitly
//! locked) instruction and no jump out of the function (a tail call).  The
//! slow paths (closing: the lock, a wakeup) may call; the fast path may
//! not.  A function with no such path — say, one that calls critical_enter
//! before its add, or whose add is a locked one — is a violation, and so is
//! a fast path longer than `--hot-path-max` instructions.

use std::collections::{BTreeMap, VecDeque};

use iced_x86::{
    Decoder, DecoderOptions, FlowControl, Formatter, GasFormatter, Instruction, Mnemonic, OpKind,
    Register,
};
use object::{Object, ObjectSection, ObjectSymbol};

use crate::module_file::ModuleFile;
use crate::report::Report;

const CHECK: &str = "hot-path";

/// The fast path of one function: its instructions, formatted.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HotPath {
    /// Instructions in the whole function.
    pub total: usize,
    /// The shortest call-free, lock-free path from entry to a ret, if any.
    pub fast: Option<Vec<String>>,
    /// %gs-relative read-modify-writes on that path.
    pub gs_rmw: usize,
    pub undecodable: bool,
}

fn is_locked(insn: &Instruction) -> bool {
    insn.has_lock_prefix()
        || (insn.mnemonic() == Mnemonic::Xchg
            && (insn.op0_kind() == OpKind::Memory || insn.op1_kind() == OpKind::Memory))
}

fn is_gs_rmw(insn: &Instruction) -> bool {
    insn.segment_prefix() == Register::GS
        && insn.op0_kind() == OpKind::Memory
        && matches!(
            insn.mnemonic(),
            Mnemonic::Add | Mnemonic::Sub | Mnemonic::Inc | Mnemonic::Dec
        )
}

pub fn analyse(code: &[u8]) -> HotPath {
    let mut decoder = Decoder::with_ip(64, code, 0, DecoderOptions::NONE);
    let mut insns: BTreeMap<u64, Instruction> = BTreeMap::new();
    let mut hp = HotPath::default();
    while decoder.can_decode() {
        let insn = decoder.decode();
        if insn.is_invalid() {
            hp.undecodable = true;
            return hp;
        }
        insns.insert(insn.ip(), insn);
    }
    hp.total = insns.len();
    let end = code.len() as u64;
    // Breadth-first over (instruction, passed a %gs add yet): the first
    // ret reached having passed one ends the shortest such path.
    type State = (u64, bool);
    let mut prev: BTreeMap<State, State> = BTreeMap::new();
    let start: State = (0, false);
    let mut queue = VecDeque::from([start]);
    prev.insert(start, (u64::MAX, false));
    let mut found = None;
    while let Some((ip, seen)) = queue.pop_front() {
        let Some(insn) = insns.get(&ip) else { continue };
        if is_locked(insn) {
            continue;
        }
        let seen_now = seen || is_gs_rmw(insn);
        let mut next = Vec::new();
        match insn.flow_control() {
            FlowControl::Return if seen_now => {
                found = Some((ip, seen));
                break;
            }
            FlowControl::Call | FlowControl::IndirectCall | FlowControl::IndirectBranch => {}
            FlowControl::UnconditionalBranch => {
                let t = insn.near_branch_target();
                if t < end {
                    next.push(t);
                }
            }
            FlowControl::ConditionalBranch => {
                next.push(insn.next_ip());
                let t = insn.near_branch_target();
                if t < end {
                    next.push(t);
                }
            }
            FlowControl::Next => next.push(insn.next_ip()),
            _ => {}
        }
        for n in next {
            let st = (n, seen_now);
            if let std::collections::btree_map::Entry::Vacant(e) = prev.entry(st) {
                e.insert((ip, seen));
                queue.push_back(st);
            }
        }
    }
    let Some(mut state) = found else { return hp };
    let mut formatter = GasFormatter::new();
    formatter.options_mut().set_rip_relative_addresses(true);
    let mut path = Vec::new();
    loop {
        let ip = state.0;
        let insn = insns[&ip];
        if is_gs_rmw(&insn) {
            hp.gs_rmw += 1;
        }
        let mut text = String::new();
        formatter.format(&insn, &mut text);
        path.push(format!("+{ip:#x}: {text}"));
        match prev.get(&state) {
            Some(&p) if p.0 != u64::MAX => state = p,
            _ => break,
        }
    }
    path.reverse();
    hp.fast = Some(path);
    hp
}

fn symbol_code<'a>(module: &ModuleFile<'a>, name: &str) -> Result<&'a [u8], String> {
    let sym = module
        .elf
        .symbols()
        .find(|s| s.name() == Ok(name) && s.is_definition())
        .ok_or_else(|| format!("{name}: no such function in the module"))?;
    let index = sym
        .section_index()
        .ok_or_else(|| format!("{name}: not in a section"))?;
    let section = module
        .elf
        .section_by_index(index)
        .map_err(|e| format!("{name}: {e}"))?;
    let data = section.data().map_err(|e| format!("{name}: {e}"))?;
    let start = usize::try_from(sym.address()).map_err(|_| format!("{name}: bad address"))?;
    let len = usize::try_from(sym.size()).map_err(|_| format!("{name}: bad size"))?;
    if len == 0 {
        return Err(format!("{name}: symbol has no size"));
    }
    data.get(start..start.saturating_add(len))
        .ok_or_else(|| format!("{name}: extends past its section"))
}

pub fn check(module: &ModuleFile<'_>, symbols: &[String], max: Option<usize>, report: &mut Report) {
    for name in symbols {
        let code = match symbol_code(module, name) {
            Ok(code) => code,
            Err(e) => {
                report.fail(CHECK, e);
                continue;
            }
        };
        let hp = analyse(code);
        let Some(fast) = &hp.fast else {
            report.fail(
                CHECK,
                format!(
                    "{name}: no path from entry through a %gs-relative add to a return \
                     without a call, a locked instruction or a tail jump{}",
                    if hp.undecodable {
                        " (bytes that do not decode)"
                    } else {
                        ""
                    }
                ),
            );
            continue;
        };
        report.info(
            CHECK,
            format!(
                "{name}: fast path {} of {} instructions: {}",
                fast.len(),
                hp.total,
                fast.join("; ")
            ),
        );
        let mut bad = Vec::new();
        if let Some(max) = max {
            if fast.len() > max {
                bad.push(format!(
                    "{name}: fast path of {} instructions, over the bound of {max}",
                    fast.len()
                ));
            }
        }
        if bad.is_empty() {
            report.ok(
                CHECK,
                format!(
                    "{name}: {} instructions, {} per-CPU add(s), no call, no locked instruction",
                    fast.len(),
                    hp.gs_rmw
                ),
            );
        } else {
            report.fail_all(CHECK, &bad);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_gs_add_and_a_ret_pass() {
        // addq $1, %gs:(%rdi); ret
        let hp = analyse(&[0x65, 0x48, 0x83, 0x07, 0x01, 0xc3]);
        assert_eq!(hp.fast.as_ref().map(Vec::len), Some(2), "{hp:?}");
        assert_eq!(hp.gs_rmw, 1);
    }

    #[test]
    fn a_call_on_every_path_leaves_no_fast_path() {
        // call rel32 0; addq $1, %gs:(%rdi); ret
        let hp = analyse(&[0xe8, 0, 0, 0, 0, 0x65, 0x48, 0x83, 0x07, 0x01, 0xc3]);
        assert_eq!(hp.fast, None, "{hp:?}");
    }

    #[test]
    fn a_locked_add_leaves_no_fast_path() {
        // lock addq $1, (%rdi); ret
        let hp = analyse(&[0xf0, 0x48, 0x83, 0x07, 0x01, 0xc3]);
        assert_eq!(hp.fast, None, "{hp:?}");
        // xchg %rax, (%rdi); ret: implicitly locked
        assert_eq!(analyse(&[0x48, 0x87, 0x07, 0xc3]).fast, None);
    }

    #[test]
    fn a_call_on_the_slow_branch_only_is_fine() {
        // addq $1, %gs:(%rdi); testb $1, (%rsi); jne +1; ret; call rel32 0; ret
        let code = [
            0x65, 0x48, 0x83, 0x07, 0x01, // add
            0xf6, 0x06, 0x01, // testb $1, (%rsi)
            0x75, 0x01, // jne over the ret
            0xc3, // ret
            0xe8, 0, 0, 0, 0, // call
            0xc3,
        ];
        let hp = analyse(&code);
        assert_eq!(hp.fast.as_ref().map(Vec::len), Some(4), "{hp:?}");
        assert_eq!(hp.gs_rmw, 1);
    }

    #[test]
    fn a_load_and_store_count_is_not_a_fast_path() {
        // movq %gs:(%rdi), %rax; incq %rax; movq %rax, %gs:(%rdi); ret
        let code = [
            0x65, 0x48, 0x8b, 0x07, 0x48, 0xff, 0xc0, 0x65, 0x48, 0x89, 0x07, 0xc3,
        ];
        assert_eq!(analyse(&code).fast, None);
    }

    #[test]
    fn an_early_return_before_the_add_is_not_the_fast_path() {
        // testb $1, (%rsi); je +1; ret; addq $1, %gs:(%rdi); ret
        let code = [
            0xf6, 0x06, 0x01, 0x74, 0x01, 0xc3, 0x65, 0x48, 0x83, 0x07, 0x01, 0xc3,
        ];
        let hp = analyse(&code);
        assert_eq!(hp.fast.as_ref().map(Vec::len), Some(4), "{hp:?}");
        assert_eq!(hp.gs_rmw, 1);
    }
}
