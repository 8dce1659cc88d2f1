//! The code buffer strategies emit into: instructions, labels with ranged uses, a literal pool
//! (with islands, or after all the code), and per-target call stubs.
//!
//! # Invariants (all of them, in one place)
//!
//! 1. **Label uses carry their range.** Every pc-relative reference to a label or to an absolute
//!    address is recorded as a `Fixup` with a [`LabelUse`] kind, which owns its range and its
//!    patching. [`LabelUse::max_forward`] / [`LabelUse::max_backward`] are the exact encodable
//!    byte ranges (`b`/`bl`: +128 MiB-4 / -128 MiB; `b.cond`, `cbz`/`cbnz` and `ldr` literal:
//!    +1 MiB-4 / -1 MiB; `tbz`/`tbnz`: +32 KiB-4 / -32 KiB). [`CodeBuffer::finish`] resolves every fixup against the final layout and fails
//!    with [`EmitError::OutOfRange`] rather than truncate an offset. A direct `bl` to an absolute
//!    address ([`CodeBuffer::bl_abs`]) is a fixup too, resolved from where the `bl` lands. The
//!    one exception is `adrp` (strategy `adrp`): its page offset to an absolute address is
//!    computed by the strategy from [`CodeBuffer::pc`], which invariant 6 keeps true, and pushed
//!    as a finished instruction; invariant 7 makes any such function position-dependent, and the
//!    static check proves each one reaches its target.
//! 2. **Pool entries are 8-byte aligned, de-duplicated and in range.** The pool is placed in one
//!    of two ways ([`PoolPlacement`]):
//!    * *Islands* (strategy `pool`). A literal use either reuses an already placed entry for the
//!      same value that is still within backward range, reuses the pending (not yet placed)
//!      entry for the value, or adds one. Each pending entry remembers its first use;
//!      [`CodeBuffer::reserve`] is called before every operation with an upper bound of the bytes
//!      about to be emitted, and places an *island* when waiting any longer could leave a
//!      pending entry out of forward range. The bound it uses for the island is the worst case
//!      (branch + padding + every pending entry + one more entry per 4 reserved bytes, the most
//!      new entries those bytes can hold uses of).
//!    * *After the code* (strategy `pool+bl`, the shape CinderX's literal-pool patch ships): no
//!      islands; one entry per value in first-use order, after all of the function's code, 8-byte
//!      aligned with zero padding, each use a plain `ldr xt, <literal>`. The buffer does not
//!      keep these in range by itself: every use is in range when the code and pool
//!      ([`CodeBuffer::code_and_pool_len`]) are under 1 MiB, and a strategy with this placement
//!      must not emit a function that is not ([`crate::emit::strategy::Strategy::size_fallback`],
//!      the patch's rule); [`CodeBuffer::finish`] reports a use out of range as an error.
//! 3. **Pool data is never on a fall-through path.** An island starts with `b` over itself unless
//!    the previous instruction is a terminator (`b`, `br`, `ret`, `brk`); the final pool is placed
//!    after the function's `ret`. Data words are recorded in [`Finished::data`] so
//!    checkers and disassemblers never decode them as code; the 8-byte entries themselves (not
//!    padding, not stubs) in [`Finished::pool`].
//! 4. **Stubs are per target and out of line.** `bl` uses a stub label (±128 MiB); stubs are placed
//!    after the final pool, each 8-byte aligned: `ldr x16, [pc+8]; br x16; .quad target`.
//! 5. **Call sequences clobber only x16/x17 (and x30 by the link).** Strategies are given no other
//!    scratch register; the checker in [`crate::oracle::check`] verifies it statically, and every
//!    helper's call-log record (`x0..x15` at entry) against the reference evaluation dynamically.
//! 6. **Code never moves.** A slot's offset is final once pushed, so an offset a strategy
//!    computes from [`CodeBuffer::pc`] stays true.
//! 7. **A finished function knows whether it can move.** [`Finished::position_independent`] is
//!    derived from every pc-relative slot, label use or not: one that refers outside the
//!    function (or any `adrp`) makes the code position-dependent.
//!
//! 8. **Conditional branches reach through veneers.** A conditional branch
//!    ([`CodeBuffer::branch_if`]: `b.cond`, `cbz`/`cbnz` ±1 MiB, `tbz`/`tbnz` ±32 KiB, each
//!    [`BranchTest`]'s kind owning its reach) to a label already bound beyond its reach becomes
//!    the inverted test over a `b` (`<!test> +8; b label`); one to a label not yet bound is
//!    pending, and [`CodeBuffer::reserve`] places a *veneer island* (a `b` over it unless after a
//!    terminator, then one `b label` per pending use, each use retargeted to its veneer) when
//!    waiting until the next reservation could leave a pending use unable to reach the island.
//!    Deadlines are kept incrementally: only uses whose label is unbound are tracked, and the
//!    earliest `offset + reach` decides. `b` reaches the whole function (a function is at most
//!    64 MiB, [`crate::layout::MAX_CODE`]).
//!
//! The buffer's debug knobs, `Faults`, deliberately break invariants 1 to 5 for the planted bugs
//! ([`crate::planted`]) that prove the oracles catch them; a buffer made by [`CodeBuffer::new`]
//! has none.

