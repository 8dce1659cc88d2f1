//! What CinderX 2026.11 emits on aarch64: a direct `bl` when the target is within ±128 MiB
//! (calls into `_cinderx.so`), otherwise `bl` to a per-target stub (calls into CPython).

use super::direct::near_bl;
use super::{Callee, SeqKind, SiteChoice, Strategy, StrategyId};
use crate::asm::buffer::CodeBuffer;

/// `bl target` in range, else `bl stub`.
pub struct StubOrBl;

impl Strategy for StubOrBl {
    fn id(&self) -> StrategyId {
        StrategyId::StubOrBl
    }
    fn about(&self) -> &'static str {
        "CinderX 2026.11: bl target within ±128 MiB, else bl to a per-target stub"
    }
    fn position_independent(&self) -> bool {
        false
    }
    fn emit_call(&self, buf: &mut CodeBuffer, call: Callee) -> SiteChoice {
        let target = call.target;
        if let Some(choice) = near_bl(buf, target) {
            return choice;
        }
        buf.call_via_stub(target);
        SiteChoice {
            kind: SeqKind::Stub,
            fallback: None,
        }
    }
}
