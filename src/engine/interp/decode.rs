//! From an instruction word to an [`Op`], through `yaxpeax-arm`'s decoder: the real bytes,
//! decoded by code that shares nothing with a64call's encoder or with capstone. Pc-relative
//! targets are resolved here, once, so executing an [`Op`] never looks at the word again.
//!
//! The subset is the 64-bit forms of what a64call's strategies, lowering and helpers emit, plus
//! their near relatives the same execution code serves (other shifts, `cbz`/`tbz`, `adr`,
//! pre/post-indexed `ldr`/`str`). Everything else, and every form the architecture leaves
//! CONSTRAINED UNPREDICTABLE (a writeback base that is also a transfer register, `ldp` into one
//! register twice), is [`Op::Unsupported`]: the interpreter stops there instead of guessing.

use super::op::{Index, Logic, Op, Shift, SP_SLOT};
use rustc_hash::FxHashMap;
use std::cell::RefCell;
use yaxpeax_arch::{Decoder, U8Reader};
use yaxpeax_arm::armv8::a64::{InstDecoder, Instruction, Opcode, Operand, ShiftStyle, SizeCode};

/// `SystemReg` number yaxpeax-arm gives NZCV (op0=3, op1=3, CRn=4, CRm=2, op2=0); a test
/// decodes capstone-checked `mrs x0, nzcv` to it.
pub(super) const SYSREG_NZCV: u16 = 0x5A10;

/// Decode `word`, fetched at `pc`.
pub(super) fn decode(word: u32, pc: u64) -> Op {
    if word == 0 {
        // `udf #0`: every zero-filled word, so worth skipping the decoder for.
        return Op::Udf;
    }
    DECODED.with(|c| {
        let mut c = c.borrow_mut();
        if c.len() >= DECODED_MAX {
            c.clear();
        }
        match c.entry(word).or_insert_with(|| known(word)) {
            Known::Fixed(op) => *op,
            Known::Relative { at_zero, adrp } => rebased(*at_zero, pc, *adrp, word),
        }
    })
}

/// What decoding a word gives, before its pc is known.
enum Known {
    /// The word's [`Op`] at every pc: it has no pc-relative operand, and [`lower`] reads the
    /// pc only through those.
    Fixed(Op),
    /// A pc-relative instruction, lowered at pc 0 (its operand holds the offset) and moved to
    /// each pc it is fetched from by [`rebased`]; `adrp` when the offset counts from the pc's
    /// 4 KiB page.
    Relative { at_zero: Op, adrp: bool },
}

/// `at_zero`, the [`Op`] [`lower`] gives `word` at pc 0, as [`lower`] gives it at `pc`: its
/// pc-relative operand is `base + offset` with wrapping arithmetic, `base` the pc (its page for
/// `adrp`), so adding `base` to the operand at pc 0 is exact. A pc-relative word lowered to an
/// op without such an operand is outside the subset (never reached: `tests` check every form).
fn rebased(at_zero: Op, pc: u64, adrp: bool, word: u32) -> Op {
    let base = if adrp { pc & !0xFFF } else { pc };
    let mut op = at_zero;
    match &mut op {
        Op::SetImm { value: t, .. }
        | Op::LoadLiteral { addr: t, .. }
        | Op::Branch { target: t }
        | Op::BranchLink { target: t }
        | Op::BranchCond { target: t, .. }
        | Op::CompareBranch { target: t, .. }
        | Op::TestBranch { target: t, .. } => *t = t.wrapping_add(base),
        _ => return Op::Unsupported { word },
    }
    op
}

/// `word` decoded by yaxpeax-arm, and lowered when its [`Op`] does not depend on the pc.
fn known(word: u32) -> Known {
    let bytes = word.to_le_bytes();
    match InstDecoder::default().decode(&mut U8Reader::new(&bytes)) {
        Err(_) => Known::Fixed(Op::Unsupported { word }),
        Ok(inst)
            if inst
                .operands
                .iter()
                .any(|o| matches!(o, Operand::PCOffset(_))) =>
        {
            match lower(&inst, 0) {
                Some(at_zero) => Known::Relative {
                    at_zero,
                    adrp: inst.opcode == Opcode::ADRP,
                },
                None => Known::Fixed(Op::Unsupported { word }),
            }
        }
        Ok(inst) => Known::Fixed(lower(&inst, 0).unwrap_or(Op::Unsupported { word })),
    }
}

thread_local! {
    /// What each word this thread met decodes to. Programs repeat most of their words from
    /// strategy to strategy and program to program, so each is decoded once.
    static DECODED: RefCell<FxHashMap<u32, Known>> = RefCell::new(Default::default());
}