mod error;
mod faults;
mod finished;
mod pool;
mod veneer;

pub use error::EmitError;
pub(crate) use faults::Faults;
pub use finished::{Finished, SizeBreakdown};
pub use veneer::BranchTest;

use crate::asm::encode::{Inst, X16};
use std::collections::HashMap;
use std::ops::Range;

/// One 4-byte slot of the buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Slot {
    /// An instruction.
    Inst(Inst),
    /// A data word (half of a pool entry or stub literal, or alignment padding).
    Data(u32),
}

/// A position in the buffer, bound once.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Label(u32);

/// The kind of a pc-relative reference, which fixes its range.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LabelUse {
    /// `b` / `bl`: imm26 words.
    Branch26,
    /// `b.cond`, `cbz`, `cbnz`: imm19 words.
    Branch19,
    /// `tbz`, `tbnz`: imm14 words.
    Test14,
    /// `ldr` literal: imm19 words.
    Ldr19,
}

/// Where a buffer's literal pool goes (invariant 2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum PoolPlacement {
    /// Islands within `ldr` range of every use, and a final pool after the code.
    #[default]
    Islands,
    /// One pool after all of the code, no islands (the function must be under 1 MiB).
    AfterCode,
}

impl LabelUse {
    /// Largest forward byte offset.
    pub const fn max_forward(self) -> i64 {
        match self {
            LabelUse::Branch26 => (1 << 27) - 4,
            LabelUse::Branch19 | LabelUse::Ldr19 => (1 << 20) - 4,
            LabelUse::Test14 => (1 << 15) - 4,
        }
    }

    /// Largest backward byte offset (as a positive number).
    pub const fn max_backward(self) -> i64 {
        match self {
            LabelUse::Branch26 => 1 << 27,
            LabelUse::Branch19 | LabelUse::Ldr19 => 1 << 20,
            LabelUse::Test14 => 1 << 15,
        }
    }

    /// The kind and byte offset of a pc-relative use in a finished slot (`b`/`bl`, `b.cond`,
    /// `cbz`/`cbnz`, `tbz`/`tbnz`, `ldr` literal), none for any other instruction.
    pub fn of(inst: &Inst) -> Option<(LabelUse, i32)> {
        Some(match *inst {
            Inst::B { offset } | Inst::Bl { offset } => (LabelUse::Branch26, offset),
            Inst::BCond { offset, .. } | Inst::Cbz { offset, .. } => (LabelUse::Branch19, offset),
            Inst::Tbz { offset, .. } => (LabelUse::Test14, offset),
            Inst::LdrLit { offset, .. } => (LabelUse::Ldr19, offset),
            _ => return None,
        })
    }

    fn in_range(self, delta: i64) -> bool {
        delta <= self.max_forward() && -delta <= self.max_backward()
    }

    /// `inst` (a use of this kind) with its offset field set to `delta` bytes, already checked
    /// to be in range.
    fn patch(self, inst: Inst, delta: i32) -> Inst {
        match (self, inst) {
            (LabelUse::Branch26, Inst::B { .. }) => Inst::B { offset: delta },
            (LabelUse::Branch26, Inst::Bl { .. }) => Inst::Bl { offset: delta },
            (LabelUse::Branch19, Inst::BCond { cond, .. }) => Inst::BCond {
                cond,
                offset: delta,
            },
            (LabelUse::Ldr19, Inst::LdrLit { rt, .. }) => Inst::LdrLit { rt, offset: delta },
            (LabelUse::Branch19, Inst::Cbz { rt, nonzero, .. }) => Inst::Cbz {
                rt,
                nonzero,
                offset: delta,
            },
            (
                LabelUse::Test14,
                Inst::Tbz {
                    rt, bit, nonzero, ..
                },
            ) => Inst::Tbz {
                rt,
                bit,
                nonzero,
                offset: delta,
            },
            (kind, other) => unreachable!("{kind:?} use on {other:?}"),
        }
    }
}

