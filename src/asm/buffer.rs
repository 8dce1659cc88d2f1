//! The code buffer strategies emit into: instructions, labels with ranged uses, a literal pool
//! (with islands, or after all the code), and per-target call stubs.
//!
//! # Invariants (all of them, in one place)
//!
//! 1. **Label uses carry their range.** Every pc-relative reference to a label or to an absolute
//!    address is recorded as a `Fixup` with a [`LabelUse`] kind, which owns its range and its
//!    patching. [`LabelUse::max_forward`] / [`LabelUse::max_backward`] are the exact encodable
//!    byte ranges (`b`/`bl`: +128 MiB-4 / -128 MiB; `b.cond` and `ldr` literal: +1 MiB-4 /
//!    -1 MiB). [`CodeBuffer::finish`] resolves every fixup against the final layout and fails
//!    with [`EmitError::OutOfRange`] rather than truncate an offset. A direct `bl` to an absolute
//!    address ([`CodeBuffer::bl_abs`]) is a fixup too, resolved from where the `bl` lands.
//! 2. **Pool entries are 8-byte aligned, de-duplicated and in range.** The pool is placed in one
//!    of two ways ([`PoolPlacement`]):
//!    * *Islands* (strategy `pool`). A literal use either reuses an already placed entry for the
//!      same value that is still within backward range, reuses the pending (not yet placed)
//!      entry for the value, or adds one. Each pending entry remembers its first use;
//!      [`CodeBuffer::reserve`] is called before every operation with an upper bound of the bytes
//!      about to be emitted, and places an *island* when waiting any longer could leave a
//!      pending entry out of forward range. The bound it uses for the island is the worst case
//!      (branch + padding + every pending entry + one more entry per reserved call).
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
//!    scratch register; the checker in [`crate::oracle::check`] verifies it.
//! 6. **Code never moves.** A slot's offset is final once pushed, so an offset a strategy
//!    computes from [`CodeBuffer::pc`] stays true.
//! 7. **A finished function knows whether it can move.** [`Finished::position_independent`] is
//!    derived from every pc-relative slot, label use or not: one that refers outside the
//!    function (or any `adrp`) makes the code position-dependent.
//!
//! The buffer's debug knobs, [`Faults`], deliberately break 2, 3 and 4 for the planted bugs
//! ([`crate::planted`]) that prove the oracles catch them; a buffer made by [`CodeBuffer::new`]
//! has none.

use crate::asm::encode::{EncodeError, Inst, Reg};
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
    /// `b.cond`: imm19 words.
    Branch19,
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
    pub fn max_forward(self) -> i64 {
        match self {
            LabelUse::Branch26 => (1 << 27) - 4,
            LabelUse::Branch19 | LabelUse::Ldr19 => (1 << 20) - 4,
        }
    }

    /// Largest backward byte offset (as a positive number).
    pub fn max_backward(self) -> i64 {
        match self {
            LabelUse::Branch26 => 1 << 27,
            LabelUse::Branch19 | LabelUse::Ldr19 => 1 << 20,
        }
    }

    fn in_range(self, delta: i64) -> bool {
        delta <= self.max_forward() && -delta <= self.max_backward()
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

/// Errors from emission.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EmitError {
    /// A label use could not reach its label.
    OutOfRange {
        /// Byte offset of the using instruction.
        at: u32,
        /// Byte distance to the label.
        delta: i64,
        /// The kind of use.
        kind: LabelUse,
    },
    /// An instruction field was out of range.
    Encode(EncodeError),
    /// The emitted code exceeds the layout's code region.
    TooLarge(u64),
    /// A helper's page overlaps the emitted code.
    HelperOverlap {
        /// Helper id.
        helper: u16,
        /// Helper address.
        addr: u64,
    },
}

impl std::fmt::Display for EmitError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EmitError::OutOfRange { at, delta, kind } => {
                write!(
                    f,
                    "{kind:?} use at offset {at:#x} cannot reach its label {delta:+} bytes away"
                )
            }
            EmitError::Encode(e) => write!(f, "encoding failed: {e}"),
            EmitError::TooLarge(n) => {
                write!(f, "emitted code is {n} bytes, larger than the code region")
            }
            EmitError::HelperOverlap { helper, addr } => {
                write!(
                    f,
                    "helper h{helper} at {addr:#x} shares a 64 KiB page with the emitted code"
                )
            }
        }
    }
}

impl std::error::Error for EmitError {}

impl From<EncodeError> for EmitError {
    fn from(e: EncodeError) -> Self {
        EmitError::Encode(e)
    }
}

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
}

