//! Call sites and branch targets of a walked function, with the values of the registers they
//! go through.
//!
//! Invariants:
//!
//! * **F1 (straight line only).** Register values are tracked only along straight-line code:
//!   every leader (entry, branch or `adr` target) and every word not reached by fall-through
//!   from the previous one starts with nothing known. A value is therefore exactly what the
//!   instructions just before the use computed, whatever path led there.
//! * **F2 (conservative writes).** Only `ldr xN, <literal>` (the bytes are read from the
//!   function itself), `movz`/`movn`/`movk`, `adrp` (needs the real address), `add xN, xM,
//!   #imm`, `mov xN, xM` and `ldr xT, [xM, #off]` whose base xM holds an `adrp` value produce
//!   values. Any other instruction forgets its destination register; other loads and stores
//!   forget Rt, Rt2 and the base register (a general-register load then marks Rt as loaded from
//!   memory, with no value); calls forget everything. Forgetting can only turn a resolved
//!   target into an untracked one, never invent a value.
//! * **F2a (relaxed literal loads).** `adrp x16, page; ldr x16, [x16, #off]` followed by
//!   `blr x16` is the form asmjit gives a call-target literal load beyond the ±1 MiB of `ldr`
//!   (functions over 1 MiB), so that exact call shape is taken for a literal load: its address
//!   (known once the function is placed) is checked like any literal's (inside the function,
//!   aligned, never reached as code: [`Analysis::reads`]), its value is the literal's bytes, and
//!   the call is `adrp+ldr-literal+blr`. Any other `adrp` + `ldr` is an ordinary data load
//!   (CinderX reads `_cinderx.so`'s globals that way, which `adrp` reaches) and forgets its
//!   destination like other loads (F2).
//! * **F3 (every exit is a site).** Each `bl`, `blr`, and each branch leaving the function
//!   (`b`, conditional branches, `br`) is a site. A site whose target is known (a literal, an
//!   immediate, a pc-relative offset once the function is placed) must resolve to a function
//!   entry; one through a register with no tracked value has nothing to resolve: a call is
//!   `ldr [mem]+blr` when that register was last loaded from memory, else `blr other`, and a
//!   `br` is `br indirect`. Call kinds are [`CallKind`], as every a64call report names them.

use super::reach::{flow, Flow, Read, Walk};
use crate::jitcode::classify::CallKind;
use crate::oracle::check::{named_address, pc_relative, PcRel};
use crate::Named;

/// What kind of site: a call, named as every other a64call report names calls
/// ([`CallKind`]), or a branch leaving the function.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    /// A call (`bl`, `blr`). A `blr` through a register with no tracked value (F2) is
    /// [`CallKind::LoadedBlr`] when the last straight-line write of that register was a load,
    /// else [`CallKind::OtherBlr`].
    Call(CallKind),
    /// `b`/conditional branch leaving the function.
    BranchOut,
    /// `br` of a register with a tracked value (a stub's tail, ...).
    BrOut,
    /// `br` of a register with no tracked value.
    BrIndirect,
}

impl Kind {
    /// Report name (a call's is its [`CallKind::name`]).
    pub fn name(self) -> &'static str {
        match self {
            Kind::Call(c) => c.name(),
            Kind::BranchOut => "b out",
            Kind::BrOut => "br out",
            Kind::BrIndirect => "br indirect",
        }
    }
    /// Is it a call (branch and link)?
    pub fn is_call(self) -> bool {
        matches!(self, Kind::Call(_))
    }
}

/// Where a site goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// A guest address to resolve.
    Addr(u64),
    /// A pc-relative target, but the function's real address is unknown.
    Unplaced,
    /// Nothing to resolve (local target, untracked register).
    None,
}

/// One site.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Site {
    /// Word index.
    pub at: usize,
    /// Kind.
    pub kind: Kind,
    /// Target.
    pub target: Target,
    /// Byte offset of the literal the target was loaded from, if it was.
    pub literal: Option<i64>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Prov {
    /// Loaded from the literal at this byte offset.
    Literal(i64),
    /// Loaded by `adrp` + `ldr [xM, #off]` from the literal at this byte offset (`None`: the
    /// function is not placed).
    AdrpLiteral(Option<i64>),
    MovImm,
    Adrp,
    /// Loaded from memory other than a literal: no value, but a `blr` through it is
    /// [`CallKind::LoadedBlr`]. Nothing propagates it (`add`, `mov` forget).
    Loaded,
}

/// A tracked register: its provenance and value (`None`: an `adrp` of an unplaced function).
type Reg = Option<(Prov, Option<u64>)>;

