//! Which words of a function are instructions, found by following control flow from its
//! entries rather than by a linear sweep.
//!
//! Invariants, argued once here and relied on by the checks:
//!
//! * **R1 (code).** A word is code exactly when some path from an entry reaches it. Paths
//!   follow: the function's entries; the target of every in-function branch (`b`, `b.cond`,
//!   `cbz`/`cbnz`, `tbz`/`tbnz`, `bl`) and `adr`; and the next word after every instruction that
//!   can fall through. Calls (`bl`, `blr`) fall through: the callee returns to the next word,
//!   so the return address is reachable code by construction and [`Walk::falls_off`] records a
//!   call (or any instruction) whose next word is past the function's end.
//! * **R2 (data).** Every other word is data. Words read by a literal load are *pool words*
//!   ([`Walk::reads`]); words nothing reaches or reads stay unreferenced data: a pointer whose
//!   low half happens to encode `bl` is never counted as a call.
//! * **R3 (independence).** Control flow is classified from the raw A64 encoding classes
//!   ([`flow`]), not from a disassembler's text; capstone is used only afterwards, to confirm
//!   that every reached word is an instruction.
//! * **R4 (terminators).** Only `b`, `br`, `ret`/`eret`, `b.al`/`b.nv`, `brk`, `hlt` and `udf`
//!   end a path: everything else, including words that decode to nothing, is assumed to fall
//!   through, so data can never hide behind a word the walk does not understand.
//!
//! A branch leaving the function is recorded in [`Walk::external`] with its byte offset, for the
//! caller to resolve once the function's real address is known.

use crate::oracle::check::{pc_relative, PcRel};

/// What one instruction word does to control flow (byte offsets are relative to its address).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flow {
    /// Falls through.
    Next,
    /// `b`: goes to the target only.
    Jump(i64),
    /// Conditional branch: target or next.
    Cond(i64),
    /// `bl`: calls the target, returns to next.
    Call(i64),
    /// `blr xN`: calls a register, returns to next.
    CallReg(u8),
    /// `br xN`: goes to a register.
    JumpReg(u8),
    /// `ret`, `eret`, `brk`, `hlt`, `udf`: the path ends.
    End,
    /// `adr xN, target`: falls through; the target is an address the code takes.
    Adr(i64),
    /// Literal load: falls through; reads `size` bytes at the target.
    Literal {
        /// Destination register number.
        rt: u8,
        /// Destination is a SIMD/FP register.
        vector: bool,
        /// Byte offset of the literal.
        offset: i64,
        /// Bytes read.
        size: u8,
    },
}

/// Classify a word's control flow from its encoding (R3, R4).
pub fn flow(w: u32) -> Flow {
    match pc_relative(w) {
        Some(PcRel::Branch { link: true, offset }) => return Flow::Call(offset),
        Some(PcRel::Branch { offset, .. }) => return Flow::Jump(offset),
        Some(PcRel::BranchCond { cond, offset }) if cond >= 14 => return Flow::Jump(offset),
        Some(PcRel::BranchCond { offset, .. } | PcRel::TestBranch { offset }) => {
            return Flow::Cond(offset)
        }
        Some(PcRel::Adr { offset }) => return Flow::Adr(offset),
        Some(PcRel::Literal { offset }) => return literal(w, offset),
        Some(PcRel::Adrp { .. }) | None => {}
    }
    if w & 0xFE00_0000 == 0xD600_0000 {
        let rn = ((w >> 5) & 31) as u8;
        return match (w >> 21) & 0xF {
            0 | 8 => Flow::JumpReg(rn),
            1 | 9 => Flow::CallReg(rn),
            _ => Flow::End,
        };
    }
    if w & 0xFF00_0000 == 0xD400_0000 && matches!((w >> 21) & 7, 1 | 2) {
        return Flow::End; // brk, hlt
    }
    if w & 0xFFFF_0000 == 0 {
        return Flow::End; // udf
    }
    Flow::Next
}

