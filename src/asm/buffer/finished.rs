//! A finished buffer and where its bytes went.

use super::{LabelUse, Slot};
use crate::asm::encode::Inst;
use std::ops::Range;

/// Where bytes of a finished buffer went.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SizeBreakdown {
    /// Function instructions (body, call sequences, prologue, epilogue).
    pub body: u64,
    /// Pool entries, their alignment padding and the branches around islands.
    pub pool: u64,
    /// Stub instructions, their literals and padding.
    pub stubs: u64,
    /// Number of islands placed before the final pool.
    pub islands: u32,
    /// Distinct pool entries placed (across islands and the final pool).
    pub pool_entries: u32,
    /// Stubs placed.
    pub stub_count: u32,
    /// Conditional branches given a veneer (invariant 8), counted in `body`.
    pub veneers: u32,
}

/// A finished buffer: resolved slots, their bytes, and where the data lives.
#[derive(Clone, Debug)]
pub struct Finished {
    /// Address of byte 0.
    pub base: u64,
    /// Every 4-byte slot.
    pub slots: Vec<Slot>,
    /// Little-endian bytes of every slot.
    pub bytes: Vec<u8>,
    /// Byte ranges holding data, never code.
    pub data: Vec<Range<u32>>,
    /// Byte ranges holding pool entries (8-byte aligned, inside `data`; no padding, no stubs).
    pub pool: Vec<Range<u32>>,
    /// Where the bytes went.
    pub sizes: SizeBreakdown,
    /// Whether the bytes work unchanged at any address: no instruction refers pc-relatively to
    /// anything outside the function (a direct `bl` to a helper, any `adrp`). Derived from the
    /// finished slots, whatever the strategy claims (invariant 7).
    pub position_independent: bool,
}

/// Does `inst`, at byte `at` of a function of `len` bytes, refer pc-relatively to an address
/// outside the function? An `adrp` always does (it names a 4 KiB page, which moves with the code
/// only in steps of 4 KiB).
fn refers_outside(inst: &Inst, at: u32, len: u32) -> bool {
    if let Inst::Adrp { .. } = inst {
        return true;
    }
    let Some((_, offset)) = LabelUse::of(inst) else {
        return false;
    };
    let to = i64::from(at) + i64::from(offset);
    !(0..i64::from(len)).contains(&to)
}

impl Finished {
    /// Is byte offset `off` inside a data range?
    pub fn is_data(&self, off: u32) -> bool {
        self.data.iter().any(|r| r.contains(&off))
    }
}

/// Invariant 7: no slot refers outside the function.
pub(super) fn position_independent(slots: &[Slot]) -> bool {
    let len = 4 * slots.len() as u32;
    !slots
        .iter()
        .enumerate()
        .any(|(i, s)| matches!(s, Slot::Inst(inst) if refers_outside(inst, 4 * i as u32, len)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::isa::Cond;

    /// Every pc-relative kind is judged by where it lands: inside the function (the first and
    /// the last byte) it stays with the code, one byte out either side it does not; an `adrp`
    /// never does, and an instruction with no pc-relative operand always does.
    #[test]
    fn each_pc_relative_kind_refers_outside_only_past_the_function() {
        let uses = |offset| {
            [
                Inst::B { offset },
                Inst::Bl { offset },
                Inst::BCond {
                    cond: Cond::Ne,
                    offset,
                },
                Inst::Cbz {
                    rt: 1,
                    nonzero: true,
                    offset,
                },
                Inst::Tbz {
                    rt: 1,
                    bit: 4,
                    nonzero: false,
                    offset,
                },
                Inst::LdrLit { rt: 16, offset },
            ]
        };
        let (at, len) = (8, 64);
        for (offset, outside) in [(-8, false), (52, false), (-12, true), (56, true)] {
            for inst in uses(offset) {
                assert_eq!(refers_outside(&inst, at, len), outside, "{inst:?}");
            }
        }
        let adrp = Inst::Adrp { rd: 16, pages: 0 };
        assert!(refers_outside(&adrp, at, len));
        assert!(!refers_outside(&Inst::Ret, at, len));
    }
}