/// The u64 at byte offset `t` of `bytes`, if all 8 bytes are inside.
fn u64_at(bytes: &[u8], t: i64) -> Option<u64> {
    let t = usize::try_from(t).ok()?;
    bytes
        .get(t..t.checked_add(8)?)
        .map(|b| u64::from_le_bytes(b.try_into().unwrap()))
}

/// Is word `i` the start of a stub `ldr x16, <lit>; br x16`? Returns the literal's value.
fn stub_target(words: &[u32], bytes: &[u8], i: usize) -> Option<Option<u64>> {
    match (flow(*words.get(i)?), flow(*words.get(i + 1)?)) {
        (
            Flow::Literal {
                rt: 16,
                vector: false,
                offset,
                size: 8,
            },
            Flow::JumpReg(16),
        ) => Some(u64_at(bytes, 4 * i as i64 + offset)),
        _ => None,
    }
}

/// `ldr x16, [x16, #8*imm12]`: the load of the relaxed literal call shape (F2a).
const LDR_X16_FROM_X16: u32 = 0xF940_0210;
const LDR_X16_FROM_X16_MASK: u32 = 0xFFC0_03FF;
/// `blr x16`.
const BLR_X16: u32 = 0xD63F_0200;

/// Is word `i` the load of a relaxed literal call, `adrp x16; ldr x16, [x16, #off]; blr x16`
/// (F2a)? The `adrp` itself is checked by [`step`] through the register's provenance.
fn relaxed_literal_call_load(words: &[u32], i: usize) -> bool {
    words[i] & LDR_X16_FROM_X16_MASK == LDR_X16_FROM_X16 && words.get(i + 1) == Some(&BLR_X16)
}

/// Apply one instruction's register effects (F2); `pc` is its real address if known;
/// `literal_call` says the word is the load of a relaxed literal call (F2a). Returns the byte
/// offset of the literal such a load reads, when placed.
fn step(
    regs: &mut [Reg; 32],
    w: u32,
    (off, pc): (i64, Option<u64>),
    literal_call: bool,
    bytes: &[u8],
) -> Option<i64> {
    let rd = (w & 31) as usize;
    let rn = ((w >> 5) & 31) as usize;
    let imm16 = u64::from((w >> 5) & 0xFFFF);
    let shift = 16 * ((w >> 21) & 3);
    let width = |v: u64| if w >> 31 == 1 { v } else { v & 0xFFFF_FFFF };
    let val: Reg = match w {
        _ if matches!(flow(w), Flow::Call(_) | Flow::CallReg(_)) => {
            *regs = [None; 32];
            return None;
        }
        // ldr x16, [x16, #8*imm12] with x16 from adrp, then blr x16 (F2a).
        _ if literal_call && matches!(regs[rn], Some((Prov::Adrp, _))) => {
            let Some((_, page)) = regs[rn] else {
                unreachable!()
            };
            let at = relaxed_literal_offset(w, page, (off, pc));
            regs[rd] = Some((Prov::AdrpLiteral(at), at.and_then(|t| u64_at(bytes, t))));
            return at;
        }
        _ if w & 0x7F80_0000 == 0x5280_0000 => Some((Prov::MovImm, Some(width(imm16 << shift)))),
        _ if w & 0x7F80_0000 == 0x1280_0000 => Some((Prov::MovImm, Some(width(!(imm16 << shift))))),
        _ if w & 0x7F80_0000 == 0x7280_0000 => match regs[rd] {
            Some((Prov::MovImm, Some(v))) => Some((
                Prov::MovImm,
                Some(width((v & !(0xFFFF << shift)) | (imm16 << shift))),
            )),
            _ => None,
        },
        _ if matches!(pc_relative(w), Some(PcRel::Adrp { .. })) => {
            Some((Prov::Adrp, pc.and_then(|p| named_address(w, p))))
        }
        _ if w & 0xFF80_0000 == 0x9100_0000 && rn != 31 => {
            let imm = u64::from((w >> 10) & 0xFFF) << (12 * ((w >> 22) & 1));
            regs[rn]
                .filter(|&(p, _)| p != Prov::Loaded)
                .map(|(p, v)| (p, v.map(|v| v.wrapping_add(imm))))
        }
        _ if w & 0xFFE0_FFE0 == 0xAA00_03E0 => {
            regs[((w >> 16) & 31) as usize].filter(|&(p, _)| p != Prov::Loaded)
        }
        _ => match flow(w) {
            Flow::Literal {
                rt,
                vector: false,
                offset,
                size: 8,
            } => {
                regs[rt as usize] =
                    Some((Prov::Literal(off + offset), u64_at(bytes, off + offset)));
                return None;
            }
            Flow::Literal { vector: true, .. } => return None,
            _ if w & 0x0A00_0000 == 0x0800_0000 => {
                other_load_or_store(regs, w);
                return None;
            }
            _ => None,
        },
    };
    regs[rd] = val;
    None
}

