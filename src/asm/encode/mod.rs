//! AArch64 instruction model and bit-exact encoder for the small subset a64call emits.
//!
//! Every instruction the harness writes (function bodies, call sequences, pools' neighbours,
//! stubs, helpers, the ELF start routine) is an [`Inst`]. [`Inst::encode`] produces the 32-bit
//! word; [`Inst::render`] produces the text capstone prints for that word, which is how
//! [`crate::oracle::check`] proves that what was written is what was meant. Offsets in pc-relative
//! instructions are byte offsets from the instruction's own address.

use std::fmt;

/// A general-purpose register number, 0..=30. 31 means `sp` or `xzr` depending on the slot.
pub type Reg = u8;

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

/// Condition codes used by `b.cond`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Cond {
    /// Equal.
    Eq = 0,
    /// Not equal.
    Ne = 1,
    /// Unsigned higher or same.
    Hs = 2,
    /// Unsigned lower.
    Lo = 3,
    /// Unsigned higher.
    Hi = 8,
    /// Unsigned lower or same.
    Ls = 9,
    /// Signed greater or equal.
    Ge = 10,
    /// Signed less than.
    Lt = 11,
    /// Signed greater than.
    Gt = 12,
    /// Signed less or equal.
    Le = 13,
}

impl Cond {
    /// Assembly suffix (`eq`, `ne`, ...).
    pub fn suffix(self) -> &'static str {
        match self {
            Cond::Eq => "eq",
            Cond::Ne => "ne",
            Cond::Hs => "hs",
            Cond::Lo => "lo",
            Cond::Hi => "hi",
            Cond::Ls => "ls",
            Cond::Ge => "ge",
            Cond::Lt => "lt",
            Cond::Gt => "gt",
            Cond::Le => "le",
        }
    }

    /// The condition that holds exactly when `self` does not.
    pub fn invert(self) -> Cond {
        match self {
            Cond::Eq => Cond::Ne,
            Cond::Ne => Cond::Eq,
            Cond::Hs => Cond::Lo,
            Cond::Lo => Cond::Hs,
            Cond::Hi => Cond::Ls,
            Cond::Ls => Cond::Hi,
            Cond::Ge => Cond::Lt,
            Cond::Lt => Cond::Ge,
            Cond::Gt => Cond::Le,
            Cond::Le => Cond::Gt,
        }
    }
}

/// Three-register ALU operations (64-bit).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AluOp {
    /// `add xd, xn, xm`
    Add,
    /// `sub xd, xn, xm`
    Sub,
    /// `and xd, xn, xm`
    And,
    /// `orr xd, xn, xm`
    Orr,
    /// `eor xd, xn, xm`
    Eor,
    /// `mul xd, xn, xm` (madd with xzr)
    Mul,
}

impl AluOp {
    /// Mnemonic as written in the program text format and by capstone.
    pub fn mnemonic(self) -> &'static str {
        match self {
            AluOp::Add => "add",
            AluOp::Sub => "sub",
            AluOp::And => "and",
            AluOp::Orr => "orr",
            AluOp::Eor => "eor",
            AluOp::Mul => "mul",
        }
    }

    /// All ALU operations, in a fixed order.
    pub const ALL: [AluOp; 6] = [
        AluOp::Add,
        AluOp::Sub,
        AluOp::And,
        AluOp::Orr,
        AluOp::Eor,
        AluOp::Mul,
    ];
}

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

