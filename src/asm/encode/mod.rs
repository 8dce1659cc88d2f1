//! AArch64 instruction model and bit-exact encoder for the small subset a64call emits.
//!
//! Every instruction the harness writes (function bodies, call sequences, pools' neighbours,
//! stubs, helpers, the ELF start routine) is an [`Inst`]. [`Inst::encode`] produces the 32-bit
//! word; [`Inst::render`] produces the text capstone prints for that word, which is how
//! [`crate::oracle::check`] proves that what was written is what was meant. Offsets in pc-relative
//! instructions are byte offsets from the instruction's own address.

use std::fmt;

/// The stack pointer / zero register encoding.
pub const SP: Reg = 31;
/// The zero register encoding (same number as `SP`; the instruction decides).
pub const XZR: Reg = 31;
/// Intra-procedure-call scratch register 0: the register call sequences use.
pub const X16: Reg = 16;
/// Intra-procedure-call scratch register 1.
pub const X17: Reg = 17;
/// Link register.
pub const LR: Reg = 30;
/// Frame pointer.
pub const FP: Reg = 29;

/// One AArch64 instruction of the subset a64call emits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Inst {
    /// `movz xd, #imm16, lsl #(16*hw)`
    Movz { rd: Reg, imm16: u16, hw: u8 },
    /// `movn xd, #imm16, lsl #(16*hw)`
    Movn { rd: Reg, imm16: u16, hw: u8 },
    /// `movk xd, #imm16, lsl #(16*hw)`
    Movk { rd: Reg, imm16: u16, hw: u8 },
    /// `ldr xt, <pc + offset>` (literal, ±1 MiB, offset multiple of 4)
    LdrLit { rt: Reg, offset: i32 },
    /// `ldr xt, [xn, #8*imm12]`
    LdrImm { rt: Reg, rn: Reg, imm12: u16 },
    /// `str xt, [xn, #8*imm12]`
    StrImm { rt: Reg, rn: Reg, imm12: u16 },
    /// `stp xt, xt2, [xn, #8*imm7]` (signed offset form)
    Stp {
        rt: Reg,
        rt2: Reg,
        rn: Reg,
        imm7: i8,
    },
    /// `ldp xt, xt2, [xn, #8*imm7]` (signed offset form)
    Ldp {
        rt: Reg,
        rt2: Reg,
        rn: Reg,
        imm7: i8,
    },
    /// `stp xt, xt2, [xn, #8*imm7]!` (pre-index)
    StpPre {
        rt: Reg,
        rt2: Reg,
        rn: Reg,
        imm7: i8,
    },
    /// `ldp xt, xt2, [xn], #8*imm7` (post-index)
    LdpPost {
        rt: Reg,
        rt2: Reg,
        rn: Reg,
        imm7: i8,
    },
    /// `b <pc + offset>` (±128 MiB)
    B { offset: i32 },
    /// `bl <pc + offset>` (±128 MiB)
    Bl { offset: i32 },
    /// `b.cond <pc + offset>` (±1 MiB)
    BCond { cond: Cond, offset: i32 },
    /// `cbz xt, <pc + offset>`, or `cbnz` when `nonzero` (±1 MiB)
    Cbz { rt: Reg, nonzero: bool, offset: i32 },
    /// `tbz xt, #bit, <pc + offset>`, or `tbnz` when `nonzero` (±32 KiB)
    Tbz {
        rt: Reg,
        bit: u8,
        nonzero: bool,
        offset: i32,
    },
    /// `blr xn`
    Blr { rn: Reg },
    /// `br xn`
    Br { rn: Reg },
    /// `ret` (x30)
    Ret,
    /// `adrp xd, <page(pc) + 4096*pages>` (±4 GiB)
    Adrp { rd: Reg, pages: i32 },
    /// `add xd, xn, #imm12` (xn/xd may be sp)
    AddImm { rd: Reg, rn: Reg, imm12: u16 },
    /// `sub xd, xn, #imm12` (xn/xd may be sp)
    SubImm { rd: Reg, rn: Reg, imm12: u16 },
    /// `subs xd, xn, #imm12`
    SubsImm { rd: Reg, rn: Reg, imm12: u16 },
    /// Three-register ALU operation.
    Alu {
        op: AluOp,
        rd: Reg,
        rn: Reg,
        rm: Reg,
    },
    /// `cmp xn, xm` (subs xzr, xn, xm)
    CmpReg { rn: Reg, rm: Reg },
    /// `mov xd, xm` (orr xd, xzr, xm)
    MovReg { rd: Reg, rm: Reg },
    /// `lsl xd, xn, #shift` (ubfm alias), shift 1..=63
    Lsl { rd: Reg, rn: Reg, shift: u8 },
    /// `lsr xd, xn, #shift` (ubfm alias), shift 1..=63
    Lsr { rd: Reg, rn: Reg, shift: u8 },
    /// `ror xd, xn, #shift` (extr alias), shift 1..=63
    Ror { rd: Reg, rn: Reg, shift: u8 },
    /// `mrs xt, nzcv`
    MrsNzcv { rt: Reg },
    /// `msr nzcv, xt`
    MsrNzcv { rt: Reg },
    /// `brk #imm16`
    Brk { imm16: u16 },
    /// `svc #0`
    Svc,
    /// `nop`
    Nop,
    /// A harness-only system instruction given by its word (cache maintenance, barriers,
    /// `tpidr_el0` moves); the text is what capstone prints for it.
    Sys { word: u32, text: &'static str },
}