/// A load or store other than a literal load (F2): forgets Rt, Rt2 and the base register; a
/// general-register load then marks Rt as loaded from memory.
fn other_load_or_store(regs: &mut [Reg; 32], w: u32) {
    let rt = (w & 31) as usize;
    for r in [rt, ((w >> 5) & 31) as usize, ((w >> 10) & 31) as usize] {
        regs[r] = None;
    }
    // Bit 22 is L (load) in the load/store classes a call target comes from; bit 26 set means
    // the destination is a SIMD register.
    if w & (1 << 22) != 0 && w & (1 << 26) == 0 {
        regs[rt] = Some((Prov::Loaded, None));
    }
}

/// The byte offset in the function of the literal `ldr x16, [x16, #8*imm12]` (word `w`) reads
/// after `adrp x16` formed `page`; `None` unless both the page and the word's real address `pc`
/// are known (`off` is the word's offset).
fn relaxed_literal_offset(w: u32, page: Option<u64>, (off, pc): (i64, Option<u64>)) -> Option<i64> {
    let (page, pc) = (page?, pc?);
    let base = pc.wrapping_sub(off as u64);
    Some(
        page.wrapping_add(8 * u64::from((w >> 10) & 0xFFF))
            .wrapping_sub(base) as i64,
    )
}

/// The target of a tracked register: an `adrp` without a real address is unplaced; a literal
/// outside the function has no value (that load is reported by the literal checks).
fn known(p: Prov, v: Option<u64>) -> Target {
    match (v, p) {
        (Some(a), _) => Target::Addr(a),
        (None, Prov::Adrp | Prov::AdrpLiteral(None)) => Target::Unplaced,
        (None, _) => Target::None,
    }
}

/// Every site of a walked function whose bytes are `bytes`, placed at `base` if known (F3).
pub fn sites(words: &[u32], bytes: &[u8], walk: &Walk, base: Option<u64>) -> Vec<Site> {
    analyse(words, bytes, walk, base).sites
}

/// What [`analyse`] finds.
#[derive(Clone, Debug, Default)]
pub struct Analysis {
    /// Every site (F3).
    pub sites: Vec<Site>,
    /// Literals read by relaxed literal loads (F2a), when the function is placed: the checks
    /// treat them like [`Walk::reads`].
    pub reads: Vec<Read>,
}

/// The sites of a walked function and the literals its relaxed literal loads read.
pub fn analyse(words: &[u32], bytes: &[u8], walk: &Walk, base: Option<u64>) -> Analysis {
    let mut out = Vec::new();
    let mut reads = Vec::new();
    let mut regs: [Reg; 32] = [None; 32];
    let abs = |off: i64| {
        base.map_or(Target::Unplaced, |b| {
            Target::Addr(b.wrapping_add(off as u64))
        })
    };
    for (i, &w) in words.iter().enumerate() {
        if !walk.code[i] {
            continue;
        }
        let straight = i > 0 && walk.code[i - 1] && falls_through(words[i - 1]);
        if walk.leader[i] || !straight {
            regs = [None; 32];
        }
        let pc = 4 * i as i64;
        let inside = |t: i64| (0..bytes.len() as i64).contains(&t);
        let site = |kind, target| Site {
            at: i,
            kind,
            target,
            literal: None,
        };
        let via = |r: u8, call: bool| match (regs[r as usize], call) {
            (Some((p, v)), call) => {
                let kind = match p {
                    Prov::Loaded if !call => Kind::BrIndirect,
                    _ if !call => Kind::BrOut,
                    Prov::Literal(_) => Kind::Call(CallKind::LdrLiteralBlr),
                    Prov::AdrpLiteral(_) => Kind::Call(CallKind::AdrpLdrLiteralBlr),
                    Prov::MovImm => Kind::Call(CallKind::MovImmBlr),
                    Prov::Adrp => Kind::Call(CallKind::AdrpBlr),
                    Prov::Loaded => Kind::Call(CallKind::LoadedBlr),
                };
                let literal = match p {
                    Prov::Literal(o) | Prov::AdrpLiteral(Some(o)) => Some(o),
                    _ => None,
                };
                Site {
                    literal,
                    ..site(kind, known(p, v))
                }
            }
            (None, true) => site(Kind::Call(CallKind::OtherBlr), Target::None),
            (None, false) => site(Kind::BrIndirect, Target::None),
        };
        match flow(w) {
            Flow::Call(o) if inside(pc + o) => {
                out.push(match stub_target(words, bytes, ((pc + o) / 4) as usize) {
                    Some(v) => site(
                        Kind::Call(CallKind::BlStub),
                        v.map_or(Target::None, Target::Addr),
                    ),
                    None => site(Kind::Call(CallKind::BlLocal), Target::None),
                })
            }
            Flow::Call(o) => out.push(site(Kind::Call(CallKind::DirectBl), abs(pc + o))),
            Flow::Jump(o) | Flow::Cond(o) if !inside(pc + o) => {
                out.push(site(Kind::BranchOut, abs(pc + o)))
            }
            Flow::CallReg(r) => out.push(via(r, true)),
            Flow::JumpReg(r) => out.push(via(r, false)),
            _ => {}
        }
        let real_pc = base.map(|b| b.wrapping_add(pc as u64));
        let literal_call = relaxed_literal_call_load(words, i);
        if let Some(target) = step(&mut regs, w, (pc, real_pc), literal_call, bytes) {
            reads.push(Read {
                at: i,
                target,
                size: 8,
            });
        }
    }
    Analysis { sites: out, reads }
}

