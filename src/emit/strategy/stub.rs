//! `bl` to a per-target stub `ldr x16, [pc+8]; br x16; .quad target` placed after the function
//! (the CinderX 2026.11 aarch64 shape): 1 inline instruction, 2 more executed, 2 taken branches.

use super::{Callee, SeqKind, SiteChoice, Strategy, StrategyId};
use crate::asm::buffer::CodeBuffer;

/// `bl stub_target`, stubs de-duplicated per function.
pub struct StubCall;

impl Strategy for StubCall {
    fn id(&self) -> StrategyId {
        StrategyId::StubCall
    }
    fn about(&self) -> &'static str {
        "bl to a per-target stub: ldr x16, [pc+8]; br x16; .quad target"
    }
    fn position_independent(&self) -> bool {
        true
    }
    fn emit_call(&self, buf: &mut CodeBuffer, call: Callee) -> SiteChoice {
        let target = call.target;
        buf.call_via_stub(target);
        SiteChoice {
            kind: SeqKind::Stub,
            fallback: None,
        }
    }
}
