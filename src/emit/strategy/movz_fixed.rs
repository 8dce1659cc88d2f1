//! Fixed-length materialisation: `movz` + three `movk` into x16, then `blr x16` (5 instructions).

use super::{Callee, SeqKind, SiteChoice, Strategy, StrategyId};
use crate::asm::buffer::CodeBuffer;
use crate::asm::encode::{mov_imm_fixed4, Inst, X16};

/// `movz x16, #hw0; movk x16, #hw1, lsl 16; movk ..., lsl 32; movk ..., lsl 48; blr x16`.
pub struct MovzFixed4;

impl Strategy for MovzFixed4 {
    fn id(&self) -> StrategyId {
        StrategyId::MovzFixed4
    }
    fn about(&self) -> &'static str {
        "movz + 3 movk into x16 always (patchable fixed length), blr x16"
    }
    fn position_independent(&self) -> bool {
        true
    }
    fn emit_call(&self, buf: &mut CodeBuffer, call: Callee) -> SiteChoice {
        let target = call.target;
        buf.push_all(&mov_imm_fixed4(X16, target));
        buf.push(Inst::Blr { rn: X16 });
        SiteChoice {
            kind: SeqKind::MovImm,
            fallback: None,
        }
    }
}