/// Words kept in [`DECODED`] before it starts again.
const DECODED_MAX: usize = 1 << 16;

/// The [`Op`] of a decoded instruction, `None` outside the subset.
fn lower(i: &Instruction, pc: u64) -> Option<Op> {
    let o = &i.operands;
    let rel = |k: usize| match o[k] {
        Operand::PCOffset(off) => Some(pc.wrapping_add(off as u64)),
        _ => None,
    };
    Some(match i.opcode {
        Opcode::MOVZ | Opcode::MOVN | Opcode::MOVK => move_wide(i)?,
        Opcode::ADR => Op::SetImm {
            rd: x(o[0])?,
            value: rel(1)?,
        },
        Opcode::ADRP => match o[1] {
            Operand::PCOffset(off) => Op::SetImm {
                rd: x(o[0])?,
                value: (pc & !0xFFF).wrapping_add(off as u64),
            },
            _ => return None,
        },
        Opcode::B => Op::Branch { target: rel(0)? },
        Opcode::BL => Op::BranchLink { target: rel(0)? },
        Opcode::Bcc(cond) => Op::BranchCond {
            cond,
            target: rel(0)?,
        },
        Opcode::CBZ | Opcode::CBNZ => Op::CompareBranch {
            rt: x(o[0])?,
            nonzero: i.opcode == Opcode::CBNZ,
            target: rel(1)?,
        },
        Opcode::TBZ | Opcode::TBNZ => test_branch(i, rel(2)?)?,
        Opcode::BR | Opcode::BLR | Opcode::RET => Op::BranchReg {
            rn: x(o[0])?,
            link: i.opcode == Opcode::BLR,
        },
        Opcode::ADD | Opcode::ADDS | Opcode::SUB | Opcode::SUBS => add_sub(i)?,
        Opcode::AND
        | Opcode::ANDS
        | Opcode::ORR
        | Opcode::EOR
        | Opcode::BIC
        | Opcode::BICS
        | Opcode::ORN
        | Opcode::EON => logical(i)?,
        Opcode::MADD | Opcode::MSUB => Op::MulAdd {
            rd: x(o[0])?,
            rn: x(o[1])?,
            rm: x(o[2])?,
            ra: x(o[3])?,
            sub: i.opcode == Opcode::MSUB,
        },
        Opcode::UBFM | Opcode::SBFM => Op::Bitfield {
            rd: x(o[0])?,
            rn: x(o[1])?,
            immr: imm(o[2])? as u8,
            imms: imm(o[3])? as u8,
            signed: i.opcode == Opcode::SBFM,
        },
        Opcode::EXTR => Op::Extract {
            rd: x(o[0])?,
            rn: x(o[1])?,
            rm: x(o[2])?,
            lsb: imm(o[3])? as u8,
        },
        Opcode::LDR | Opcode::LDUR => load_store(i, pc, true)?,
        Opcode::STR | Opcode::STUR => load_store(i, pc, false)?,
        Opcode::LDP | Opcode::STP => pair(i)?,
        Opcode::MRS => match (o[0], o[1]) {
            (r, Operand::SystemReg(SYSREG_NZCV)) => Op::ReadNzcv { rt: x(r)? },
            _ => return None,
        },
        Opcode::MSR => match (o[0], o[1]) {
            (Operand::SystemReg(SYSREG_NZCV), r) => Op::WriteNzcv { rt: x(r)? },
            _ => return None,
        },
        Opcode::HINT => match (o[0], o[1]) {
            (Operand::ControlReg(0), Operand::Immediate(0)) => Op::Nop,
            _ => return None,
        },
        Opcode::BRK => match o[0] {
            Operand::Imm16(imm) => Op::Brk { imm },
            _ => return None,
        },
        Opcode::UDF => Op::Udf,
        Opcode::SVC => Op::Svc,
        _ => return None,
    })
}

/// A 64-bit general register where 31 is the zero register.
fn x(o: Operand) -> Option<u8> {
    match o {
        Operand::Register(SizeCode::X, r) if r <= 31 => Some(r as u8),
        _ => None,
    }
}

/// A 64-bit general register where 31 is the stack pointer.
fn x_or_sp(o: Operand) -> Option<u8> {
    match o {
        Operand::RegisterOrSP(SizeCode::X, 31) => Some(SP_SLOT),
        Operand::RegisterOrSP(SizeCode::X, r) if r < 31 => Some(r as u8),
        other => x(other),
    }
}

