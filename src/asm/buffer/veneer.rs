//! Veneers for conditional branches (invariant 8): a `b.cond` reaches ±1 MiB, a function may be
//! up to [`crate::layout::MAX_CODE`] long, and `b` reaches ±128 MiB.

use super::{CodeBuffer, Dest, Label, LabelUse};
use crate::asm::encode::{Cond, Inst};

/// Worst-case bytes of a veneer island for `n` conditional branches: a `b` over the island and
/// one `b` per branch.
fn veneer_island_bound(n: usize) -> i64 {
    4 + 4 * n as i64
}

impl CodeBuffer {
    /// Append `b.<cond> label` (invariant 8).
    ///
    /// Post-invariant: a label already bound out of `b.cond` range (a loop's back edge over more
    /// than 1 MiB) is reached by `b.<!cond> +8; b label`; any other use is a plain `b.cond`, and
    /// one to a label not bound yet is recorded, so that [`CodeBuffer::reserve`] retargets it to
    /// a veneer before it could go out of range.
    pub fn branch_cond(&mut self, cond: Cond, label: Label) {
        if let Some(to) = self.label_offset(label) {
            let delta = i64::from(to) - i64::from(self.offset());
            if !LabelUse::Branch19.in_range(delta) {
                let over = Inst::BCond {
                    cond: cond.invert(),
                    offset: 8,
                };
                self.push(over);
                self.push_use(Inst::B { offset: 0 }, label, LabelUse::Branch26);
                self.sizes.veneers += 1;
                return;
            }
        } else {
            self.cond_uses.push(self.fixups.len());
        }
        self.push_use(Inst::BCond { cond, offset: 0 }, label, LabelUse::Branch19);
    }

    /// The earliest offset a pending forward `b.cond` can still reach, forgetting the ones whose
    /// label has been bound (those are resolved, and in range: see [`CodeBuffer::reserve_veneers`]).
    fn veneer_deadline(&mut self) -> Option<i64> {
        let (labels, fixups) = (&self.labels, &self.fixups);
        self.cond_uses
            .retain(|&i| matches!(fixups[i].to, Dest::Label(l) if labels[l.0 as usize].is_none()));
        self.cond_uses
            .iter()
            .map(|&i| i64::from(self.fixups[i].at) + LabelUse::Branch19.max_forward())
            .min()
    }

    /// Place a veneer island now if emitting `bytes` more bytes and an island of up to `island`
    /// bytes could otherwise leave a pending forward `b.cond` unable to reach a veneer placed at
    /// the next call.
    ///
    /// Post-invariant: every pending forward `b.cond` can reach the end of a veneer island
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

    /// One veneer `b label` per pending forward `b.cond`, which is retargeted to it; the island
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
