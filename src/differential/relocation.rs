//! The relocation check: position-independent code must behave the same at a second address;
//! position-dependent code must refuse to move.

use super::{emit_all, Config, Finding};
use crate::engine::{Engine, EngineError, EngineKind};
use crate::machine::runtime::Image;
use crate::machine::window::Window;
use crate::model::program::Program;
use crate::oracle::dynamic::{self as oracle, Run, RunOn};

/// A second code address for `program`'s code of `len` bytes: the first of a few fixed
/// displacements (not a multiple of 4 GiB, so page offsets and distances change) that keeps the
/// code inside the user range and off every helper page and every page of the helper banks of
/// the program's window (which the image still holds: they belong to the program's code base).
pub fn relocation_base(program: &Program, len: u64) -> Option<u64> {
    let page = crate::layout::HELPER_PAGE;
    let banks = Window::of(program.code_base).map(|w| w.bank_pages());
    let deltas: [i64; 6] = [
        0x1_2345_0000,
        -0x1_2345_0000,
        0x45_6789_0000,
        -0x45_6789_0000,
        0x7654_0000,
        -0x7654_0000,
    ];
    deltas
        .iter()
        .map(|d| program.code_base.wrapping_add(*d as u64))
        .find(|&b| {
            let end = crate::layout::align_up(b + len, page);
            b >= crate::layout::USER_MIN
                && end <= crate::layout::USER_MAX
                && program.helpers.iter().all(|h| {
                    let hp = h.addr & !(page - 1);
                    hp + page <= (b & !(page - 1)) || hp >= end
                })
                && banks
                    .iter()
                    .flatten()
                    .all(|r| r.end <= (b & !(page - 1)) || r.start >= end)
        })
}

/// Emit `program` under each strategy, run it at its own address and, copied, at a second
/// address; position-independent strategies must behave the same (call sites mapped by offset),
/// position-dependent ones must refuse the copy. Returns the first finding.
pub fn check_relocation(program: &Program, cfg: &Config) -> Result<Option<Finding>, EngineError> {
    let (emitted, finding) = emit_all(program, cfg);
    if finding.is_some() {
        return Ok(finding);
    }
    let mut pairs = Vec::new();
    for e in &emitted {
        let moved = match e.relocated(0) {
            Err(_) => continue, // position-dependent: refused to move, as it must
            Ok(_) => {
                let Some(base) = relocation_base(program, e.code.bytes.len() as u64) else {
                    continue;
                };
                e.relocated(base).expect("position independent")
            }
        };
        pairs.push((e, moved));
    }
    crate::engine::unicorn::with_thread_engine(|u| -> Result<Option<Finding>, EngineError> {
        for (orig, moved) in &pairs {
            let mut outs = Vec::new();
            for e in [*orig, moved] {
                let img = match Image::build(program, e, e.code.base) {
                    Ok(img) => img,
                    Err(error) => return Ok(Some(Finding::emission(e.strategy, error))),
                };
                outs.push(u.run(&img)?);
            }
            let a = Run {
                strategy: orig.strategy,
                on: RunOn::emitted(EngineKind::Unicorn),
                emitted: orig,
                outcome: &outs[0],
            };
            let b = Run {
                strategy: orig.strategy,
                on: RunOn::moved(EngineKind::Unicorn),
                emitted: moved,
                outcome: &outs[1],
            };
            if let Err(d) = oracle::check_run(&b).and_then(|_| oracle::compare(&a, &b, false)) {
                return Ok(Some(Finding::Dynamic(d)));
            }
        }
        Ok(None)
    })?
}