/// `dc cvau, x<rt>`: clean data cache line by address to the point of unification.
pub fn dc_cvau(rt: Reg) -> Inst {
    const T: [&str; 32] = sys_texts!("dc cvau, ");
    Inst::Sys {
        word: 0xD50B_7B20 | u32::from(rt),
        text: T[rt as usize],
    }
}

/// `ic ivau, x<rt>`: invalidate instruction cache line by address to the point of unification.
pub fn ic_ivau(rt: Reg) -> Inst {
    const T: [&str; 32] = sys_texts!("ic ivau, ");
    Inst::Sys {
        word: 0xD50B_7520 | u32::from(rt),
        text: T[rt as usize],
    }
}

/// `dsb ish`.
pub const DSB_ISH: Inst = Inst::Sys {
    word: 0xD503_3B9F,
    text: "dsb ish",
};
/// `isb`.
pub const ISB: Inst = Inst::Sys {
    word: 0xD503_3FDF,
    text: "isb",
};
/// `msr tpidr_el0, x0`.
pub const MSR_TPIDR_X0: Inst = Inst::Sys {
    word: 0xD51B_D040,
    text: "msr tpidr_el0, x0",
};
/// `mrs x1, tpidr_el0`.
pub const MRS_X1_TPIDR: Inst = Inst::Sys {
    word: 0xD53B_D041,
    text: "mrs x1, tpidr_el0",
};

macro_rules! sys_texts {
    ($p:literal) => {
        [
            concat!($p, "x0"),
            concat!($p, "x1"),
            concat!($p, "x2"),
            concat!($p, "x3"),
            concat!($p, "x4"),
            concat!($p, "x5"),
            concat!($p, "x6"),
            concat!($p, "x7"),
            concat!($p, "x8"),
            concat!($p, "x9"),
            concat!($p, "x10"),
            concat!($p, "x11"),
            concat!($p, "x12"),
            concat!($p, "x13"),
            concat!($p, "x14"),
            concat!($p, "x15"),
            concat!($p, "x16"),
            concat!($p, "x17"),
            concat!($p, "x18"),
            concat!($p, "x19"),
            concat!($p, "x20"),
            concat!($p, "x21"),
            concat!($p, "x22"),
            concat!($p, "x23"),
            concat!($p, "x24"),
            concat!($p, "x25"),
            concat!($p, "x26"),
            concat!($p, "x27"),
            concat!($p, "x28"),
            concat!($p, "x29"),
            concat!($p, "x30"),
            concat!($p, "xzr"),
        ]
    };
}
use sys_texts;

