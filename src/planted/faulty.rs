//! The planted bugs that break a strategy's own call sequence, as wrappers: each emits its
//! strategy's sequence with one deliberate mistake, under the strategy's name, so the code of the
//! strategies themselves carries no sabotage. (Bugs in the buffer's pools and stubs are the
//! buffer's named [`crate::asm::buffer::Faults`].)

use super::PlantedBug;
use crate::asm::buffer::{CodeBuffer, PoolPlacement};
use crate::asm::encode::{fits_signed, mov_imm_fixed4, mov_imm_minimal, Inst, X16, X17};
use crate::emit::strategy::{
    try_direct_bl, Callee, SeqKind, SiteChoice, SizeFallback, Strategy, StrategyId,
};

/// A strategy with the call-sequence mistake of one planted bug.
pub struct Faulty(PlantedBug);

/// One wrapper per bug that breaks a strategy's call sequence.
static FAULTY: [Faulty; 7] = [
    Faulty(PlantedBug::PoolScratchX19),
    Faulty(PlantedBug::MovkShiftWrong),
    Faulty(PlantedBug::MovzRegMismatch),
    Faulty(PlantedBug::Fixed4DropsHw2),
    Faulty(PlantedBug::AdrpLo12Wrong),
    Faulty(PlantedBug::AdrpPageOfNextWord),
    Faulty(PlantedBug::DirectNoRangeCheck),
];

/// The wrapper emitting `bug`'s broken sequence, if `bug` breaks a call sequence.
pub fn emitter(bug: PlantedBug) -> Option<&'static dyn Strategy> {
    FAULTY
        .iter()
        .find(|f| f.0 == bug)
        .map(|f| f as &dyn Strategy)
}

/// The `const` lowering of [`PlantedBug::ConstTrivialDropped`]: nothing for 0 and all-ones (a
/// reported mov-immediate bug), the minimal sequence otherwise.
pub fn const_dropping_trivial(rd: crate::asm::encode::Reg, imm: u64) -> Vec<Inst> {
    if imm.wrapping_add(1) < 2 {
        Vec::new()
    } else {
        mov_imm_minimal(rd, imm)
    }
}

fn choice(kind: SeqKind) -> SiteChoice {
    SiteChoice {
        kind,
        fallback: None,
    }
}

/// Minimal movz/movk into x16 with `bug`'s change to each instruction, then `blr x16`.
fn movz_call(buf: &mut CodeBuffer, target: u64, bug: PlantedBug) {
    let mut seq = mov_imm_minimal(X16, target);
    for i in &mut seq {
        *i = match (bug, *i) {
            (PlantedBug::MovkShiftWrong, Inst::Movk { rd, imm16, hw: 2 }) => {
                Inst::Movk { rd, imm16, hw: 3 }
            }
            (PlantedBug::MovzRegMismatch, Inst::Movz { imm16, hw, .. }) => {
                Inst::Movz { rd: X17, imm16, hw }
            }
            (PlantedBug::MovzRegMismatch, Inst::Movn { imm16, hw, .. }) => {
                Inst::Movn { rd: X17, imm16, hw }
            }
            (PlantedBug::MovzRegMismatch, Inst::Movk { imm16, hw, .. }) => {
                Inst::Movk { rd: X17, imm16, hw }
            }
            (_, other) => other,
        };
    }
    buf.push_all(&seq);
    buf.push(Inst::Blr { rn: X16 });
}

/// `adrp x16; add x16; blr x16` with the page counted from the address `page_of` gives for
/// the `adrp`'s own and the low 12 bits `lo12` gives for the target; false when that page is out
/// of reach (the strategy then falls back correctly). The correct sequence is
/// `adrp_call(buf, target, |pc| pc, |_, t| t)`: a copy of the strategy's `emit_adrp_call` with two
/// seams, kept here so that the code under test has none.
fn adrp_call(
    buf: &mut CodeBuffer,
    target: u64,
    page_of: fn(u64) -> u64,
    lo12: fn(u64, u64) -> u64,
) -> bool {
    let pc = buf.pc();
    let pages = ((target >> 12) as i64).wrapping_sub((page_of(pc) >> 12) as i64);
    if !fits_signed(pages, 21) {
        return false;
    }
    buf.push_all(&[
        Inst::Adrp {
            rd: X16,
            pages: pages as i32,
        },
        Inst::AddImm {
            rd: X16,
            rn: X16,
            imm12: (lo12(pc, target) & 0xFFF) as u16,
        },
        Inst::Blr { rn: X16 },
    ]);
    true
}

