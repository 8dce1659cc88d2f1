//! The proposed CinderX change, in the shape the patch ships: a direct `bl` when the target is
//! within ±128 MiB, otherwise `ldr x16, <literal>; blr x16` from the function's literal pool.
//! The pool is CinderX's: one 8-byte entry per target in first-use order, after all of the
//! function's code, 8-byte aligned with zero padding, no islands. Like the patch, it is used
//! only where every literal is in `ldr` range: a function whose code and pool are not under
//! 1 MiB is emitted as `stub+bl` (CinderX 2026.11's code, which the patch then keeps). The patch
//! decides from an upper bound of the size (it has no final layout yet), so it falls back for
//! somewhat smaller functions too; this model decides from the exact size, the largest
//! function the rule allows, which puts the farthest literals at the edge of `ldr`'s reach.
//! Near or far is decided here from the call site's real distance; the patch decides before the
//! code has an address, by the target's distance from `_cinderx.so`, and a near guess that ends
//! up out of range becomes asmjit's stub: the `stub+bl` shape, which that strategy proves. Both
//! differences are deliberate, and `harness/cinderx/model_check.py` checks the real dumps against
//! this shape, listing each such stub.

use super::direct::near_bl;
use super::{SeqKind, SiteChoice, SizeFallback, Strategy, StrategyId, StubOrBl};
use crate::asm::buffer::{CodeBuffer, PoolPlacement};
use crate::asm::encode::{Inst, X16};

/// `bl target` in range, else a literal-pool load and `blr x16`.
pub struct PoolOrBl;

impl Strategy for PoolOrBl {
    fn id(&self) -> StrategyId {
        StrategyId::PoolOrBl
    }
    fn about(&self) -> &'static str {
        "proposed: bl target within ±128 MiB, else ldr x16 from the pool after the code, blr x16; functions not under 1 MiB as stub+bl"
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
    fn emit_call(&self, buf: &mut CodeBuffer, target: u64) -> SiteChoice {
        if let Some(choice) = near_bl(buf, target) {
            return choice;
        }
        buf.load_const(X16, target);
        buf.push(Inst::Blr { rn: X16 });
        SiteChoice {
            kind: SeqKind::PoolLoad,
            fallback: None,
        }
    }
}