/// The base register of an address: 31 is the stack pointer.
fn base(r: u16) -> Option<u8> {
    match r {
        31 => Some(SP_SLOT),
        0..=30 => Some(r as u8),
        _ => None,
    }
}

fn imm(o: Operand) -> Option<u64> {
    match o {
        Operand::Immediate(v) => Some(u64::from(v)),
        Operand::Imm16(v) => Some(u64::from(v)),
        Operand::ImmShift(v, s) if s < 64 => Some(u64::from(v) << s),
        _ => None,
    }
}

fn move_wide(i: &Instruction) -> Option<Op> {
    let rd = x(i.operands[0])?;
    let Operand::ImmShift(imm16, shift) = i.operands[1] else {
        return None;
    };
    if shift >= 64 {
        return None;
    }
    let bits = u64::from(imm16) << shift;
    Some(match i.opcode {
        Opcode::MOVZ => Op::SetImm { rd, value: bits },
        Opcode::MOVN => Op::SetImm { rd, value: !bits },
        _ => Op::Movk {
            rd,
            bits,
            keep: !(0xFFFFu64 << shift),
        },
    })
}

fn test_branch(i: &Instruction, target: u64) -> Option<Op> {
    // yaxpeax names the register w<n> when the bit is below 32: the same register.
    let rt = match i.operands[0] {
        Operand::Register(_, r) if r <= 31 => r as u8,
        _ => return None,
    };
    let bit = imm(i.operands[1])?;
    (bit < 64).then_some(Op::TestBranch {
        rt,
        bit: bit as u8,
        nonzero: i.opcode == Opcode::TBNZ,
        target,
    })
}

/// A shifted register operand (`xm, lsl #n` or plain `xm`); extended registers are outside.
fn shifted(o: Operand) -> Option<(u8, Shift, u8)> {
    match o {
        Operand::RegShift(style, amount, SizeCode::X, rm) if amount < 64 && rm <= 31 => {
            let shift = match style {
                ShiftStyle::LSL => Shift::Lsl,
                ShiftStyle::LSR => Shift::Lsr,
                ShiftStyle::ASR => Shift::Asr,
                ShiftStyle::ROR => Shift::Ror,
                _ => return None,
            };
            Some((rm as u8, shift, amount))
        }
        other => x(other).map(|rm| (rm, Shift::Lsl, 0)),
    }
}

fn add_sub(i: &Instruction) -> Option<Op> {
    let o = &i.operands;
    let sub = matches!(i.opcode, Opcode::SUB | Opcode::SUBS);
    let flags = matches!(i.opcode, Opcode::ADDS | Opcode::SUBS);
    if let Some(value) = imm(o[2]) {
        return Some(Op::AddImm {
            rd: x_or_sp(o[0])?,
            rn: x_or_sp(o[1])?,
            value,
            sub,
            flags,
        });
    }
    let (rm, shift, amount) = shifted(o[2])?;
    if shift == Shift::Ror {
        return None;
    }
    Some(Op::AddReg {
        rd: x(o[0])?,
        rn: x(o[1])?,
        rm,
        shift,
        amount,
        sub,
        flags,
    })
}

fn logical(i: &Instruction) -> Option<Op> {
    let o = &i.operands;
    let (op, invert, flags) = match i.opcode {
        Opcode::AND => (Logic::And, false, false),
        Opcode::ANDS => (Logic::And, false, true),
        Opcode::BIC => (Logic::And, true, false),
        Opcode::BICS => (Logic::And, true, true),
        Opcode::ORR => (Logic::Orr, false, false),
        Opcode::ORN => (Logic::Orr, true, false),
        Opcode::EOR => (Logic::Eor, false, false),
        _ => (Logic::Eor, true, false),
    };
    // Logical immediates (`and x0, x1, #0xff`) come as an immediate operand: outside.
    let (rm, shift, amount) = shifted(o[2])?;
    Some(Op::Logic {
        op,
        rd: x(o[0])?,
        rn: x(o[1])?,
        rm,
        shift,
        amount,
        invert,
        flags,
    })
}

/// The addressing of a memory operand: base slot, offset, indexing.
fn address(o: Operand) -> Option<(u8, i64, Index)> {
    match o {
        Operand::RegPreIndex(r, off, false) => Some((base(r)?, i64::from(off), Index::Offset)),
        Operand::RegPreIndex(r, off, true) => Some((base(r)?, i64::from(off), Index::Pre)),
        Operand::RegPostIndex(r, off) => Some((base(r)?, i64::from(off), Index::Post)),
        _ => None,
    }
}