/// `adrp-lo12-wrong`: the `add` takes the call site's low 12 bits instead of the target's.
fn adrp_wrong_lo12(buf: &mut CodeBuffer, target: u64) -> bool {
    adrp_call(buf, target, |pc| pc, |pc, _| pc)
}

/// `adrp-page-of-next-word`: the `adrp`'s page is counted from the word after it.
fn adrp_next_words_page(buf: &mut CodeBuffer, target: u64) -> bool {
    adrp_call(buf, target, |pc| pc + 4, |_, t| t)
}

/// `bl` with the word offset truncated to 26 bits, whatever the distance.
fn bl_truncated(buf: &mut CodeBuffer, target: u64) {
    let delta = target.wrapping_sub(buf.pc()) as i64;
    let words = ((delta / 4) << 38) >> 38;
    buf.push(Inst::Bl {
        offset: (words * 4) as i32,
    });
}

impl Strategy for Faulty {
    fn id(&self) -> StrategyId {
        self.0.strategy().id()
    }
    fn about(&self) -> &'static str {
        self.0.strategy().about()
    }
    fn position_independent(&self) -> bool {
        self.0.strategy().position_independent()
    }
    fn pool_placement(&self) -> PoolPlacement {
        self.0.strategy().pool_placement()
    }
    fn size_fallback(&self) -> Option<SizeFallback> {
        self.0.strategy().size_fallback()
    }
    fn emit_call(&self, buf: &mut CodeBuffer, call: Callee) -> SiteChoice {
        let target = call.target;
        match self.0 {
            PlantedBug::PoolScratchX19 => {
                buf.load_const(19, target);
                buf.push(Inst::Blr { rn: 19 });
                choice(SeqKind::PoolLoad)
            }
            PlantedBug::MovkShiftWrong | PlantedBug::MovzRegMismatch => {
                movz_call(buf, target, self.0);
                choice(SeqKind::MovImm)
            }
            PlantedBug::Fixed4DropsHw2 => {
                let mut seq = mov_imm_fixed4(X16, target).to_vec();
                seq.remove(2);
                buf.push_all(&seq);
                buf.push(Inst::Blr { rn: X16 });
                choice(SeqKind::MovImm)
            }
            PlantedBug::AdrpLo12Wrong if adrp_wrong_lo12(buf, target) => choice(SeqKind::AdrpAdd),
            PlantedBug::AdrpPageOfNextWord if adrp_next_words_page(buf, target) => {
                choice(SeqKind::AdrpAdd)
            }
            PlantedBug::DirectNoRangeCheck => {
                if !try_direct_bl(buf, target) {
                    bl_truncated(buf, target);
                }
                choice(SeqKind::DirectBl)
            }
            _ => self.0.strategy().emit_call(buf, call),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::emit::{emit, EmitOptions};
    use crate::model::gen::from_seed;
    use crate::Named;

    /// Each wrapper changes only what its bug says: the same sites, each sequence as long as
    /// the strategy's (one word less for `fixed4-drops-hw2`; one `bl` for
    /// `direct-no-range-check`, whatever the distance, and exactly one where `bl` reaches), on a
    /// program of the bug's own profile (an `adrp` in a page's last word needs a big function).
    #[test]
    fn wrappers_break_only_their_sequence() {
        for f in &FAULTY {
            let p = from_seed(2, &f.0.profile().profile());
            let good = emit(&p, f.0.strategy(), &EmitOptions::default()).unwrap();
            let bad = emit(&p, f.0.strategy(), &f.0.emit_options(f.0.strategy())).unwrap();
            assert_eq!(good.sites.len(), bad.sites.len(), "{}", f.0.name());
            for (g, b) in good.sites.iter().zip(&bad.sites) {
                let want = match f.0 {
                    PlantedBug::Fixed4DropsHw2 => g.inline_insns() - 1,
                    PlantedBug::DirectNoRangeCheck => 1,
                    _ => g.inline_insns(),
                };
                assert_eq!(b.inline_insns(), want, "{}", f.0.name());
            }
            assert_ne!(
                good.code.bytes,
                bad.code.bytes,
                "{} changes nothing",
                f.0.name()
            );
        }
    }
}
