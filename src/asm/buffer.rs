//! The code buffer strategies emit into: instructions, labels with ranged uses, a literal pool
//! (with islands, or after all the code with relaxed far loads), and per-target call stubs.
//!
//! # Invariants (all of them, in one place)
//!
//! 1. **Label uses carry their range.** Every pc-relative reference to a label or to an absolute
//!    address is recorded as a `Fixup` with a [`LabelUse`] kind, which owns its range and its
//!    patching. [`LabelUse::max_forward`] / [`LabelUse::max_backward`] are the exact encodable
//!    byte ranges (`b`/`bl`: +128 MiB-4 / -128 MiB; `b.cond` and `ldr` literal: +1 MiB-4 /
//!    -1 MiB); [`LabelUse::AdrpLdr`] (`adrp xt, page; ldr xt, [xt, #lo12]`, two slots) reaches
//!    any 8-byte-aligned literal whose 4 KiB page is within -2^20..2^20-1 pages of the `adrp`'s
//!    page ([`LabelUse::reaches`]). [`CodeBuffer::finish`] resolves every fixup against the final
//!    layout and fails with [`EmitError::OutOfRange`] (or [`EmitError::Misaligned`]) rather than
//!    truncate an offset. A direct `bl` to an absolute address ([`CodeBuffer::bl_abs`]) is a fixup
//!    too, so it is resolved from where the `bl` finally lands.
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
//!      aligned with zero padding. Every literal use is first emitted in its conservative 8-byte
//!      form, an [`LabelUse::AdrpLdr`] use; [`CodeBuffer::finish`] then *shrinks* to a plain
//!      `ldr xt, <literal>` ([`LabelUse::Ldr19`]) every use whose literal is within `ldr` range in
//!      the layout of that pass, pass after pass, until a pass shrinks nothing. This is
//!      CinderX's asmjit (`a64::Builder::relaxBranches`, second loop: every `ldr xt, [label]` is
//!      estimated at 8 bytes, then marked `kShortForm` wherever provably in reach; the rest are
//!      relocated as `kA64LdrLiteralEntry`). It terminates: each pass either shrinks at least
//!      one of the finitely many uses or ends the loop, and a use never grows back. Its result
//!      is exact for the final layout, both ways: (a) an 8-byte use is out of `ldr` range in the
//!      final layout, because the last pass measured that very layout and did not shrink it (so
//!      asmjit's third form, `ldr; nop` for an 8-byte use found in range at relocation, never
//!      arises here, where every size is exact); (b) a use shrunk in an earlier pass is still
//!      in range, because shrinking never moves a literal farther from a use: if `n` uses shrink
//!      after a use was measured (itself included, measured at 8 bytes) and `k` of them lie
//!      before it, the use moves back `4k` bytes and the pool start `align8(x-4n)-align8(x)
//!      <= 4-4n` bytes, so its distance changes by at most `4 - 4n + 4k <= 0` (`k < n`).
//!      [`Finished::new_offset`] maps offsets of the conservative layout to the final one.
//! 3. **Pool data is never on a fall-through path.** An island starts with `b` over itself unless
//!    the previous instruction is a terminator (`b`, `br`, `ret`, `brk`); the final pool is placed
//!    after the function's `ret`. Data words are recorded in [`Finished::data`] so
//!    checkers and disassemblers never decode them as code; the 8-byte entries themselves (not
//!    padding, not stubs) in [`Finished::pool`].
//! 4. **Stubs are per target and out of line.** `bl` uses a stub label (±128 MiB); stubs are placed
//!    after the final pool, each 8-byte aligned: `ldr x16, [pc+8]; br x16; .quad target`.
//! 5. **Call sequences clobber only x16/x17 (and x30 by the link).** Strategies are given no other
//!    scratch register; the checker in [`crate::oracle::check`] verifies it. The relaxed form loads
//!    through its own destination (`adrp x16; ldr x16, [x16, #lo12]`), so it needs no other.
//! 6. **Code moves only when uses shrink, and nothing pc-relative is written before that.** With
//!    the pool after the code, [`CodeBuffer::push`] refuses pc-relative instructions: every one
//!    goes through a fixup ([`CodeBuffer::push_use`], [`CodeBuffer::bl_abs`],
//!    [`CodeBuffer::load_const`]), so shrinking cannot leave a stale offset behind.
//!
//! Planted bugs ([`crate::planted`]) deliberately break 2, 3 and 4 for the tests that prove the
//! oracles catch them (the `adrp` page and the `lo12` scaling of [`LabelUse::AdrpLdr`] among
//! them).

