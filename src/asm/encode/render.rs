//! The text capstone prints for each instruction form: what the static oracle matches decoded
//! words against.

use super::*;
use crate::Named;

impl Inst {
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
            Inst::Cbz {
                rt,
                nonzero,
                offset,
            } => {
                let m = if nonzero { "cbnz" } else { "cbz" };
                format!("{m} {}, {}", x(rt), target(offset))
            }
            Inst::Tbz {
                rt,
                bit,
                nonzero,
                offset,
            } => {
                // The register prints as w<n> for a bit below 32 (the encoding's b5 is 0).
                let m = if nonzero { "tbnz" } else { "tbz" };
                let reg = match (bit < 32, rt) {
                    (true, 31) => "wzr".to_string(),
                    (true, n) => format!("w{n}"),
                    (false, n) => x(n),
                };
                format!("{m} {reg}, {}, {}", hex(u64::from(bit)), target(offset))
            }
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
            // The aliases capstone prints: `sub x, xzr, y` is `neg`, `orr x, xzr, y` is `mov`.
            Inst::Alu {
                op: AluOp::Sub,
                rd,
                rn: 31,
                rm,
            } => format!("neg {}, {}", x(rd), x(rm)),
            Inst::Alu {
                op: AluOp::Orr,
                rd,
                rn: 31,
                rm,
            } => format!("mov {}, {}", x(rd), x(rm)),
            Inst::Alu { op, rd, rn, rm } => {
                format!("{} {}, {}, {}", op.name(), x(rd), x(rn), x(rm))
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