/// `adrp` reaches this many 4 KiB pages on either side of its own: imm21, `-ADRP_PAGES ..=
/// ADRP_PAGES - 1`.
pub const ADRP_PAGES: i64 = 1 << 20;

/// Signed field check helper: does `v` fit in `bits` bits two's complement?
pub fn fits_signed(v: i64, bits: u32) -> bool {
    let min = -(1i64 << (bits - 1));
    let max = (1i64 << (bits - 1)) - 1;
    v >= min && v <= max
}

/// Why an instruction could not be encoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EncodeError(pub String);

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for EncodeError {}

fn r(x: Reg) -> u32 {
    u32::from(x & 31)
}

/// Up to three registers an instruction names.
struct Regs {
    regs: [Reg; 3],
    len: usize,
}

impl Regs {
    fn of(named: &[Reg]) -> Regs {
        let mut regs = [0; 3];
        regs[..named.len()].copy_from_slice(named);
        Regs {
            regs,
            len: named.len(),
        }
    }

    fn as_slice(&self) -> &[Reg] {
        &self.regs[..self.len]
    }
}

impl Inst {
    /// Encode to the 32-bit instruction word, checking every field's range.
    pub fn encode(&self) -> Result<u32, EncodeError> {
        let err = |m: String| Err(EncodeError(format!("{self:?}: {m}")));
        for &reg in self.regs().as_slice() {
            if reg > 31 {
                return err(format!("register {reg} out of range"));
            }
        }
        Ok(match *self {
            Inst::Movz { rd, imm16, hw }
            | Inst::Movn { rd, imm16, hw }
            | Inst::Movk { rd, imm16, hw } => {
                if hw > 3 {
                    return err("hw must be 0..=3".into());
                }
                let opc = match self {
                    Inst::Movn { .. } => 0x9280_0000,
                    Inst::Movz { .. } => 0xD280_0000,
                    _ => 0xF280_0000,
                };
                opc | (u32::from(hw) << 21) | (u32::from(imm16) << 5) | r(rd)
            }
            Inst::LdrLit { rt, offset } => {
                if offset % 4 != 0 || !fits_signed(i64::from(offset) / 4, 19) {
                    return err(format!(
                        "literal offset {offset} out of range (±1 MiB, 4-aligned)"
                    ));
                }
                0x5800_0000 | ((((offset / 4) as u32) & 0x7FFFF) << 5) | r(rt)
            }
            Inst::LdrImm { rt, rn, imm12 } | Inst::StrImm { rt, rn, imm12 } => {
                if imm12 > 4095 {
                    return err("imm12 out of range".into());
                }
                let opc = if matches!(self, Inst::LdrImm { .. }) {
                    0xF940_0000
                } else {
                    0xF900_0000
                };
                opc | (u32::from(imm12) << 10) | (r(rn) << 5) | r(rt)
            }
            Inst::Stp { rt, rt2, rn, imm7 }
            | Inst::Ldp { rt, rt2, rn, imm7 }
            | Inst::StpPre { rt, rt2, rn, imm7 }
            | Inst::LdpPost { rt, rt2, rn, imm7 } => {
                if !fits_signed(i64::from(imm7), 7) {
                    return err("imm7 out of range".into());
                }
                if let Some(why) = self.pair_unpredictable() {
                    return err(why.into());
                }
                let opc = match self {
                    Inst::Stp { .. } => 0xA900_0000,
                    Inst::Ldp { .. } => 0xA940_0000,
                    Inst::StpPre { .. } => 0xA980_0000,
                    _ => 0xA8C0_0000,
                };
                opc | (((imm7 as u32) & 0x7F) << 15) | (r(rt2) << 10) | (r(rn) << 5) | r(rt)
            }
            Inst::B { offset } | Inst::Bl { offset } => {
                if offset % 4 != 0 || !fits_signed(i64::from(offset) / 4, 26) {
                    return err(format!("branch offset {offset} out of range (±128 MiB)"));
                }
                let opc = if matches!(self, Inst::B { .. }) {
                    0x1400_0000
                } else {
                    0x9400_0000
                };
                opc | (((offset / 4) as u32) & 0x03FF_FFFF)
            }
            Inst::BCond { cond, offset } => {
                if offset % 4 != 0 || !fits_signed(i64::from(offset) / 4, 19) {
                    return err(format!(
                        "conditional branch offset {offset} out of range (±1 MiB)"
                    ));
                }
                0x5400_0000 | ((((offset / 4) as u32) & 0x7FFFF) << 5) | cond as u32
            }
            Inst::Cbz {
                rt,
                nonzero,
                offset,
            } => {
                if offset % 4 != 0 || !fits_signed(i64::from(offset) / 4, 19) {
                    return err(format!(
                        "compare-and-branch offset {offset} out of range (±1 MiB)"
                    ));
                }
                let opc = if nonzero { 0xB500_0000 } else { 0xB400_0000 };
                opc | ((((offset / 4) as u32) & 0x7FFFF) << 5) | r(rt)
            }
            Inst::Tbz {
                rt,
                bit,
                nonzero,
                offset,
            } => {
                if bit > 63 {
                    return err(format!("test bit {bit} out of range (0..=63)"));
                }
                if offset % 4 != 0 || !fits_signed(i64::from(offset) / 4, 14) {
                    return err(format!(
                        "test-and-branch offset {offset} out of range (±32 KiB)"
                    ));
                }
                let opc = if nonzero { 0x3700_0000 } else { 0x3600_0000 };
                let b = u32::from(bit);
                opc | ((b >> 5) << 31)
                    | ((b & 31) << 19)
                    | ((((offset / 4) as u32) & 0x3FFF) << 5)
                    | r(rt)
            }
            Inst::Blr { rn } => 0xD63F_0000 | (r(rn) << 5),
            Inst::Br { rn } => 0xD61F_0000 | (r(rn) << 5),
            Inst::Ret => 0xD65F_03C0,
            Inst::Adrp { rd, pages } => {
                if !fits_signed(i64::from(pages), 21) {
                    return err(format!("adrp page delta {pages} out of range (±4 GiB)"));
                }
                let p = pages as u32;
                0x9000_0000 | ((p & 3) << 29) | (((p >> 2) & 0x7FFFF) << 5) | r(rd)
            }
            Inst::AddImm { rd, rn, imm12 }
            | Inst::SubImm { rd, rn, imm12 }
            | Inst::SubsImm { rd, rn, imm12 } => {
                if imm12 > 4095 {
                    return err("imm12 out of range".into());
                }
                let opc = match self {
                    Inst::AddImm { .. } => 0x9100_0000,
                    Inst::SubImm { .. } => 0xD100_0000,
                    _ => 0xF100_0000,
                };
                opc | (u32::from(imm12) << 10) | (r(rn) << 5) | r(rd)
            }
            Inst::Alu { op, rd, rn, rm } => {
                let base = match op {
                    AluOp::Add => 0x8B00_0000,
                    AluOp::Sub => 0xCB00_0000,
                    AluOp::And => 0x8A00_0000,
                    AluOp::Orr => 0xAA00_0000,
                    AluOp::Eor => 0xCA00_0000,
                    AluOp::Mul => 0x9B00_7C00,
                };
                base | (r(rm) << 16) | (r(rn) << 5) | r(rd)
            }
            Inst::CmpReg { rn, rm } => 0xEB00_001F | (r(rm) << 16) | (r(rn) << 5),
            Inst::MovReg { rd, rm } => 0xAA00_03E0 | (r(rm) << 16) | r(rd),
            Inst::Lsl { rd, rn, shift }
            | Inst::Lsr { rd, rn, shift }
            | Inst::Ror { rd, rn, shift } => {
                if shift == 0 || shift > 63 {
                    return err("shift must be 1..=63".into());
                }
                let s = u32::from(shift);
                match self {
                    Inst::Lsl { .. } => {
                        0xD340_0000
                            | (((64 - s) & 63) << 16)
                            | ((63 - s) << 10)
                            | (r(rn) << 5)
                            | r(rd)
                    }
                    Inst::Lsr { .. } => 0xD340_0000 | (s << 16) | (63 << 10) | (r(rn) << 5) | r(rd),
                    _ => 0x93C0_0000 | (r(rn) << 16) | (s << 10) | (r(rn) << 5) | r(rd),
                }
            }
            Inst::MrsNzcv { rt } => 0xD53B_4200 | r(rt),
            Inst::MsrNzcv { rt } => 0xD51B_4200 | r(rt),
            Inst::Brk { imm16 } => 0xD420_0000 | (u32::from(imm16) << 5),
            Inst::Svc => 0xD400_0001,
            Inst::Nop => 0xD503_201F,
            Inst::Sys { word, .. } => word,
        })
    }

