//! The literal pool (invariant 2 and 3): loads, islands and the final pool.

use super::{CodeBuffer, LabelUse, PendingConst, PoolPlacement};
use crate::asm::encode::{Inst, Reg};

/// Worst-case bytes of an island holding `n` entries (branch, padding, entries).
fn island_bound(n: usize) -> i64 {
    8 + 8 * n as i64
}

impl CodeBuffer {
    /// Emit a load of `value` into `rt` from the pool (invariant 2): `ldr rt, <literal>`.
    pub fn load_const(&mut self, rt: Reg, value: u64) {
        if self.placement == PoolPlacement::AfterCode {
            let label = match self.pending.iter().find(|p| p.value == value) {
                Some(p) => p.label,
                None => {
                    let label = self.new_label();
                    let first_use = self.offset();
                    self.pending.push(PendingConst {
                        value,
                        label,
                        first_use,
                    });
                    label
                }
            };
            self.push_use(Inst::LdrLit { rt, offset: 0 }, label, LabelUse::Ldr19);
            return;
        }
        let here = self.offset();
        if let Some(&at) = self.placed.get(&value) {
            if LabelUse::Ldr19.in_range(i64::from(at) - i64::from(here)) {
                let mut offset = at as i32 - here as i32;
                if self.faults.literal_offset_plus_4 {
                    offset += 4;
                }
                self.push(Inst::LdrLit { rt, offset });
                return;
            }
        }
        let label = match self.pending.iter().find(|p| p.value == value) {
            Some(p) => p.label,
            None => {
                let label = self.new_label();
                self.pending.push(PendingConst {
                    value,
                    label,
                    first_use: here,
                });
                let given = match self.last_added {
                    Some(prev) if self.faults.stale_dedup => prev,
                    _ => label,
                };
                self.last_added = Some(label);
                given
            }
        };
        self.push_use(Inst::LdrLit { rt, offset: 0 }, label, LabelUse::Ldr19);
    }

    /// Make room for up to `bytes` more bytes of code (and at most `bytes / 4` new pool entries),
    /// placing an island first if that is needed to keep invariant 2.
    /// Places a veneer island first when a pending forward `b.cond` needs one (invariant 8).
    pub fn reserve(&mut self, bytes: u32) {
        let islands = !self.faults.skip_islands && self.placement == PoolPlacement::Islands;
        let island = if islands && !self.pending.is_empty() {
            island_bound(self.pending.len() + (bytes as usize / 4))
        } else {
            0
        };
        self.reserve_veneers(bytes, island);
        if !islands {
            return;
        }
        let Some(first) = self.pending.iter().map(|p| p.first_use).min() else {
            return;
        };
        let worst_end = i64::from(self.offset()) + i64::from(bytes) + island;
        if worst_end - i64::from(first) > LabelUse::Ldr19.max_forward() {
            self.place_pool(false);
        }
    }

    /// Place every pending entry here. `final_pool` is true for the pool after the epilogue.
    pub(super) fn place_pool(&mut self, final_pool: bool) {
        if self.pending.is_empty() {
            return;
        }
        let start = self.offset();
        let skip = if !final_pool && !self.after_terminator() && !self.faults.island_on_fallthrough
        {
            let l = self.new_label();
            self.push_use(Inst::B { offset: 0 }, l, LabelUse::Branch26);
            Some(l)
        } else {
            None
        };
        if self.offset().is_multiple_of(8) == self.faults.misalign_pool {
            self.push_data(0);
        }
        let pending = std::mem::take(&mut self.pending);
        let n = pending.len();
        for (i, p) in pending.into_iter().enumerate() {
            self.bind(p.label);
            self.placed.insert(p.value, self.offset());
            if final_pool && i + 1 == n && self.faults.drop_last_entry {
                continue;
            }
            let at = self.offset();
            self.push_quad(p.value);
            match self.pool.last_mut() {
                Some(r) if r.end == at => r.end += 8,
                _ => self.pool.push(at..at + 8),
            }
            self.sizes.pool_entries += 1;
        }
        if let Some(l) = skip {
            self.bind(l);
        }
        if !final_pool {
            self.sizes.islands += 1;
        }
        self.sizes.pool += u64::from(self.offset() - start);
    }

    /// Bytes of code and final pool [`CodeBuffer::finish`] would produce now (stubs not
    /// included): the code so far, the pool's alignment padding and its pending entries.
    pub fn code_and_pool_len(&self) -> u32 {
        let pad = if self.pending.is_empty() || self.offset().is_multiple_of(8) {
            0
        } else {
            4
        };
        self.offset() + pad + 8 * self.pending.len() as u32
    }
}
