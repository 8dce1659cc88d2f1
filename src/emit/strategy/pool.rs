//! Per-function literal pool: `ldr x16, <literal>; blr x16`, one 8-byte aligned, de-duplicated
//! entry per target after the code, with islands when a use would be out of `ldr` range
//! (the buffer's invariant 2 and 3).

use super::{Callee, SeqKind, SiteChoice, Strategy, StrategyId};
use crate::asm::buffer::CodeBuffer;
use crate::asm::encode::{Inst, X16};

/// `ldr x16, <pool entry>; blr x16`.
pub struct LiteralPool;

impl Strategy for LiteralPool {
    fn id(&self) -> StrategyId {
        StrategyId::LiteralPool
    }
    fn about(&self) -> &'static str {
        "ldr x16 from a de-duplicated 8-byte-aligned literal pool (islands past 1 MiB), blr x16"
    }
    fn position_independent(&self) -> bool {
        true
    }
    fn emit_call(&self, buf: &mut CodeBuffer, call: Callee) -> SiteChoice {
        let target = call.target;
        buf.load_const(X16, target);
        buf.push(Inst::Blr { rn: X16 });
        SiteChoice {
            kind: SeqKind::PoolLoad,
            fallback: None,
        }
    }
}
