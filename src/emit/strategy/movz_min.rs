//! Minimal `movz`/`movn` + `movk` materialisation of the target in x16, then `blr x16`
//! (the shape older CinderX emitted): 2 to 5 instructions, no data.

use super::{Callee, SeqKind, SiteChoice, Strategy, StrategyId};
use crate::asm::buffer::CodeBuffer;
use crate::asm::encode::{mov_imm_minimal, Inst, X16};

/// `movz/movn x16 (+movk)*; blr x16`, skipping halfwords the first instruction already set.
pub struct MovzMinimal;

/// Emit the minimal materialisation of `target` into x16 plus `blr x16`; shared with the
/// strategies that fall back to it.
pub(crate) fn emit_movz_call(buf: &mut CodeBuffer, target: u64) {
    buf.push_all(&mov_imm_minimal(X16, target));
    buf.push(Inst::Blr { rn: X16 });
}

impl Strategy for MovzMinimal {
    fn id(&self) -> StrategyId {
        StrategyId::MovzMinimal
    }
    fn about(&self) -> &'static str {
        "movz/movn + movk of non-trivial halfwords into x16, blr x16"
    }
    fn position_independent(&self) -> bool {
        true
    }
    fn emit_call(&self, buf: &mut CodeBuffer, call: Callee) -> SiteChoice {
        let target = call.target;
        emit_movz_call(buf, target);
        SiteChoice {
            kind: SeqKind::MovImm,
            fallback: None,
        }
    }
}