/// Deliberate breakages of the buffer's invariants, each named for what it breaks; all off by
/// default. Only [`crate::planted`] turns them on ([`CodeBuffer::with_faults`]), to prove the
/// oracles catch each one.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Faults {
    /// Every `ldr` literal points 4 bytes past its entry (invariant 2).
    pub literal_offset_plus_4: bool,
    /// A newly added value is given the previously added value's entry (invariant 2).
    pub stale_dedup: bool,
    /// No islands are placed, and out-of-range literal offsets are truncated (invariant 2).
    pub skip_islands: bool,
    /// Islands are placed without a branch over them (invariant 3).
    pub island_on_fallthrough: bool,
    /// Pool entries start 4 bytes past an 8-byte boundary (invariant 2).
    pub misalign_pool: bool,
    /// The last entry of the final pool is not written (invariant 2).
    pub drop_last_entry: bool,
    /// Each stub's `ldr x16, [pc+8]` is written as `[pc+4]` (invariant 4).
    pub stub_ldr_pc_plus_4: bool,
    /// Each stub's `.quad` holds the next stub's target (invariant 4).
    pub stub_next_target: bool,
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
}

/// Worst-case bytes of an island holding `n` entries (branch, padding, entries).
fn island_bound(n: usize) -> i64 {
    8 + 8 * n as i64
}

impl CodeBuffer {
    /// An empty buffer whose first byte will live at `base`.
    pub fn new(base: u64) -> Self {
        CodeBuffer::with_faults(base, Faults::default())
    }

