//! `adrp x16, target; add x16, x16, :lo12:target; blr x16` when the target's page is within
//! ±4 GiB of the call site's page; otherwise minimal `movz`/`movk` + `blr`, and says so.

use super::movz_min::emit_movz_call;
use super::{Callee, SeqKind, SiteChoice, Strategy, StrategyId};
use crate::asm::buffer::CodeBuffer;
use crate::asm::encode::{fits_signed, Inst, X16};

/// `adrp`+`add`+`blr` within ±4 GiB.
pub struct AdrpAdd;

/// Emit `adrp x16; add x16; blr x16` if the page delta fits; returns false (emitting nothing)
/// otherwise.
pub(crate) fn emit_adrp_call(buf: &mut CodeBuffer, target: u64) -> bool {
    let pc = buf.pc();
    let pages = ((target >> 12) as i64).wrapping_sub((pc >> 12) as i64);
    if !fits_signed(pages, 21) {
        return false;
    }
    let lo12 = target & 0xFFF;
    buf.push(Inst::Adrp {
        rd: X16,
        pages: pages as i32,
    });
    buf.push(Inst::AddImm {
        rd: X16,
        rn: X16,
        imm12: lo12 as u16,
    });
    buf.push(Inst::Blr { rn: X16 });
    true
}

impl Strategy for AdrpAdd {
    fn id(&self) -> StrategyId {
        StrategyId::AdrpAdd
    }
    fn about(&self) -> &'static str {
        "adrp+add x16 within ±4 GiB, blr x16; else movz/movk+blr"
    }
    fn position_independent(&self) -> bool {
        false
    }
    fn emit_call(&self, buf: &mut CodeBuffer, call: Callee) -> SiteChoice {
        let target = call.target;
        if emit_adrp_call(buf, target) {
            return SiteChoice {
                kind: SeqKind::AdrpAdd,
                fallback: None,
            };
        }
        emit_movz_call(buf, target);
        SiteChoice {
            kind: SeqKind::MovImm,
            fallback: Some("beyond ±4 GiB: movz/movk"),
        }
    }
}