/// A literal load's flow: what it reads at `offset` (`prfm` reads nothing).
fn literal(w: u32, offset: i64) -> Flow {
    let (opc, vector) = (w >> 30, (w >> 26) & 1 == 1);
    let size = match (vector, opc) {
        (false, 3) => return Flow::Next, // prfm: reads nothing
        (true, 3) => return Flow::Next,  // unallocated; capstone will reject it
        (false, 1) | (true, 1) => 8,
        (true, 2) => 16,
        _ => 4,
    };
    Flow::Literal {
        rt: (w & 31) as u8,
        vector,
        offset,
        size,
    }
}

/// A literal load found on a path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Read {
    /// Word index of the load.
    pub at: usize,
    /// Byte offset (from the function's start) of the literal; may lie outside the function.
    pub target: i64,
    /// Bytes read.
    pub size: u8,
}

/// The result of walking a function.
#[derive(Clone, Debug, Default)]
pub struct Walk {
    /// Per word: reached by some path (R1).
    pub code: Vec<bool>,
    /// Per word: an entry or the target of an in-function branch or `adr` (a join point).
    pub leader: Vec<bool>,
    /// Every literal load on a path.
    pub reads: Vec<Read>,
    /// (word index, byte offset from the function's start) of branches and calls leaving it.
    pub external: Vec<(usize, i64)>,
    /// Word indices whose instruction can fall through past the function's end.
    pub falls_off: Vec<usize>,
}

impl Walk {
    /// Per word: read by some literal load (a pool word, R2).
    pub fn pool_words(&self) -> Vec<bool> {
        let mut pool = vec![false; self.code.len()];
        for r in &self.reads {
            let (lo, hi) = (
                r.target.max(0),
                (r.target + i64::from(r.size)).min(4 * pool.len() as i64),
            );
            for w in (lo / 4)..((hi + 3) / 4).max(lo / 4) {
                pool[w as usize] = true;
            }
        }
        pool
    }
}

/// Walk `words` from the entry word indices `entries` (R1).
pub fn walk(words: &[u32], entries: &[usize]) -> Walk {
    let n = words.len();
    let mut w = Walk {
        code: vec![false; n],
        leader: vec![false; n],
        ..Walk::default()
    };
    let mut todo: Vec<usize> = entries.iter().copied().filter(|&e| e < n).collect();
    for &e in &todo {
        w.leader[e] = true;
    }
    let inside = |off: i64| (0..4 * n as i64).contains(&off);
    while let Some(i) = todo.pop() {
        if w.code[i] {
            continue;
        }
        w.code[i] = true;
        let pc = 4 * i as i64;
        let f = flow(words[i]);
        let (target, next) = match f {
            Flow::Next | Flow::CallReg(_) => (None, true),
            Flow::Jump(o) => (Some(pc + o), false),
            Flow::Cond(o) | Flow::Call(o) => (Some(pc + o), true),
            Flow::JumpReg(_) | Flow::End => (None, false),
            Flow::Adr(o) => (Some(pc + o).filter(|&t| inside(t) && t % 4 == 0), true),
            Flow::Literal { offset, size, .. } => {
                w.reads.push(Read {
                    at: i,
                    target: pc + offset,
                    size,
                });
                (None, true)
            }
        };
        if let Some(t) = target {
            if inside(t) {
                w.leader[(t / 4) as usize] = true;
                todo.push((t / 4) as usize);
            } else {
                w.external.push((i, t));
            }
        }
        if next {
            if i + 1 < n {
                todo.push(i + 1);
            } else {
                w.falls_off.push(i);
            }
        }
    }
    w.reads.sort_by_key(|r| r.at);
    w.external.sort();
    w.falls_off.sort();
    w
}

/// The words of a byte slice (little-endian; a trailing partial word is ignored).
pub fn words(bytes: &[u8]) -> Vec<u32> {
    bytes
        .chunks_exact(4)
        .map(|c| u32::from_le_bytes(c.try_into().unwrap()))
        .collect()
}
