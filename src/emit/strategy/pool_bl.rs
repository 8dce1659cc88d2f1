//! The proposed CinderX change, in the shape the patch ships: a call target guessed near is a
//! direct `bl`, one guessed far is `ldr x16, <literal>; blr x16` from the function's literal
//! pool. The pool is CinderX's: one 8-byte entry per target in first-use order, after all of
//! the function's code, 8-byte aligned with zero padding, no islands. Like the patch, it is used
//! only where every literal is in `ldr` range: a function whose code and pool are not under
//! 1 MiB is emitted as `stub+bl` (CinderX 2026.11's code, which the patch then keeps). The patch
//! decides from an upper bound of the size (it has no final layout yet), so it falls back for
//! somewhat smaller functions too; this model decides from the exact size, the largest
//! function the rule allows, which puts the farthest literals at the edge of `ldr`'s reach.
//!
//! Near or far is guessed as the patch guesses it, before the code has an address: near when
//! the target lies within 96 MiB of the program's anchor ([`near_guess`]; the patch's anchor is
//! its own function in `_cinderx.so`). A near guess that `bl` cannot reach from the call site
//! becomes a `bl` to a per-target stub after the pool, as asmjit relaxes it (the code of before
//! the patch, for that call: [`SiteChoice::fallback`] says so); a far guess that `bl` could
//! reach still goes through the pool. A program without an anchor is guessed from the call
//! site's real distance, so every guess is right. `harness/cinderx/model_check.py` checks the
//! real dumps against this shape.

use super::direct::near_bl;
use super::{Callee, SeqKind, SiteChoice, SizeFallback, Strategy, StrategyId, StubOrBl};
use crate::asm::buffer::{CodeBuffer, PoolPlacement};
use crate::asm::encode::{Inst, X16};
use crate::model::program::near_guess;

/// `bl target` when guessed near (a `bl` to a stub where that guess is wrong), else a
/// literal-pool load and `blr x16`.
pub struct PoolOrBl;

impl Strategy for PoolOrBl {
    fn id(&self) -> StrategyId {
        StrategyId::PoolOrBl
    }
    fn about(&self) -> &'static str {
        "proposed: bl target guessed near (within 96 MiB of the anchor; a stub where bl cannot reach), else ldr x16 from the pool after the code, blr x16; functions not under 1 MiB as stub+bl"
    }
    fn position_independent(&self) -> bool {
        false
    }
    fn pool_placement(&self) -> PoolPlacement {
        PoolPlacement::AfterCode
    }
    fn size_fallback(&self) -> Option<SizeFallback> {
        Some(SizeFallback {
            limit: 1 << 20,
            strategy: &StubOrBl,
            why: "function not under 1 MiB: stub, as before the patch",
        })
    }
    fn emit_call(&self, buf: &mut CodeBuffer, call: Callee) -> SiteChoice {
        let target = call.target;
        let guessed_near = call.anchor.map(|a| near_guess(a, target));
        if guessed_near != Some(false) {
            if let Some(choice) = near_bl(buf, target) {
                return choice;
            }
        }
        if guessed_near == Some(true) {
            buf.call_via_stub(target);
            return SiteChoice {
                kind: SeqKind::Stub,
                fallback: Some("guessed near, out of bl range: a stub, as asmjit relaxes it"),
            };
        }
        buf.load_const(X16, target);
        buf.push(Inst::Blr { rn: X16 });
        SiteChoice {
            kind: SeqKind::PoolLoad,
            fallback: None,
        }
    }
}