use crate::asm::encode::{EncodeError, Inst, Reg};
use crate::planted::PlantedBug;
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
    /// `adrp xt, page(literal); ldr xt, [xt, #lo12(literal)]` (two slots): imm21 pages for the
    /// `adrp`, and the literal's offset in its page, which must be a multiple of 8, scaled by 8
    /// into the `ldr`'s imm12.
    AdrpLdr,
}

/// Where a buffer's literal pool goes (invariant 2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum PoolPlacement {
    /// Islands within `ldr` range of every use, and a final pool after the code.
    #[default]
    Islands,
    /// One pool after all of the code; uses out of `ldr` range are `adrp` + `ldr` pairs.
    AfterCode,
}

impl LabelUse {
    /// Largest forward byte offset. For [`LabelUse::AdrpLdr`] it is measured from the use's
    /// page to the literal's page (the exact rule is [`LabelUse::reaches`]).
    pub fn max_forward(self) -> i64 {
        match self {
            LabelUse::Branch26 => (1 << 27) - 4,
            LabelUse::Branch19 | LabelUse::Ldr19 => (1 << 20) - 4,
            LabelUse::AdrpLdr => ((1 << 20) - 1) << 12,
        }
    }

    /// Largest backward byte offset (as a positive number); page to page for
    /// [`LabelUse::AdrpLdr`].
    pub fn max_backward(self) -> i64 {
        match self {
            LabelUse::Branch26 => 1 << 27,
            LabelUse::Branch19 | LabelUse::Ldr19 => 1 << 20,
            LabelUse::AdrpLdr => 1 << 32,
        }
    }

    /// Bytes of code the use occupies.
    pub fn bytes(self) -> u32 {
        match self {
            LabelUse::AdrpLdr => 8,
            _ => 4,
        }
    }

    fn in_range(self, delta: i64) -> bool {
        delta <= self.max_forward() && -delta <= self.max_backward()
    }

