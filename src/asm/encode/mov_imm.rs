//! Materialising a 64-bit constant with `movz`/`movn` and `movk`.

use super::{Inst, Reg};

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
pub fn mov_imm_fixed4(rd: Reg, value: u64) -> [Inst; 4] {
    std::array::from_fn(|hw| {
        let imm16 = (value >> (16 * hw)) as u16;
        let hw = hw as u8;
        if hw == 0 {
            Inst::Movz { rd, imm16, hw }
        } else {
            Inst::Movk { rd, imm16, hw }
        }
    })
}