    /// An empty buffer with deliberate breakages switched on (planted bugs only).
    pub fn with_faults(base: u64, faults: Faults) -> Self {
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

    /// Address of byte 0.
    pub fn base(&self) -> u64 {
        self.base
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

    /// Make room for up to `bytes` more bytes of code (and at most `bytes / 4` new pool entries),
    /// placing an island first if that is needed to keep invariant 2.
    pub fn reserve(&mut self, bytes: u32) {
        if self.faults.skip_islands || self.placement == PoolPlacement::AfterCode {
            return;
        }
        let Some(first) = self.pending.iter().map(|p| p.first_use).min() else {
            return;
        };
        let worst_end = i64::from(self.offset())
            + i64::from(bytes)
            + island_bound(self.pending.len() + (bytes as usize / 4));
        if worst_end - i64::from(first) > LabelUse::Ldr19.max_forward() {
            self.place_pool(false);
        }
    }

    /// Place every pending entry here. `final_pool` is true for the pool after the epilogue.
    fn place_pool(&mut self, final_pool: bool) {
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

    /// Place the final pool and the stubs, resolve every label use, and return the slots.
    pub fn finish(mut self) -> Result<Finished, EmitError> {
        self.sizes.body = u64::from(self.offset()) - self.sizes.pool;
        self.place_pool(true);
        let stubs_start = self.offset();
        let stubs = std::mem::take(&mut self.stubs);
        for (i, &(target, label)) in stubs.iter().enumerate() {
            if !self.offset().is_multiple_of(8) {
                self.push_data(0);
            }
            self.bind(label);
            let off = if self.faults.stub_ldr_pc_plus_4 { 4 } else { 8 };
            self.push(Inst::LdrLit {
                rt: crate::asm::encode::X16,
                offset: off,
            });
            self.push(Inst::Br {
                rn: crate::asm::encode::X16,
            });
            let quad = if self.faults.stub_next_target {
                stubs[(i + 1) % stubs.len()].0
            } else {
                target
            };
            self.push_quad(quad);
            self.sizes.stub_count += 1;
        }
        self.sizes.stubs = u64::from(self.offset() - stubs_start);
        let truncate = self.faults.skip_islands;
        let fixups = std::mem::take(&mut self.fixups);
        for f in &fixups {
            let target = match f.to {
                Dest::Label(l) => {
                    let off =
                        self.labels[l.0 as usize].expect("every used label is bound by finish");
                    self.base + u64::from(off)
                }
                Dest::Abs(a) => a,
            };
            let pc = self.base + u64::from(f.at);
            let delta = target.wrapping_sub(pc) as i64;
            let delta = if f.kind.in_range(delta) {
                delta
            } else if truncate && f.kind == LabelUse::Ldr19 {
                // The planted bug: keep only the low 19 bits of the word offset.
                let w = ((delta / 4) << 45) >> 45;
                w * 4
            } else {
                return Err(EmitError::OutOfRange {
                    at: f.at,
                    delta,
                    kind: f.kind,
                });
            };
            let slot = &mut self.slots[(f.at / 4) as usize];
            let Slot::Inst(inst) = slot else {
                unreachable!("fixup on a data slot")
            };
            let d = delta as i32;
            *inst = match *inst {
                Inst::B { .. } => Inst::B { offset: d },
                Inst::Bl { .. } => Inst::Bl { offset: d },
                Inst::BCond { cond, .. } => Inst::BCond { cond, offset: d },
                Inst::LdrLit { rt, .. } => {
                    let extra = if self.faults.literal_offset_plus_4 {
                        4
                    } else {
                        0
                    };
                    Inst::LdrLit {
                        rt,
                        offset: d + extra,
                    }
                }
                other => unreachable!("fixup on {other:?}"),
            };
        }
        let mut bytes = Vec::with_capacity(self.slots.len() * 4);
        for s in &self.slots {
            let w = match s {
                Slot::Inst(i) => i.encode()?,
                Slot::Data(w) => *w,
            };
            bytes.extend_from_slice(&w.to_le_bytes());
        }
        if bytes.len() as u64 > crate::machine::layout::MAX_CODE {
            return Err(EmitError::TooLarge(bytes.len() as u64));
        }
        let len = bytes.len() as u32;
        let position_independent =
            !self.slots.iter().enumerate().any(
                |(i, s)| matches!(s, Slot::Inst(inst) if refers_outside(inst, 4 * i as u32, len)),
            );
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
    let offset = match *inst {
        Inst::B { offset }
        | Inst::Bl { offset }
        | Inst::BCond { offset, .. }
        | Inst::LdrLit { offset, .. } => offset,
        Inst::Adrp { .. } => return true,
        _ => return false,
    };
    let to = i64::from(at) + i64::from(offset);
    !(0..i64::from(len)).contains(&to)
}

impl Finished {
    /// Is byte offset `off` inside a pool entry?
    pub fn is_pool(&self, off: u32) -> bool {
        self.pool.iter().any(|r| r.contains(&off))
    }

    /// Is byte offset `off` inside a data range?
    pub fn is_data(&self, off: u32) -> bool {
        self.data.iter().any(|r| r.contains(&off))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::asm::encode::X16;

    #[test]
    fn pool_is_deduplicated_aligned_and_after_code() {
        let mut b = CodeBuffer::new(0x1000_0000);
        b.load_const(X16, 0xAAAA);
        b.push(Inst::Blr { rn: X16 });
        b.load_const(X16, 0xBBBB);
        b.load_const(X16, 0xAAAA);
        b.push(Inst::Ret);
        let f = b.finish().unwrap();
        assert_eq!(f.sizes.pool_entries, 2);
        assert_eq!(f.sizes.body, 20);
        // ret at 16, pad at 20, entries at 24 and 32.
        assert_eq!(f.data, vec![20..40]);
        assert_eq!(
            f.slots[0],
            Slot::Inst(Inst::LdrLit {
                rt: X16,
                offset: 24
            })
        );
        assert_eq!(
            f.slots[2],
            Slot::Inst(Inst::LdrLit {
                rt: X16,
                offset: 24
            })
        );
        assert_eq!(
            f.slots[3],
            Slot::Inst(Inst::LdrLit {
                rt: X16,
                offset: 12
            })
        );
        assert_eq!(&f.bytes[24..32], &0xAAAAu64.to_le_bytes());
    }

    #[test]
    fn far_uses_get_an_island_with_a_branch_over_it() {
        let mut b = CodeBuffer::new(0x1000_0000);
        b.load_const(X16, 0x1234_5678);
        b.push(Inst::Blr { rn: X16 });
        for _ in 0..600_000 {
            b.reserve(8);
            b.push(Inst::Nop);
        }
        b.reserve(8);
        b.load_const(X16, 0x1234_5678);
        b.push(Inst::Ret);
        let f = b.finish().unwrap();
        assert_eq!(f.sizes.islands, 1);
        assert_eq!(
            f.sizes.pool_entries, 2,
            "the second use is out of range of the island entry"
        );
        for r in &f.data {
            let before = f.slots[(r.start / 4 - 1) as usize];
            assert!(
                matches!(before, Slot::Inst(i) if i.is_terminator()),
                "{r:?} after {before:?}"
            );
        }
    }

    /// A buffer with the pool after the code: `lead` nops, a load of 0x1234_5678 and `blr`,
    /// `fill` nops, `ret`; its [`CodeBuffer::code_and_pool_len`] and the finished result.
    fn after_code(lead: u32, fill: u32) -> (u32, Result<Finished, EmitError>) {
        let mut b = CodeBuffer::new(0x1000_0000);
        b.set_pool_placement(PoolPlacement::AfterCode);
        for _ in 0..lead {
            b.push(Inst::Nop);
        }
        b.load_const(X16, 0x1234_5678);
        b.push(Inst::Blr { rn: X16 });
        for _ in 0..fill {
            b.push(Inst::Nop);
        }
        b.push(Inst::Ret);
        (b.code_and_pool_len(), b.finish())
    }

    /// Where the `ldr` literal at `at` reads (byte offset).
    fn literal_of(f: &Finished, at: u32) -> u32 {
        match f.slots[(at / 4) as usize] {
            Slot::Inst(Inst::LdrLit { offset, .. }) => (at as i32 + offset) as u32,
            other => panic!("no literal load at {at:#x}: {other:?}"),
        }
    }

    #[test]
    fn pool_after_code_is_one_aligned_pool_after_the_ret() {
        let mut b = CodeBuffer::new(0x1000_0000);
        b.set_pool_placement(PoolPlacement::AfterCode);
        b.load_const(X16, 0xAAAA);
        b.push(Inst::Blr { rn: X16 });
        for _ in 0..1000 {
            b.reserve(8);
            b.push(Inst::Nop);
        }
        b.load_const(X16, 0xBBBB);
        b.push(Inst::Blr { rn: X16 });
        b.load_const(X16, 0xAAAA);
        b.push(Inst::Blr { rn: X16 });
        b.push(Inst::Ret);
        let len = b.code_and_pool_len();
        let f = b.finish().unwrap();
        assert_eq!(len as usize, f.bytes.len());
        assert_eq!((f.sizes.islands, f.sizes.pool_entries), (0, 2));
        assert_eq!(
            f.data.len(),
            1,
            "one pool, after all the code: {:?}",
            f.data
        );
        let pool = f.data[0].clone();
        assert_eq!(pool.end as usize, f.bytes.len());
        assert_eq!(f.pool, vec![pool.end - 16..pool.end]);
        assert!(f.pool[0].start.is_multiple_of(8));
        let ret = (pool.start / 4 - 1) as usize;
        assert_eq!(f.slots[ret], Slot::Inst(Inst::Ret));
        // First-use order, de-duplicated.
        let tail = 8 + 4 * 1000;
        assert_eq!(literal_of(&f, 0), f.pool[0].start);
        assert_eq!(literal_of(&f, tail), f.pool[0].start + 8);
        assert_eq!(literal_of(&f, tail + 8), f.pool[0].start);
        let lit = f.pool[0].start as usize;
        assert_eq!(&f.bytes[lit..lit + 8], &0xAAAAu64.to_le_bytes());
    }

    #[test]
    fn pool_after_code_reaches_exactly_1_mib_minus_4_and_reports_beyond() {
        const MIB: u32 = 1 << 20;
        // Load at 4; code ends at 1 MiB - 4, 4 bytes of zero padding: the literal at 1 MiB is
        // +1 MiB - 4 away, the farthest `ldr` reaches. Code and pool: 1 MiB + 8.
        let (len, f) = after_code(1, (MIB - 20) / 4);
        let f = f.unwrap();
        assert_eq!(len, MIB + 8);
        assert_eq!(literal_of(&f, 4), MIB, "ldr reaches +1 MiB - 4");
        assert_eq!(f.data, vec![MIB - 4..MIB + 8]);
        assert_eq!(&f.bytes[(MIB - 4) as usize..MIB as usize], &[0; 4]);
        // Load at 0, the same code: the literal is +1 MiB away, out of reach. The buffer does
        // not relax it (invariant 2): the strategy must not have emitted a function this large.
        let (len, f) = after_code(0, (MIB - 16) / 4);
        assert_eq!(len, MIB + 8);
        assert!(matches!(
            f,
            Err(EmitError::OutOfRange {
                at: 0,
                delta: 0x10_0000,
                kind: LabelUse::Ldr19
            })
        ));
    }

    #[test]
    fn out_of_range_is_an_error_not_a_truncation() {
        let mut b = CodeBuffer::new(0x1000_0000);
        let l = b.new_label();
        b.push_use(
            Inst::BCond {
                cond: crate::asm::encode::Cond::Eq,
                offset: 0,
            },
            l,
            LabelUse::Branch19,
        );
        for _ in 0..(1 << 18) {
            b.push(Inst::Nop);
        }
        b.bind(l);
        b.push(Inst::Ret);
        assert!(matches!(
            b.finish(),
            Err(EmitError::OutOfRange {
                kind: LabelUse::Branch19,
                ..
            })
        ));
    }
}