/// A writeback into a register that is also transferred is CONSTRAINED UNPREDICTABLE (the
/// base's slot is never the zero register's: 31 is the stack pointer there).
fn unpredictable(index: Index, base: u8, regs: &[u8]) -> bool {
    index != Index::Offset && regs.contains(&base)
}

fn load_store(i: &Instruction, pc: u64, load: bool) -> Option<Op> {
    let rt = x(i.operands[0])?;
    if let (true, Operand::PCOffset(off)) = (load, i.operands[1]) {
        return Some(Op::LoadLiteral {
            rt,
            addr: pc.wrapping_add(off as u64),
        });
    }
    let (base, offset, index) = address(i.operands[1])?;
    if unpredictable(index, base, &[rt]) {
        return None;
    }
    Some(Op::Memory {
        load,
        rt,
        rt2: None,
        base,
        offset,
        index,
    })
}

fn pair(i: &Instruction) -> Option<Op> {
    let (rt, rt2) = (x(i.operands[0])?, x(i.operands[1])?);
    let (base, offset, index) = address(i.operands[2])?;
    let load = i.opcode == Opcode::LDP;
    if unpredictable(index, base, &[rt, rt2]) || (load && rt == rt2) {
        return None;
    }
    Some(Op::Memory {
        load,
        rt,
        rt2: Some(rt2),
        base,
        offset,
        index,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nzcv_is_the_system_register_capstone_names() {
        // capstone: d53b4200 `mrs x0, nzcv`, d51b4200 `msr nzcv, x0`, d53b4220 `mrs x0, daif`.
        assert_eq!(decode(0xD53B_4200, 0), Op::ReadNzcv { rt: 0 });
        assert_eq!(decode(0xD51B_4200, 0), Op::WriteNzcv { rt: 0 });
        assert_eq!(
            decode(0xD53B_4220, 0),
            Op::Unsupported { word: 0xD53B_4220 }
        );
    }

    /// Every pc-relative form, at offsets across its reach and pcs that wrap: the op moved from
    /// pc 0 is the op lowered at the pc.
    #[test]
    fn a_relative_word_moved_from_pc_zero_is_the_word_lowered_at_its_pc() {
        use crate::asm::encode::{Cond, Inst};
        let mut words = Vec::new();
        for off in [-(1i32 << 20), -4096, -4, 0, 4, 4096, (1 << 20) - 4] {
            words.push(Inst::LdrLit { rt: 3, offset: off }.encode().unwrap());
            let imm = (off as u32) & 0x1F_FFFF; // adr x4, pc + off (no encoder form)
            words.push(((imm & 3) << 29) | (0x10 << 24) | ((imm >> 2) << 5) | 4);
            words.push(
                Inst::BCond {
                    cond: Cond::Hs,
                    offset: off,
                }
                .encode()
                .unwrap(),
            );
            words.push(
                Inst::Cbz {
                    rt: 5,
                    nonzero: off < 0,
                    offset: off,
                }
                .encode()
                .unwrap(),
            );
            words.push(Inst::Bl { offset: off * 64 }.encode().unwrap());
            words.push(Inst::B { offset: off * 64 }.encode().unwrap());
            words.push(Inst::Adrp { rd: 6, pages: off }.encode().unwrap());
        }
        for off in [-(1i32 << 15), -4, 4, (1 << 15) - 4] {
            words.push(
                Inst::Tbz {
                    rt: 7,
                    bit: 37,
                    nonzero: off > 0,
                    offset: off,
                }
                .encode()
                .unwrap(),
            );
        }
        let mut relative = 0;
        for w in words {
            let inst = InstDecoder::default()
                .decode(&mut U8Reader::new(&w.to_le_bytes()))
                .unwrap();
            for pc in [0u64, 0x1234_5678_9ABC, u64::MAX - 3, 1 << 63, 0xFFC] {
                let at_pc = lower(&inst, pc & !3).unwrap();
                assert_eq!(decode(w, pc & !3), at_pc, "{w:08x} at {pc:#x}");
                relative += usize::from(!matches!(known(w), Known::Fixed(_)));
            }
        }
        assert_eq!(relative, 5 * (7 * 7 + 4));
    }

    #[test]
    fn unpredictable_forms_are_outside() {
        // ldr x0, [x0, #8]! (writeback into the loaded register) and ldp x1, x1, [x0].
        for w in [0xF840_8C00u32, 0xA940_0401] {
            assert_eq!(decode(w, 0), Op::Unsupported { word: w });
        }
    }
}