    /// Can a use at address `from` reach address `to`? Exact for every kind: byte distance for
    /// the pc-relative kinds, page distance for [`LabelUse::AdrpLdr`] (alignment is separate).
    pub fn reaches(self, from: u64, to: u64) -> bool {
        match self {
            LabelUse::AdrpLdr => self.in_range(((to >> 12) as i64 - (from >> 12) as i64) << 12),
            _ => self.in_range(to.wrapping_sub(from) as i64),
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
    /// A literal an `adrp` + `ldr` pair loads is not 8-byte aligned (the scaled `lo12` cannot
    /// address it).
    Misaligned {
        /// Byte offset of the `adrp`.
        at: u32,
        /// Address of the literal.
        literal: u64,
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
            EmitError::Misaligned { at, literal } => write!(
                f,
                "adrp+ldr at offset {at:#x} cannot load the literal at {literal:#x}: not 8-byte aligned"
            ),
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
    /// Literal loads in the relaxed `adrp` + `ldr` form (pool after the code only).
    pub adrp_loads: u32,
    /// Stubs placed.
    pub stub_count: u32,
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
    bug: Option<PlantedBug>,
    placement: PoolPlacement,
    /// Offsets (in the conservative layout) of the slots removed by shrinking, ascending.
    removed: Vec<u32>,
    /// Byte ranges of placed pool entries.
    pool: Vec<Range<u32>>,
}

/// Worst-case bytes of an island holding `n` entries (branch, padding, entries).
fn island_bound(n: usize) -> i64 {
    8 + 8 * n as i64
}

impl CodeBuffer {
    /// An empty buffer whose first byte will live at `base`.
    pub fn new(base: u64, bug: Option<PlantedBug>) -> Self {
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
            bug,
            placement: PoolPlacement::Islands,
            removed: Vec::new(),
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

    /// The planted bug in effect, if any.
    pub fn bug(&self) -> Option<PlantedBug> {
        self.bug
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

    /// Append one instruction. With the pool after the code, pc-relative instructions must go
    /// through a fixup instead (invariant 6).
    pub fn push(&mut self, i: Inst) {
        assert!(
            self.placement == PoolPlacement::Islands || !is_pc_relative(&i),
            "{i:?} pushed without a fixup into a buffer whose code may move"
        );
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
        debug_assert_ne!(kind, LabelUse::AdrpLdr, "load_const emits adrp+ldr pairs");
        self.fixups.push(Fixup {
            at: self.offset(),
            to: Dest::Label(label),
            kind,
        });
        self.slots.push(Slot::Inst(inst));
    }

    /// Append `bl target` for an absolute `target`, resolved from where the `bl` finally lands
    /// (invariant 1). The caller has checked the range at the current position; code only moves
    /// back (by shrinking), and [`CodeBuffer::finish`] checks the range again.
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

    /// Emit a load of `value` into `rt` from the pool (invariant 2): `ldr rt, <literal>`, or,
    /// with the pool after the code, the conservative `adrp rt; ldr rt, [rt, #lo12]` that
    /// [`CodeBuffer::finish`] shrinks to `ldr rt, <literal>` where it can.
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
            self.fixups.push(Fixup {
                at: self.offset(),
                to: Dest::Label(label),
                kind: LabelUse::AdrpLdr,
            });
            self.slots.push(Slot::Inst(Inst::Adrp { rd: rt, pages: 0 }));
            self.slots.push(Slot::Inst(Inst::LdrImm {
                rt,
                rn: rt,
                imm12: 0,
            }));
            return;
        }
        let here = self.offset();
        if let Some(&at) = self.placed.get(&value) {
            if LabelUse::Ldr19.in_range(i64::from(at) - i64::from(here)) {
                let mut offset = at as i32 - here as i32;
                if self.bug == Some(PlantedBug::PoolOffsetOffBy4) {
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
                let given = match (self.bug, self.last_added) {
                    (Some(PlantedBug::PoolStaleDedup), Some(prev)) => prev,
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
        if self.bug == Some(PlantedBug::PoolIslandSkipped)
            || self.placement == PoolPlacement::AfterCode
        {
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
        let skip = if !final_pool
            && !self.after_terminator()
            && self.bug != Some(PlantedBug::PoolOnFallthrough)
        {
            let l = self.new_label();
            self.push_use(Inst::B { offset: 0 }, l, LabelUse::Branch26);
            Some(l)
        } else {
            None
        };
        let misalign = self.bug == Some(PlantedBug::PoolMisaligned);
        if self.offset().is_multiple_of(8) == misalign {
            self.push_data(0);
        }
        let pending = std::mem::take(&mut self.pending);
        let n = pending.len();
        for (i, p) in pending.into_iter().enumerate() {
            self.bind(p.label);
            self.placed.insert(p.value, self.offset());
            if final_pool && i + 1 == n && self.bug == Some(PlantedBug::PoolMissingLastEntry) {
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

    /// With the pool after the code: shrink every `adrp`+`ldr` use whose literal is within `ldr`
    /// range, pass after pass until a pass shrinks nothing, then drop the freed slots
    /// (invariant 2, which argues termination and exactness). Returns the number of passes.
    fn shrink_literal_loads(&mut self) -> u32 {
        let uses: Vec<usize> = (0..self.fixups.len())
            .filter(|&i| self.fixups[i].kind == LabelUse::AdrpLdr)
            .collect();
        debug_assert!(uses
            .windows(2)
            .all(|w| self.fixups[w[0]].at < self.fixups[w[1]].at));
        // The final pool holds the pending entries in order (place_pool), 8 bytes each.
        let entry: HashMap<u32, i64> = self
            .pending
            .iter()
            .enumerate()
            .map(|(k, p)| (p.label.0, 8 * k as i64))
            .collect();
        let end = i64::from(self.offset());
        let mut short = vec![false; uses.len()];
        let mut shrunk = 0i64;
        let mut passes = 0;
        loop {
            passes += 1;
            // This pass's layout: every use shrunk so far is 4 bytes, the rest 8.
            let pool = crate::machine::layout::align_up((end - 4 * shrunk) as u64, 8) as i64;
            let mut before = 0i64;
            let mut marks = Vec::new();
            for (k, &fi) in uses.iter().enumerate() {
                if short[k] {
                    before += 1;
                    continue;
                }
                let f = self.fixups[fi];
                let Dest::Label(l) = f.to else {
                    unreachable!("adrp+ldr uses are pool labels")
                };
                let at = i64::from(f.at) - 4 * before;
                if LabelUse::Ldr19.in_range(pool + entry[&l.0] - at) {
                    marks.push(k);
                }
            }
            if marks.is_empty() {
                break;
            }
            shrunk += marks.len() as i64;
            for k in marks {
                short[k] = true;
            }
        }
        // Rewrite the slots: a shrunk use keeps its first slot as `ldr rt, <literal>` and loses
        // its second; every offset after a freed slot moves back 4 bytes.
        for (k, &fi) in uses.iter().enumerate() {
            if !short[k] {
                continue;
            }
            let f = &mut self.fixups[fi];
            f.kind = LabelUse::Ldr19;
            let Slot::Inst(Inst::Adrp { rd, .. }) = self.slots[(f.at / 4) as usize] else {
                unreachable!("an adrp+ldr use starts with its adrp")
            };
            self.slots[(f.at / 4) as usize] = Slot::Inst(Inst::LdrLit { rt: rd, offset: 0 });
            self.removed.push(f.at + 4);
        }
        if self.removed.is_empty() {
            return passes;
        }
        let removed = std::mem::take(&mut self.removed);
        let map = |o: u32| o - 4 * removed.partition_point(|&r| r < o) as u32;
        let mut gone = removed.iter().peekable();
        let mut slots = Vec::with_capacity(self.slots.len() - removed.len());
        for (i, s) in self.slots.iter().enumerate() {
            if gone.peek() == Some(&&(4 * i as u32)) {
                gone.next();
                continue;
            }
            slots.push(*s);
        }
        self.slots = slots;
        for l in self.labels.iter_mut().flatten() {
            *l = map(*l);
        }
        for f in &mut self.fixups {
            f.at = map(f.at);
        }
        for r in &mut self.data {
            *r = map(r.start)..map(r.end);
        }
        for p in &mut self.pending {
            p.first_use = map(p.first_use);
        }
        self.removed = removed;
        passes
    }

    /// Place the final pool and the stubs, resolve every label use, and return the slots.
    pub fn finish(mut self) -> Result<Finished, EmitError> {
        if self.placement == PoolPlacement::AfterCode {
            self.shrink_literal_loads();
        }
        self.sizes.body = u64::from(self.offset()) - self.sizes.pool;
        self.place_pool(true);
        let stubs_start = self.offset();
        let stubs = std::mem::take(&mut self.stubs);
        for (i, &(target, label)) in stubs.iter().enumerate() {
            if !self.offset().is_multiple_of(8) {
                self.push_data(0);
            }
            self.bind(label);
            let off = if self.bug == Some(PlantedBug::StubLdrOffset) {
                4
            } else {
                8
            };
            self.push(Inst::LdrLit {
                rt: crate::asm::encode::X16,
                offset: off,
            });
            self.push(Inst::Br {
                rn: crate::asm::encode::X16,
            });
            let quad = match self.bug {
                Some(PlantedBug::StubWrongTarget) => stubs[(i + 1) % stubs.len()].0,
                _ => target,
            };
            self.push_quad(quad);
            self.sizes.stub_count += 1;
        }
        self.sizes.stubs = u64::from(self.offset() - stubs_start);
        let truncate = self.bug == Some(PlantedBug::PoolIslandSkipped);
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
            if f.kind == LabelUse::AdrpLdr {
                self.sizes.adrp_loads += 1;
                self.patch_adrp_ldr(f.at, pc, target)?;
                continue;
            }
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
                    let extra = if self.bug == Some(PlantedBug::PoolOffsetOffBy4) {
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
        Ok(Finished {
            base: self.base,
            slots: self.slots,
            bytes,
            data: self.data,
            pool: self.pool,
            sizes: self.sizes,
            removed: self.removed,
        })
    }

    /// Write the two slots of an [`LabelUse::AdrpLdr`] use at `at` (address `pc`) loading the
    /// literal at `literal`: `adrp rt, page(literal)` and `ldr rt, [rt, #lo12(literal)]`, whose
    /// imm12 is the page offset divided by 8 (the literal is 8-byte aligned, invariant 2).
    fn patch_adrp_ldr(&mut self, at: u32, pc: u64, literal: u64) -> Result<(), EmitError> {
        if !LabelUse::AdrpLdr.reaches(pc, literal) {
            return Err(EmitError::OutOfRange {
                at,
                delta: literal.wrapping_sub(pc) as i64,
                kind: LabelUse::AdrpLdr,
            });
        }
        let lo12 = (literal & 0xFFF) as u16;
        if !lo12.is_multiple_of(8) {
            return Err(EmitError::Misaligned { at, literal });
        }
        let mut pages = ((literal >> 12) as i64 - (pc >> 12) as i64) as i32;
        if self.bug == Some(PlantedBug::AdrpLdrPageOffByOne) {
            pages += 1;
        }
        let imm12 = if self.bug == Some(PlantedBug::AdrpLdrLo12Unscaled) {
            lo12
        } else {
            lo12 / 8
        };
        let i = (at / 4) as usize;
        let (Slot::Inst(Inst::Adrp { rd, .. }), Slot::Inst(Inst::LdrImm { rt, rn, .. })) =
            (self.slots[i], self.slots[i + 1])
        else {
            unreachable!("an adrp+ldr use is an adrp and an ldr")
        };
        debug_assert!(rd == rt && rn == rt);
        self.slots[i] = Slot::Inst(Inst::Adrp { rd, pages });
        self.slots[i + 1] = Slot::Inst(Inst::LdrImm { rt, rn, imm12 });
        Ok(())
    }
}

/// Does `i`'s encoding hold an offset from its own address?
fn is_pc_relative(i: &Inst) -> bool {
    matches!(
        i,
        Inst::B { .. }
            | Inst::Bl { .. }
            | Inst::BCond { .. }
            | Inst::LdrLit { .. }
            | Inst::Adrp { .. }
    )
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
    /// Conservative-layout offsets of the slots shrinking removed (invariant 2), ascending.
    removed: Vec<u32>,
}

impl Finished {
    /// The final offset of what was at offset `off` of the layout the code was emitted in
    /// (they differ only where literal uses shrank, invariant 2). Call sites recorded during
    /// emission are mapped with it.
    pub fn new_offset(&self, off: u32) -> u32 {
        off - 4 * self.removed.partition_point(|&r| r < off) as u32
    }

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
        let mut b = CodeBuffer::new(0x1000_0000, None);
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
        let mut b = CodeBuffer::new(0x1000_0000, None);
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
    /// `fill` nops, `ret`.
    fn after_code(lead: u32, fill: u32, bug: Option<PlantedBug>) -> Finished {
        let mut b = CodeBuffer::new(0x1000_0000, bug);
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
        b.finish().unwrap()
    }

    /// Where the load at `at` reads its literal: `Some(byte offset)` and whether it is the
    /// `adrp` form.
    fn literal_of(f: &Finished, at: u32) -> (u32, bool) {
        match (f.slots[(at / 4) as usize], f.slots[(at / 4 + 1) as usize]) {
            (Slot::Inst(Inst::LdrLit { offset, .. }), _) => ((at as i32 + offset) as u32, false),
            (Slot::Inst(Inst::Adrp { pages, .. }), Slot::Inst(Inst::LdrImm { imm12, .. })) => {
                let pc = f.base + u64::from(at);
                let page = (pc & !0xFFF).wrapping_add((i64::from(pages) << 12) as u64);
                ((page + 8 * u64::from(imm12) - f.base) as u32, true)
            }
            other => panic!("no literal load at {at:#x}: {other:?}"),
        }
    }

    #[test]
    fn pool_after_code_has_no_islands_and_takes_ldr_within_range() {
        // 2 MiB of code: the first load is relaxed, a load near the end is not.
        let mut b = CodeBuffer::new(0x1000_0000, None);
        b.set_pool_placement(PoolPlacement::AfterCode);
        b.load_const(X16, 0xAAAA);
        b.push(Inst::Blr { rn: X16 });
        for _ in 0..(1 << 19) {
            b.reserve(8);
            b.push(Inst::Nop);
        }
        b.load_const(X16, 0xBBBB);
        b.push(Inst::Blr { rn: X16 });
        b.load_const(X16, 0xAAAA);
        b.push(Inst::Blr { rn: X16 });
        b.push(Inst::Ret);
        let f = b.finish().unwrap();
        assert_eq!(
            (f.sizes.islands, f.sizes.pool_entries, f.sizes.adrp_loads),
            (0, 2, 1)
        );
        assert_eq!(
            f.data.len(),
            1,
            "one pool, after all the code: {:?}",
            f.data
        );
        let pool = f.data[0].clone();
        assert_eq!(pool.end as usize, f.bytes.len());
        assert_eq!(f.pool, vec![pool.end - 16..pool.end]);
        assert!(pool.end.is_multiple_of(8) && f.pool[0].start.is_multiple_of(8));
        assert_eq!(
            f.slots[(pool.start / 4 - 1) as usize],
            Slot::Inst(Inst::Ret)
        );
        if pool.len() == 20 {
            assert_eq!(
                &f.bytes[pool.start as usize..pool.start as usize + 4],
                &[0; 4]
            );
        }
        let (lit, adrp) = literal_of(&f, 0);
        assert!(adrp && lit == f.pool[0].start, "{lit:#x}");
        let tail = 12 + 4 * (1 << 19);
        assert_eq!(literal_of(&f, tail), (f.pool[0].start + 8, false));
        assert_eq!(literal_of(&f, tail + 8), (f.pool[0].start, false));
        assert_eq!(
            &f.bytes[lit as usize..lit as usize + 8],
            &0xAAAAu64.to_le_bytes()
        );
    }

    #[test]
    fn ldr_range_edges_take_one_form_each() {
        const MIB: u32 = 1 << 20;
        // Load at 4; code ends at 1 MiB - 4 in its short form (4 bytes of zero padding), at
        // 1 MiB in the conservative one: the literal at 1 MiB is +1 MiB - 4 away either way.
        let f = after_code(1, (MIB - 20) / 4, None);
        assert_eq!(literal_of(&f, 4), (MIB, false), "ldr reaches +1 MiB - 4");
        assert_eq!(f.data, vec![MIB - 4..MIB + 8]);
        assert_eq!(&f.bytes[(MIB - 4) as usize..MIB as usize], &[0; 4]);
        // Load at 0, code ends at 1 MiB (the adrp form: 4 bytes more): +1 MiB is out of reach.
        let f = after_code(0, (MIB - 16) / 4, None);
        assert_eq!(literal_of(&f, 0), (MIB, true), "+1 MiB takes adrp+ldr");
        assert_eq!(f.sizes.adrp_loads, 1);
        // Conservative like asmjit: in its short form this load would reach its literal (code
        // ending at 1 MiB, literal +1 MiB - 4 away), but the pass measures it at 8 bytes, which
        // ends the code at 1 MiB + 4 and pads the pool to 1 MiB + 8, out of reach.
        let f = after_code(1, (MIB - 16) / 4, None);
        assert_eq!(literal_of(&f, 4), (MIB + 8, true));
    }

    #[test]
    fn shrinking_moves_labels_fixups_and_reports_new_offsets() {
        // Two far loads and a branch over a near one: after shrinking, every offset moved back.
        let mut b = CodeBuffer::new(0x1000_0000, None);
        b.set_pool_placement(PoolPlacement::AfterCode);
        b.load_const(X16, 1);
        b.push(Inst::Blr { rn: X16 });
        for _ in 0..(1 << 18) {
            b.push(Inst::Nop);
        }
        let over = b.new_label();
        b.push_use(
            Inst::BCond {
                cond: crate::asm::encode::Cond::Eq,
                offset: 0,
            },
            over,
            LabelUse::Branch19,
        );
        let near_load = b.offset();
        b.load_const(X16, 2);
        b.push(Inst::Blr { rn: X16 });
        b.bind(over);
        b.bl_abs(0x1000_0000 + (1 << 22));
        b.push(Inst::Ret);
        let f = b.finish().unwrap();
        assert_eq!(f.sizes.adrp_loads, 1);
        // The far load keeps its 8 bytes; the near one frees the slot after it.
        let near = f.new_offset(near_load);
        assert_eq!(near, near_load);
        assert_eq!(f.new_offset(near_load + 12), near_load + 8);
        assert!(!literal_of(&f, near).1);
        assert!(literal_of(&f, 0).1);
        let bcond = (near - 4) / 4;
        assert_eq!(
            f.slots[bcond as usize],
            Slot::Inst(Inst::BCond {
                cond: crate::asm::encode::Cond::Eq,
                offset: 12
            })
        );
        let bl_at = near + 8;
        assert_eq!(
            f.slots[(bl_at / 4) as usize],
            Slot::Inst(Inst::Bl {
                offset: (1 << 22) - bl_at as i32
            })
        );
    }

    #[test]
    #[should_panic(expected = "without a fixup")]
    fn a_raw_pc_relative_instruction_is_refused_when_code_may_move() {
        let mut b = CodeBuffer::new(0x1000_0000, None);
        b.set_pool_placement(PoolPlacement::AfterCode);
        b.push(Inst::Bl { offset: 64 });
    }

    #[test]
    fn out_of_range_is_an_error_not_a_truncation() {
        let mut b = CodeBuffer::new(0x1000_0000, None);
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