/// What a fixup refers to.
#[derive(Clone, Copy, Debug)]
enum Dest {
    /// A label of this buffer.
    Label(Label),
    /// An absolute address (a direct `bl` to a helper).
    Abs(u64),
}

/// A pending pc-relative reference.
#[derive(Clone, Copy, Debug)]
struct Fixup {
    at: u32,
    to: Dest,
    kind: LabelUse,
}

/// A pool entry that has been referenced but not yet placed.
#[derive(Clone, Copy, Debug)]
struct PendingConst {
    value: u64,
    label: Label,
    first_use: u32,
}

/// The buffer. Offsets are bytes from the start of the function.
pub struct CodeBuffer {
    base: u64,
    slots: Vec<Slot>,
    labels: Vec<Option<u32>>,
    fixups: Vec<Fixup>,
    data: Vec<Range<u32>>,
    pending: Vec<PendingConst>,
    placed: HashMap<u64, u32>,
    last_added: Option<Label>,
    stubs: Vec<(u64, Label)>,
    sizes: SizeBreakdown,
    faults: Faults,
    placement: PoolPlacement,
    /// Byte ranges of placed pool entries.
    pool: Vec<Range<u32>>,
    /// Indices into `fixups` of forward conditional-branch uses whose label was unbound
    /// (invariant 8).
    cond_uses: Vec<usize>,
}

impl CodeBuffer {
    /// An empty buffer whose first byte will live at `base`.
    pub fn new(base: u64) -> Self {
        CodeBuffer::with_faults(base, Faults::default())
    }

    /// An empty buffer with deliberate breakages switched on (planted bugs only).
    pub(crate) fn with_faults(base: u64, faults: Faults) -> Self {
        CodeBuffer {
            base,
            slots: Vec::new(),
            labels: Vec::new(),
            fixups: Vec::new(),
            data: Vec::new(),
            pending: Vec::new(),
            placed: HashMap::new(),
            last_added: None,
            stubs: Vec::new(),
            sizes: SizeBreakdown::default(),
            faults,
            placement: PoolPlacement::Islands,
            pool: Vec::new(),
            cond_uses: Vec::new(),
        }
    }

    /// Choose where the literal pool goes (invariant 2); before any literal is used.
    pub fn set_pool_placement(&mut self, p: PoolPlacement) {
        assert!(
            self.pending.is_empty() && self.placed.is_empty(),
            "pool placement chosen after a literal use"
        );
        self.placement = p;
    }

    /// Current byte offset.
    pub fn offset(&self) -> u32 {
        (self.slots.len() * 4) as u32
    }

    /// Absolute address of the next instruction.
    pub fn pc(&self) -> u64 {
        self.base + u64::from(self.offset())
    }

    /// Append one instruction.
    pub fn push(&mut self, i: Inst) {
        self.slots.push(Slot::Inst(i));
    }

    /// Append several instructions.
    pub fn push_all(&mut self, insts: &[Inst]) {
        for &i in insts {
            self.push(i);
        }
    }

    fn push_data(&mut self, w: u32) {
        let at = self.offset();
        match self.data.last_mut() {
            Some(r) if r.end == at => r.end += 4,
            _ => self.data.push(at..at + 4),
        }
        self.slots.push(Slot::Data(w));
    }

    fn push_quad(&mut self, v: u64) {
        self.push_data(v as u32);
        self.push_data((v >> 32) as u32);
    }

    /// A new, unbound label.
    pub fn new_label(&mut self) -> Label {
        self.labels.push(None);
        Label(self.labels.len() as u32 - 1)
    }

    /// Bind `l` to the current offset.
    pub fn bind(&mut self, l: Label) {
        debug_assert!(self.labels[l.0 as usize].is_none(), "label bound twice");
        self.labels[l.0 as usize] = Some(self.offset());
    }

    /// Offset a label is bound to, if it is bound yet.
    pub fn label_offset(&self, l: Label) -> Option<u32> {
        self.labels[l.0 as usize]
    }

    /// Append `inst` (whose offset field is a placeholder) as a use of `label`.
    pub fn push_use(&mut self, inst: Inst, label: Label, kind: LabelUse) {
        self.fixups.push(Fixup {
            at: self.offset(),
            to: Dest::Label(label),
            kind,
        });
        self.slots.push(Slot::Inst(inst));
    }