impl Inst {
    /// Encode to the 32-bit instruction word, checking every field's range.
    pub fn encode(&self) -> Result<u32, EncodeError> {
        let err = |m: String| Err(EncodeError(format!("{self:?}: {m}")));
        for reg in self.regs() {
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

    /// Registers named by the instruction (for range checks).
    fn regs(&self) -> Vec<Reg> {
        match *self {
            Inst::Movz { rd, .. }
            | Inst::Movn { rd, .. }
            | Inst::Movk { rd, .. }
            | Inst::Adrp { rd, .. } => vec![rd],
            Inst::LdrLit { rt, .. } | Inst::MrsNzcv { rt } | Inst::MsrNzcv { rt } => vec![rt],
            Inst::LdrImm { rt, rn, .. } | Inst::StrImm { rt, rn, .. } => vec![rt, rn],
            Inst::Stp { rt, rt2, rn, .. }
            | Inst::Ldp { rt, rt2, rn, .. }
            | Inst::StpPre { rt, rt2, rn, .. }
            | Inst::LdpPost { rt, rt2, rn, .. } => vec![rt, rt2, rn],
            Inst::Blr { rn } | Inst::Br { rn } => vec![rn],
            Inst::AddImm { rd, rn, .. }
            | Inst::SubImm { rd, rn, .. }
            | Inst::SubsImm { rd, rn, .. } => vec![rd, rn],
            Inst::Alu { rd, rn, rm, .. } => vec![rd, rn, rm],
            Inst::CmpReg { rn, rm } => vec![rn, rm],
            Inst::MovReg { rd, rm } => vec![rd, rm],
            Inst::Lsl { rd, rn, .. } | Inst::Lsr { rd, rn, .. } | Inst::Ror { rd, rn, .. } => {
                vec![rd, rn]
            }
            _ => vec![],
        }
    }

    /// Is this an unconditional transfer after which execution never falls through?
    pub fn is_terminator(&self) -> bool {
        matches!(
            self,
            Inst::B { .. } | Inst::Br { .. } | Inst::Ret | Inst::Brk { .. }
        )
    }

    /// The text capstone 5 prints for this instruction at address `pc` (mnemonic and operands
    /// separated by one space). Used by [`crate::oracle::check`] to match decoded words.
    pub fn render(&self, pc: u64) -> String {
        let x = |n: Reg| {
            if n == 31 {
                "xzr".to_string()
            } else {
                format!("x{n}")
            }
        };
        let xs = |n: Reg| {
            if n == 31 {
                "sp".to_string()
            } else {
                format!("x{n}")
            }
        };
        let hex = |v: u64| {
            if v > 9 {
                format!("#0x{v:x}")
            } else {
                format!("#{v}")
            }
        };
        let shex = |v: i64| {
            if v < 0 {
                if v < -9 {
                    format!("#-0x{:x}", v.unsigned_abs())
                } else {
                    format!("#{v}")
                }
            } else {
                hex(v as u64)
            }
        };
        let target = |off: i32| hex(pc.wrapping_add(off as i64 as u64));
        match *self {
            Inst::Movz { rd, imm16, hw } => {
                if imm16 == 0 && hw != 0 {
                    format!("movz {}, {}, lsl #{}", x(rd), hex(0), 16 * hw)
                } else {
                    format!(
                        "mov {}, {}",
                        x(rd),
                        shex((u64::from(imm16) << (16 * hw)) as i64)
                    )
                }
            }
            Inst::Movn { rd, imm16, hw } => {
                let v = !(u64::from(imm16) << (16 * hw));
                if imm16 == 0 && hw != 0 {
                    format!(
                        "movn {}, {}, lsl #{}",
                        x(rd),
                        hex(u64::from(imm16)),
                        16 * hw
                    )
                } else {
                    format!("mov {}, {}", x(rd), shex(v as i64))
                }
            }
            Inst::Movk { rd, imm16, hw } => {
                if hw == 0 {
                    format!("movk {}, {}", x(rd), hex(u64::from(imm16)))
                } else {
                    format!(
                        "movk {}, {}, lsl #{}",
                        x(rd),
                        hex(u64::from(imm16)),
                        16 * hw
                    )
                }
            }
            Inst::LdrLit { rt, offset } => format!("ldr {}, {}", x(rt), target(offset)),
            Inst::LdrImm { rt, rn, imm12 } | Inst::StrImm { rt, rn, imm12 } => {
                let m = if matches!(self, Inst::LdrImm { .. }) {
                    "ldr"
                } else {
                    "str"
                };
                if imm12 == 0 {
                    format!("{m} {}, [{}]", x(rt), xs(rn))
                } else {
                    format!("{m} {}, [{}, {}]", x(rt), xs(rn), hex(u64::from(imm12) * 8))
                }
            }
            Inst::Stp { rt, rt2, rn, imm7 } | Inst::Ldp { rt, rt2, rn, imm7 } => {
                let m = if matches!(self, Inst::Stp { .. }) {
                    "stp"
                } else {
                    "ldp"
                };
                if imm7 == 0 {
                    format!("{m} {}, {}, [{}]", x(rt), x(rt2), xs(rn))
                } else {
                    format!(
                        "{m} {}, {}, [{}, {}]",
                        x(rt),
                        x(rt2),
                        xs(rn),
                        shex(i64::from(imm7) * 8)
                    )
                }
            }
            Inst::StpPre { rt, rt2, rn, imm7 } => {
                format!(
                    "stp {}, {}, [{}, {}]!",
                    x(rt),
                    x(rt2),
                    xs(rn),
                    shex(i64::from(imm7) * 8)
                )
            }
            Inst::LdpPost { rt, rt2, rn, imm7 } => {
                format!(
                    "ldp {}, {}, [{}], {}",
                    x(rt),
                    x(rt2),
                    xs(rn),
                    shex(i64::from(imm7) * 8)
                )
            }
            Inst::B { offset } => format!("b {}", target(offset)),
            Inst::Bl { offset } => format!("bl {}", target(offset)),
            Inst::BCond { cond, offset } => format!("b.{} {}", cond.suffix(), target(offset)),
            Inst::Blr { rn } => format!("blr {}", x(rn)),
            Inst::Br { rn } => format!("br {}", x(rn)),
            Inst::Ret => "ret".to_string(),
            Inst::Adrp { rd, pages } => {
                let page = (pc & !0xFFF).wrapping_add(((pages as i64) << 12) as u64);
                format!("adrp {}, {}", x(rd), hex(page))
            }
            Inst::AddImm { rd, rn, imm12 } => {
                if imm12 == 0 && (rd == 31 || rn == 31) {
                    format!("mov {}, {}", xs(rd), xs(rn))
                } else {
                    format!("add {}, {}, {}", xs(rd), xs(rn), hex(u64::from(imm12)))
                }
            }
            Inst::SubImm { rd, rn, imm12 } => {
                format!("sub {}, {}, {}", xs(rd), xs(rn), hex(u64::from(imm12)))
            }
            Inst::SubsImm { rd, rn, imm12 } => {
                if rd == 31 {
                    format!("cmp {}, {}", xs(rn), hex(u64::from(imm12)))
                } else {
                    format!("subs {}, {}, {}", x(rd), xs(rn), hex(u64::from(imm12)))
                }
            }
            Inst::Alu { op, rd, rn, rm } => {
                format!("{} {}, {}, {}", op.mnemonic(), x(rd), x(rn), x(rm))
            }
            Inst::CmpReg { rn, rm } => format!("cmp {}, {}", x(rn), x(rm)),
            Inst::MovReg { rd, rm } => format!("mov {}, {}", x(rd), x(rm)),
            Inst::Lsl { rd, rn, shift } => {
                format!("lsl {}, {}, {}", x(rd), x(rn), hex(u64::from(shift)))
            }
            Inst::Lsr { rd, rn, shift } => {
                format!("lsr {}, {}, {}", x(rd), x(rn), hex(u64::from(shift)))
            }
            Inst::Ror { rd, rn, shift } => {
                format!("ror {}, {}, {}", x(rd), x(rn), hex(u64::from(shift)))
            }
            Inst::MrsNzcv { rt } => format!("mrs {}, nzcv", x(rt)),
            Inst::MsrNzcv { rt } => format!("msr nzcv, {}", x(rt)),
            Inst::Brk { imm16 } => format!("brk {}", hex(u64::from(imm16))),
            Inst::Svc => "svc #0".to_string(),
            Inst::Nop => "nop".to_string(),
            Inst::Sys { text, .. } => text.to_string(),
        }
    }
}

/// The shortest `movz`/`movn` + `movk` sequence that puts `value` in `rd`.
///
/// Starts with `movn` when more halfwords are `0xffff` than `0x0000`, then patches every
/// remaining halfword that differs from the starting fill with `movk`. Always 1..=4 instructions.
pub fn mov_imm_minimal(rd: Reg, value: u64) -> Vec<Inst> {
    let hws: Vec<u16> = (0..4).map(|i| (value >> (16 * i)) as u16).collect();
    let zeros = hws.iter().filter(|&&h| h == 0).count();
    let ones = hws.iter().filter(|&&h| h == 0xFFFF).count();
    let (fill, use_movn) = if ones > zeros {
        (0xFFFFu16, true)
    } else {
        (0u16, false)
    };
    let mut out = Vec::new();
    for (i, &h) in hws.iter().enumerate() {
        if h == fill {
            continue;
        }
        if out.is_empty() {
            out.push(if use_movn {
                Inst::Movn {
                    rd,
                    imm16: !h,
                    hw: i as u8,
                }
            } else {
                Inst::Movz {
                    rd,
                    imm16: h,
                    hw: i as u8,
                }
            });
        } else {
            out.push(Inst::Movk {
                rd,
                imm16: h,
                hw: i as u8,
            });
        }
    }
    if out.is_empty() {
        out.push(if use_movn {
            Inst::Movn {
                rd,
                imm16: 0,
                hw: 0,
            }
        } else {
            Inst::Movz {
                rd,
                imm16: 0,
                hw: 0,
            }
        });
    }
    out
}

/// Always four instructions: `movz` of halfword 0 then `movk` of halfwords 1..=3.
pub fn mov_imm_fixed4(rd: Reg, value: u64) -> Vec<Inst> {
    let mut out = vec![Inst::Movz {
        rd,
        imm16: value as u16,
        hw: 0,
    }];
    for hw in 1..4u8 {
        out.push(Inst::Movk {
            rd,
            imm16: (value >> (16 * hw)) as u16,
            hw,
        });
    }
    out
}

#[cfg(test)]
mod tests;
