//! Classifies one decoded instruction: does it touch x87/MMX/SSE/AVX state?
//!
//! FreeBSD kernel code runs with the user's FPU/SIMD registers live (the
//! kernel saves them lazily on context switch), so a module may touch them
//! only inside fpu_kern_enter()/fpu_kern_leave(); compiled code that does so
//! on its own silently corrupts user processes.  Modules are therefore built
//! with -mno-mmx -mno-sse -msoft-float, and this classifier finds where that
//! did not happen.
//!
//! The rule is "reads or writes FPU/SIMD state", not "needs a CPUID bit
//! called SSE": `lfence`, `mfence`, `sfence`, `prefetch*`, `movnti`,
//! `clflush` and `pause` are listed under SSE/SSE2 but use only general
//! registers and memory, and kernel code legitimately uses them.

use iced_x86::{CpuidFeature, EncodingKind, Instruction, InstructionInfoFactory, Mnemonic};

/// Which register file an offending instruction touches, for the report.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FpuClass {
    X87,
    Mmx,
    Sse,
    Avx,
    Avx512,
    /// Saves/restores the whole FPU/SIMD state or its control registers
    /// (FXSAVE, XSAVE, LDMXCSR, ...).
    FpuStateControl,
}

impl FpuClass {
    pub fn label(self) -> &'static str {
        match self {
            FpuClass::X87 => "x87",
            FpuClass::Mmx => "MMX",
            FpuClass::Sse => "SSE",
            FpuClass::Avx => "AVX",
            FpuClass::Avx512 => "AVX-512",
            FpuClass::FpuStateControl => "FPU-state",
        }
    }
}

/// `None` when the instruction leaves FPU/SIMD state alone.
pub fn classify(
    instruction: &Instruction,
    info_factory: &mut InstructionInfoFactory,
) -> Option<FpuClass> {
    let features = instruction.cpuid_features();
    if features.iter().any(|feature| is_x87_feature(*feature)) {
        return Some(FpuClass::X87);
    }
    if features.contains(&CpuidFeature::MMX) && !touches_vector_registers(instruction, info_factory)
    {
        // EMMS and MMX-only forms; the MMX-with-XMM forms fall through to
        // the register check below and are reported as SSE.
        return Some(FpuClass::Mmx);
    }
    if is_state_control(instruction.mnemonic()) {
        return Some(FpuClass::FpuStateControl);
    }
    register_class(instruction, info_factory)
}

fn is_x87_feature(feature: CpuidFeature) -> bool {
    matches!(
        feature,
        CpuidFeature::FPU
            | CpuidFeature::FPU287
            | CpuidFeature::FPU287XL_ONLY
            | CpuidFeature::FPU387
            | CpuidFeature::FPU387SL_ONLY
            | CpuidFeature::CYRIX_FPU
    )
}

/// Instructions that move FPU/SIMD state or control words without naming a
/// vector register operand.
fn is_state_control(mnemonic: Mnemonic) -> bool {
    matches!(
        mnemonic,
        Mnemonic::Fxsave
            | Mnemonic::Fxsave64
            | Mnemonic::Fxrstor
            | Mnemonic::Fxrstor64
            | Mnemonic::Xsave
            | Mnemonic::Xsave64
            | Mnemonic::Xsaveopt
            | Mnemonic::Xsaveopt64
            | Mnemonic::Xsavec
            | Mnemonic::Xsavec64
            | Mnemonic::Xsaves
            | Mnemonic::Xsaves64
            | Mnemonic::Xrstor
            | Mnemonic::Xrstor64
            | Mnemonic::Xrstors
            | Mnemonic::Xrstors64
            | Mnemonic::Ldmxcsr
            | Mnemonic::Stmxcsr
            | Mnemonic::Vldmxcsr
            | Mnemonic::Vstmxcsr
            | Mnemonic::Vzeroupper
            | Mnemonic::Vzeroall
            | Mnemonic::Emms
            | Mnemonic::Femms
    )
}

fn touches_vector_registers(
    instruction: &Instruction,
    info_factory: &mut InstructionInfoFactory,
) -> bool {
    register_class(instruction, info_factory).is_some()
}

