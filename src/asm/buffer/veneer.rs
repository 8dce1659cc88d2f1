//! Veneers for conditional branches (invariant 8): `b.cond`, `cbz` and `cbnz` reach ±1 MiB,
//! `tbz` and `tbnz` ±32 KiB, a function may be up to [`crate::layout::MAX_CODE`] long, and `b`
//! reaches ±128 MiB.

use super::{CodeBuffer, Dest, Label, LabelUse};
use crate::asm::encode::{Cond, Inst, Reg};

/// What a conditional branch tests, which fixes its instruction and its reach.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BranchTest {
    /// `b.<cond>`: the flags satisfy the condition (±1 MiB).
    Flags(Cond),
    /// `cbz` (`nonzero` false) or `cbnz`: register `rt` is zero, or is not (±1 MiB).
    Zero {
        /// The register tested.
        rt: Reg,
        /// Branch when it is not zero (`cbnz`).
        nonzero: bool,
    },
    /// `tbz` (`nonzero` false) or `tbnz`: bit `bit` of register `rt` is zero, or is not
    /// (±32 KiB).
    Bit {
        /// The register tested.
        rt: Reg,
        /// The bit, 0..=63.
        bit: u8,
        /// Branch when the bit is one (`tbnz`).
        nonzero: bool,
    },
}

impl BranchTest {
    /// The test that holds exactly when this one does not.
    pub fn invert(self) -> BranchTest {
        match self {
            BranchTest::Flags(c) => BranchTest::Flags(c.invert()),
            BranchTest::Zero { rt, nonzero } => BranchTest::Zero {
                rt,
                nonzero: !nonzero,
            },
            BranchTest::Bit { rt, bit, nonzero } => BranchTest::Bit {
                rt,
                bit,
                nonzero: !nonzero,
            },
        }
    }

    /// The branch, `offset` bytes from itself.
    fn inst(self, offset: i32) -> Inst {
        match self {
            BranchTest::Flags(cond) => Inst::BCond { cond, offset },
            BranchTest::Zero { rt, nonzero } => Inst::Cbz {
                rt,
                nonzero,
                offset,
            },
            BranchTest::Bit { rt, bit, nonzero } => Inst::Tbz {
                rt,
                bit,
                nonzero,
                offset,
            },
        }
    }

    /// The label-use kind of its offset, which owns its reach.
    fn kind(self) -> LabelUse {
        match self {
            BranchTest::Flags(_) | BranchTest::Zero { .. } => LabelUse::Branch19,
            BranchTest::Bit { .. } => LabelUse::Test14,
        }
    }
}

/// Worst-case bytes of a veneer island for `n` conditional branches: a `b` over the island and
/// one `b` per branch.
fn veneer_island_bound(n: usize) -> i64 {
    4 + 4 * n as i64
}

impl CodeBuffer {
    /// Append `b.<cond> label` (invariant 8): [`CodeBuffer::branch_if`] on the flags.
    pub fn branch_cond(&mut self, cond: Cond, label: Label) {
        self.branch_if(BranchTest::Flags(cond), label);
    }

    /// Append a branch to `label` taken when `test` holds (invariant 8).
    ///
    /// Post-invariant: a label already bound out of the test's reach (a loop's back edge over
    /// more than 1 MiB, or 32 KiB for `tbz`) is reached by the inverted test over a `b`
    /// (`<!test> +8; b label`); any other use is the plain branch, and one to a label not bound
    /// yet is recorded, so that [`CodeBuffer::reserve`] retargets it to a veneer before it could
    /// go out of range.
    pub fn branch_if(&mut self, test: BranchTest, label: Label) {
        if let Some(to) = self.label_offset(label) {
            let delta = i64::from(to) - i64::from(self.offset());
            if !test.kind().in_range(delta) {
                self.push(test.invert().inst(8));
                self.push_use(Inst::B { offset: 0 }, label, LabelUse::Branch26);
                self.sizes.veneers += 1;
                return;
            }
        } else {
            self.cond_uses.push(self.fixups.len());
        }
        self.push_use(test.inst(0), label, test.kind());
    }

    /// The earliest offset a pending forward conditional branch can still reach (each by its own
    /// kind's reach), forgetting the ones whose label has been bound (those are resolved, and in
    /// range: see [`CodeBuffer::reserve_veneers`]).
    fn veneer_deadline(&mut self) -> Option<i64> {
        let (labels, fixups) = (&self.labels, &self.fixups);
        self.cond_uses
            .retain(|&i| matches!(fixups[i].to, Dest::Label(l) if labels[l.0 as usize].is_none()));
        self.cond_uses
            .iter()
            .map(|&i| i64::from(self.fixups[i].at) + self.fixups[i].kind.max_forward())
            .min()
    }

    /// Place a veneer island now if emitting `bytes` more bytes and an island of up to `island`
    /// bytes could otherwise leave a pending forward conditional branch unable to reach a veneer placed at
    /// the next call.
    ///
    /// Post-invariant: every pending forward conditional branch can reach the end of a veneer island
    /// placed at the next reservation (one per pending use and per word of `bytes`), so no
    /// use ever goes out of range: each is bound in range or retargeted to a veneer in range.
    pub(super) fn reserve_veneers(&mut self, bytes: u32, island: i64) {
        let Some(deadline) = self.veneer_deadline() else {
            return;
        };
        let next = self.cond_uses.len() + bytes as usize / 4;
        let worst_end =
            i64::from(self.offset()) + i64::from(bytes) + island + veneer_island_bound(next);
        if worst_end > deadline {
            self.place_veneers();
        }
    }

    /// One veneer `b label` per pending forward conditional branch, which is retargeted to it; the island
    /// starts with a `b` over itself unless it follows a terminator (invariant 3's rule for code
    /// that is not on the fall-through path).
    fn place_veneers(&mut self) {
        let uses = std::mem::take(&mut self.cond_uses);
        let skip = (!self.after_terminator()).then(|| {
            let l = self.new_label();
            self.push_use(Inst::B { offset: 0 }, l, LabelUse::Branch26);
            l
        });
        for i in uses {
            let Dest::Label(target) = self.fixups[i].to else {
                unreachable!("a conditional branch to an absolute address")
            };
            let veneer = self.new_label();
            self.bind(veneer);
            self.push_use(Inst::B { offset: 0 }, target, LabelUse::Branch26);
            self.fixups[i].to = Dest::Label(veneer);
            self.sizes.veneers += 1;
        }
        if let Some(l) = skip {
            self.bind(l);
        }
    }
}