    /// Why a register pair is CONSTRAINED UNPREDICTABLE (Arm ARM, LDP/STP), which LLVM rejects:
    /// a load of both halves into one register, or a write-back form whose base is also a
    /// transfer register (sp as base is fine: register 31 there is sp, not x31).
    fn pair_unpredictable(&self) -> Option<&'static str> {
        let (rt, rt2, rn, load, writeback) = match *self {
            Inst::Stp { rt, rt2, rn, .. } => (rt, rt2, rn, false, false),
            Inst::Ldp { rt, rt2, rn, .. } => (rt, rt2, rn, true, false),
            Inst::StpPre { rt, rt2, rn, .. } => (rt, rt2, rn, false, true),
            Inst::LdpPost { rt, rt2, rn, .. } => (rt, rt2, rn, true, true),
            _ => return None,
        };
        if load && rt == rt2 {
            return Some("ldp into the same register twice is unpredictable");
        }
        if writeback && rn != 31 && (rn == rt || rn == rt2) {
            return Some("write-back to a base that is also transferred is unpredictable");
        }
        None
    }

    /// Registers named by the instruction (for range checks), without allocating.
    fn regs(&self) -> Regs {
        match *self {
            Inst::Movz { rd, .. }
            | Inst::Movn { rd, .. }
            | Inst::Movk { rd, .. }
            | Inst::Adrp { rd, .. } => Regs::of(&[rd]),
            Inst::LdrLit { rt, .. } | Inst::MrsNzcv { rt } | Inst::MsrNzcv { rt } => {
                Regs::of(&[rt])
            }
            Inst::LdrImm { rt, rn, .. } | Inst::StrImm { rt, rn, .. } => Regs::of(&[rt, rn]),
            Inst::Stp { rt, rt2, rn, .. }
            | Inst::Ldp { rt, rt2, rn, .. }
            | Inst::StpPre { rt, rt2, rn, .. }
            | Inst::LdpPost { rt, rt2, rn, .. } => Regs::of(&[rt, rt2, rn]),
            Inst::Blr { rn } | Inst::Br { rn } => Regs::of(&[rn]),
            Inst::Cbz { rt, .. } | Inst::Tbz { rt, .. } => Regs::of(&[rt]),
            Inst::AddImm { rd, rn, .. }
            | Inst::SubImm { rd, rn, .. }
            | Inst::SubsImm { rd, rn, .. } => Regs::of(&[rd, rn]),
            Inst::Alu { rd, rn, rm, .. } => Regs::of(&[rd, rn, rm]),
            Inst::CmpReg { rn, rm } => Regs::of(&[rn, rm]),
            Inst::MovReg { rd, rm } => Regs::of(&[rd, rm]),
            Inst::Lsl { rd, rn, .. } | Inst::Lsr { rd, rn, .. } | Inst::Ror { rd, rn, .. } => {
                Regs::of(&[rd, rn])
            }
            _ => Regs::of(&[]),
        }
    }

    /// Is this an unconditional transfer after which execution never falls through?
    pub fn is_terminator(&self) -> bool {
        matches!(
            self,
            Inst::B { .. } | Inst::Br { .. } | Inst::Ret | Inst::Brk { .. }
        )
    }
}

mod mov_imm;
mod render;

pub use crate::isa::{AluOp, Cond, Reg};
pub use mov_imm::{mov_imm_fixed4, mov_imm_minimal};

#[cfg(test)]
mod tests;