/// Classifies by the registers the instruction uses, explicit operands and
/// implicit ones alike.  The vector flavour comes from the encoding, not the
/// register width: iced reports a VEX-encoded `vaddps %ymm..` as writing the
/// whole ZMM register (it zeroes the upper bits), which is still AVX.
fn register_class(
    instruction: &Instruction,
    info_factory: &mut InstructionInfoFactory,
) -> Option<FpuClass> {
    let info = info_factory.info(instruction);
    let (mut uses_st, mut uses_mm, mut uses_vector) = (false, false, false);
    for used in info.used_registers() {
        let register = used.register();
        uses_st |= register.is_st();
        uses_mm |= register.is_mm();
        uses_vector |= register.is_xmm()
            || register.is_ymm()
            || register.is_zmm()
            || register.is_k()
            || register.is_tmm();
    }
    if uses_vector {
        return Some(match instruction.encoding() {
            EncodingKind::Legacy => FpuClass::Sse,
            EncodingKind::EVEX | EncodingKind::MVEX => FpuClass::Avx512,
            _ => FpuClass::Avx,
        });
    }
    if uses_mm {
        return Some(FpuClass::Mmx);
    }
    uses_st.then_some(FpuClass::X87)
}

#[cfg(test)]
mod tests {
    use super::*;
    use iced_x86::{Decoder, DecoderOptions};

    fn classify_bytes(bytes: &[u8]) -> Option<FpuClass> {
        let mut decoder = Decoder::with_ip(64, bytes, 0, DecoderOptions::NONE);
        let instruction = decoder.decode();
        assert!(!instruction.is_invalid(), "test bytes must decode");
        classify(&instruction, &mut InstructionInfoFactory::new())
    }

    #[test]
    fn sse_arithmetic_is_sse() {
        // addsd %xmm1, %xmm0
        assert_eq!(
            classify_bytes(&[0xf2, 0x0f, 0x58, 0xc1]),
            Some(FpuClass::Sse)
        );
    }

    #[test]
    fn vex_encoded_is_avx() {
        // vaddps %ymm2, %ymm1, %ymm0
        assert_eq!(
            classify_bytes(&[0xc5, 0xf4, 0x58, 0xc2]),
            Some(FpuClass::Avx)
        );
    }

    #[test]
    fn x87_without_register_operand_is_x87() {
        // fninit
        assert_eq!(classify_bytes(&[0xdb, 0xe3]), Some(FpuClass::X87));
        // fldcw (%rax)
        assert_eq!(classify_bytes(&[0xd9, 0x28]), Some(FpuClass::X87));
    }

    #[test]
    fn mmx_is_mmx() {
        // paddb %mm1, %mm0
        assert_eq!(classify_bytes(&[0x0f, 0xfc, 0xc1]), Some(FpuClass::Mmx));
        // emms
        assert_eq!(classify_bytes(&[0x0f, 0x77]), Some(FpuClass::Mmx));
    }

    #[test]
    fn fences_and_pause_are_allowed() {
        assert_eq!(classify_bytes(&[0x0f, 0xae, 0xe8]), None); // lfence
        assert_eq!(classify_bytes(&[0x0f, 0xae, 0xf0]), None); // mfence
        assert_eq!(classify_bytes(&[0x0f, 0xae, 0xf8]), None); // sfence
        assert_eq!(classify_bytes(&[0xf3, 0x90]), None); // pause
        assert_eq!(classify_bytes(&[0x0f, 0x18, 0x08]), None); // prefetcht0 (%rax)
        assert_eq!(classify_bytes(&[0x48, 0x0f, 0xc3, 0x07]), None); // movnti %rax,(%rdi)
    }

    #[test]
    fn integer_code_is_allowed() {
        assert_eq!(classify_bytes(&[0x48, 0x01, 0xd8]), None); // add %rbx,%rax
        assert_eq!(classify_bytes(&[0xc3]), None); // ret
    }

    #[test]
    fn state_save_is_flagged() {
        // fxsave (%rax)
        assert_eq!(
            classify_bytes(&[0x0f, 0xae, 0x00]),
            Some(FpuClass::FpuStateControl)
        );
        // ldmxcsr (%rax)
        assert_eq!(
            classify_bytes(&[0x0f, 0xae, 0x10]),
            Some(FpuClass::FpuStateControl)
        );
    }
}
