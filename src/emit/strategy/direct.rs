//! Direct `bl target` when the target is within ±128 MiB of the call site; otherwise falls back
//! to `adrp`+`add`+`blr` (±4 GiB), then to minimal `movz`/`movk` + `blr`, and says so.

use super::adrp::emit_adrp_call;
use super::movz_min::emit_movz_call;
use super::{Callee, SeqKind, SiteChoice, Strategy, StrategyId};
use crate::asm::buffer::CodeBuffer;
use crate::asm::encode::fits_signed;

/// `bl target` in range, else the nearest-reaching fallback.
pub struct DirectBl;

/// Emit `bl target` if the target is within ±128 MiB of the current position: the site's
/// choice when it did, `None` (nothing emitted) otherwise. Shared by the strategies that call
/// near targets directly.
pub(crate) fn near_bl(buf: &mut CodeBuffer, target: u64) -> Option<SiteChoice> {
    try_direct_bl(buf, target).then_some(SiteChoice {
        kind: SeqKind::DirectBl,
        fallback: None,
    })
}

/// Emit `bl target` if the target is within ±128 MiB of the current position; returns whether
/// it did.
pub(crate) fn try_direct_bl(buf: &mut CodeBuffer, target: u64) -> bool {
    let delta = target.wrapping_sub(buf.pc()) as i64;
    if fits_signed(delta / 4, 26) {
        buf.bl_abs(target);
        return true;
    }
    false
}

impl Strategy for DirectBl {
    fn id(&self) -> StrategyId {
        StrategyId::DirectBl
    }
    fn about(&self) -> &'static str {
        "bl target within ±128 MiB; else adrp+add+blr within ±4 GiB; else movz/movk+blr"
    }
    fn position_independent(&self) -> bool {
        false
    }
    fn emit_call(&self, buf: &mut CodeBuffer, call: Callee) -> SiteChoice {
        let target = call.target;
        if let Some(choice) = near_bl(buf, target) {
            return choice;
        }
        if emit_adrp_call(buf, target) {
            return SiteChoice {
                kind: SeqKind::AdrpAdd,
                fallback: Some("beyond ±128 MiB: adrp+add"),
            };
        }
        emit_movz_call(buf, target);
        SiteChoice {
            kind: SeqKind::MovImm,
            fallback: Some("beyond ±4 GiB: movz/movk"),
        }
    }
}
