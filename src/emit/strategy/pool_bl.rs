//! The proposed CinderX change, in the shape the patch ships: a direct `bl` when the target is
//! within ±128 MiB, otherwise `ldr x16, <literal>; blr x16` from the function's literal pool.
//! The pool is CinderX's: one 8-byte entry per target in first-use order, after all of the
//! function's code, 8-byte aligned with zero padding, no islands. A literal beyond the ±1 MiB of
//! `ldr` (functions over 1 MiB) is loaded as `adrp x16, page; ldr x16, [x16, #lo12]`, chosen from
//! the final layout as CinderX's asmjit chooses it (the buffer's invariant 2).

use super::direct::try_direct_bl;
use super::{SeqKind, SiteChoice, Strategy};
use crate::asm::buffer::{CodeBuffer, PoolPlacement};
use crate::asm::encode::{Inst, X16};

/// `bl target` in range, else a literal-pool load and `blr x16`.
pub struct PoolOrBl;

impl Strategy for PoolOrBl {
    fn name(&self) -> &'static str {
        "pool+bl"
    }
    fn about(&self) -> &'static str {
        "proposed: bl target within ±128 MiB, else ldr x16 from the pool after the code (adrp+ldr beyond 1 MiB), blr x16"
    }
    fn position_independent(&self) -> bool {
        false
    }
    fn pool_placement(&self) -> PoolPlacement {
        PoolPlacement::AfterCode
    }
    fn emit_call(&self, buf: &mut CodeBuffer, target: u64) -> SiteChoice {
        if try_direct_bl(buf, target) {
            return SiteChoice {
                kind: SeqKind::DirectBl,
                fallback: None,
            };
        }
        // The buffer emits `adrp x16; ldr x16, [x16, #lo12]` and shrinks it to `ldr x16,
        // <literal>` when the literal is in range; emit() reports the site's final kind.
        buf.load_const(X16, target);
        buf.push(Inst::Blr { rn: X16 });
        SiteChoice {
            kind: SeqKind::PoolLoad,
            fallback: None,
        }
    }
}