    /// Append `bl target` for an absolute `target`, resolved from where the `bl` finally lands
    /// (invariant 1). The caller has checked the range at the current position (invariant 6);
    /// [`CodeBuffer::finish`] checks it again.
    pub fn bl_abs(&mut self, target: u64) {
        self.fixups.push(Fixup {
            at: self.offset(),
            to: Dest::Abs(target),
            kind: LabelUse::Branch26,
        });
        self.slots.push(Slot::Inst(Inst::Bl { offset: 0 }));
    }

    /// Was the last slot an instruction after which control never falls through?
    fn after_terminator(&self) -> bool {
        matches!(self.slots.last(), Some(Slot::Inst(i)) if i.is_terminator())
    }

    /// Emit `bl <stub for target>` (invariant 4).
    pub fn call_via_stub(&mut self, target: u64) {
        let label = match self.stubs.iter().find(|(t, _)| *t == target) {
            Some((_, l)) => *l,
            None => {
                let l = self.new_label();
                self.stubs.push((target, l));
                l
            }
        };
        self.push_use(Inst::Bl { offset: 0 }, label, LabelUse::Branch26);
    }

    /// Place the final pool and the stubs, resolve every label use, and return the slots.
    pub fn finish(mut self) -> Result<Finished, EmitError> {
        self.sizes.body = u64::from(self.offset()) - self.sizes.pool;
        self.place_pool(true);
        self.place_stubs();
        self.resolve_fixups()?;
        self.into_finished()
    }

    /// Place one stub per target, each 8-byte aligned (invariant 4).
    fn place_stubs(&mut self) {
        let start = self.offset();
        let stubs = std::mem::take(&mut self.stubs);
        for (i, &(target, label)) in stubs.iter().enumerate() {
            if !self.offset().is_multiple_of(8) {
                self.push_data(0);
            }
            self.bind(label);
            let offset = if self.faults.stub_ldr_pc_plus_4 { 4 } else { 8 };
            let scratch = if self.faults.stub_scratch_x8 { 8 } else { X16 };
            self.push(Inst::LdrLit {
                rt: scratch,
                offset,
            });
            self.push(Inst::Br { rn: scratch });
            let quad = if self.faults.stub_next_target {
                stubs[(i + 1) % stubs.len()].0
            } else {
                target
            };
            self.push_quad(quad);
            self.sizes.stub_count += 1;
        }
        self.sizes.stubs = u64::from(self.offset() - start);
    }

    /// Write every label use's offset into its slot (invariant 1).
    fn resolve_fixups(&mut self) -> Result<(), EmitError> {
        for f in std::mem::take(&mut self.fixups) {
            let mut delta = self.fixup_delta(&f)?;
            if f.kind == LabelUse::Ldr19 && self.faults.literal_offset_plus_4 {
                delta += 4;
            }
            let Slot::Inst(inst) = &mut self.slots[(f.at / 4) as usize] else {
                unreachable!("fixup on a data slot")
            };
            *inst = f.kind.patch(*inst, delta as i32);
        }
        Ok(())
    }

    /// The byte distance `f` must encode, checked against its kind's range.
    fn fixup_delta(&self, f: &Fixup) -> Result<i64, EmitError> {
        let target = match f.to {
            Dest::Label(l) => {
                let off = self.labels[l.0 as usize].expect("every used label is bound by finish");
                self.base + u64::from(off)
            }
            Dest::Abs(a) => a,
        };
        let delta = target.wrapping_sub(self.base + u64::from(f.at)) as i64;
        if f.kind.in_range(delta) {
            Ok(delta)
        } else if self.faults.skip_islands && f.kind == LabelUse::Ldr19 {
            // The fault: keep only the low 19 bits of the word offset.
            Ok((((delta / 4) << 45) >> 45) * 4)
        } else {
            Err(EmitError::OutOfRange {
                at: f.at,
                delta,
                kind: f.kind,
            })
        }
    }

    /// Encode the slots (invariant 7 derived from them).
    fn into_finished(self) -> Result<Finished, EmitError> {
        let mut bytes = Vec::with_capacity(self.slots.len() * 4);
        for s in &self.slots {
            let w = match s {
                Slot::Inst(i) => i.encode()?,
                Slot::Data(w) => *w,
            };
            bytes.extend_from_slice(&w.to_le_bytes());
        }
        if bytes.len() as u64 > crate::layout::MAX_CODE {
            return Err(EmitError::TooLarge(bytes.len() as u64));
        }
        let position_independent = finished::position_independent(&self.slots);
        Ok(Finished {
            position_independent,
            base: self.base,
            slots: self.slots,
            bytes,
            data: self.data,
            pool: self.pool,
            sizes: self.sizes,
        })
    }
}

#[cfg(test)]
mod tests;
