//! The proposed CinderX change: a direct `bl` when the target is within ±128 MiB, otherwise
//! `ldr x16, <literal>; blr x16` from the function's literal pool.

use super::direct::try_direct_bl;
use super::{SeqKind, SiteChoice, Strategy};
use crate::buffer::CodeBuffer;
use crate::encode::{Inst, X16};

/// `bl target` in range, else a literal-pool load and `blr x16`.
pub struct PoolOrBl;

impl Strategy for PoolOrBl {
    fn name(&self) -> &'static str {
        "pool+bl"
    }
    fn about(&self) -> &'static str {
        "proposed: bl target within ±128 MiB, else ldr x16 from the literal pool, blr x16"
    }
    fn position_independent(&self) -> bool {
        false
    }
    fn emit_call(&self, buf: &mut CodeBuffer, target: u64) -> SiteChoice {
        if try_direct_bl(buf, target) {
            return SiteChoice {
                kind: SeqKind::DirectBl,
                fallback: None,
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