/// Can control fall through `w` to the next word?
pub fn falls_through(w: u32) -> bool {
    !matches!(flow(w), Flow::Jump(_) | Flow::JumpReg(_) | Flow::End)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jitcode::verify::reach::walk;

    /// `adrp xd, #pages` (immhi:immlo = pages).
    fn adrp(rd: u32, pages: u32) -> u32 {
        0x9000_0000 | ((pages & 3) << 29) | ((pages >> 2) << 5) | rd
    }
    /// `ldr xt, [xn, #8*imm12]`.
    fn ldr_uimm(rt: u32, rn: u32, imm12: u32) -> u32 {
        0xF940_0000 | (imm12 << 10) | (rn << 5) | rt
    }
    const RET: u32 = 0xD65F_03C0;

    fn bytes(words: &[u32]) -> Vec<u8> {
        words.iter().flat_map(|w| w.to_le_bytes()).collect()
    }

    #[test]
    fn only_the_relaxed_call_shape_is_a_literal_read() {
        let base = 0x10_0000_0000;
        // A relaxed literal call: adrp x16 (this page); ldr x16, [x16, #0x10]; blr x16; ret;
        // then the literal at +0x10.
        let call = [adrp(16, 0), ldr_uimm(16, 16, 2), BLR_X16, RET, 0, 0];
        let a = analyse(&call, &bytes(&call), &walk(&call, &[0]), Some(base));
        assert_eq!(a.reads.len(), 1, "{:?}", a.reads);
        assert_eq!(a.reads[0].target, 0x10);
        // A data load through adrp (CinderX reads _cinderx.so's globals this way): not a
        // literal of the function, whatever page it reads.
        let data = [adrp(0, 5), ldr_uimm(23, 0, 2), RET];
        let a = analyse(&data, &bytes(&data), &walk(&data, &[0]), Some(base));
        assert!(a.reads.is_empty(), "{:?}", a.reads);
        // The same load into x16 but not followed by blr x16 is a data load too.
        let no_call = [adrp(16, 0), ldr_uimm(16, 16, 2), RET, 0, 0];
        let a = analyse(
            &no_call,
            &bytes(&no_call),
            &walk(&no_call, &[0]),
            Some(base),
        );
        assert!(a.reads.is_empty(), "{:?}", a.reads);
    }

    #[test]
    fn an_untracked_call_is_named_by_its_last_write() {
        let kinds = |words: &[u32]| -> Vec<Kind> {
            analyse(words, &bytes(words), &walk(words, &[0]), None)
                .sites
                .iter()
                .map(|s| s.kind)
                .collect()
        };
        // ldr x16, [x0, #8]; blr x16: loaded from memory.
        let loaded = kinds(&[ldr_uimm(16, 0, 1), BLR_X16, RET]);
        assert_eq!(loaded, [Kind::Call(CallKind::LoadedBlr)]);
        // mov x16, x0; blr x16: a copy of an untracked value.
        let copied = kinds(&[0xAA00_03F0, BLR_X16, RET]);
        assert_eq!(copied, [Kind::Call(CallKind::OtherBlr)]);
        // ldr d0, [x0]; blr x0: a SIMD load does not make x0 loaded.
        let simd = kinds(&[0xFD40_0000, 0xD63F_0000, RET]);
        assert_eq!(simd, [Kind::Call(CallKind::OtherBlr)]);
        // ldr x16, [x0]; add x16, x16, #4; blr x16: arithmetic on a loaded value.
        let added = kinds(&[ldr_uimm(16, 0, 0), 0x9100_1210, BLR_X16, RET]);
        assert_eq!(added, [Kind::Call(CallKind::OtherBlr)]);
        // ldr x16, [x0]; br x16: an untracked branch stays indirect.
        let branch = kinds(&[ldr_uimm(16, 0, 0), 0xD61F_0200]);
        assert_eq!(branch, [Kind::BrIndirect]);
    }
}
