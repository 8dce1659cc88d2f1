//! Classify the call sequences in a real JIT's code dump (CinderX's `_cinderx.dump_elf`).
//!
//! The dump is read by [`crate::jitcode::verify::dump`]: every function's bytes and its entries (the
//! start, and the normal and static entries CinderX's `.note.pyfunc` records). Every word is
//! decoded as AArch64 with capstone, whatever machine the ELF header claims.
//!
//! Which words are instructions is decided by following control flow from those entries
//! ([`crate::jitcode::verify::reach`]), not by a linear sweep: a word no path reaches is data (a literal,
//! a stub's `.quad`, an unreferenced pointer whose low half might encode `bl`) and is never
//! classified. A reached `ldr x16, [pc+8]; br x16` pair is a stub. Each `bl` is a direct call
//! (target outside the function), a call through a stub, or a local call (deopt exits and other
//! in-function targets). Each `blr xN` is classified by the last instruction before it, within
//! 8, that wrote xN: a literal load (pool), `mov`/`movk` immediates, `adrp`, a load from memory,
//! or a register move. A load `ldr xN, [xM, #off]` whose base xM was last written (within the
//! same 8) by `adrp xM` is the relaxed form of a literal load (asmjit's `adrp; ldr` for a literal
//! beyond the ±1 MiB of `ldr`, functions over 1 MiB) when its address lands in the function's
//! data: that call is `adrp+ldr-literal+blr`. The dump places functions at addresses of its own,
//! not their real ones, so the `adrp` page is known only up to the real address's offset in its
//! 4 KiB page: the address must land in the function's data for some such offset (`a64call
//! verify`, which has the real address, checks the exact literal).

use crate::jitcode::parse_imm;
use crate::oracle::check::decode_word;
use crate::Named;
use std::collections::BTreeMap;

/// A function in the dump (`a64call classify --json` prints these, without the address).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct DumpFunction {
    /// `module:qualname`.
    pub name: String,
    /// Address in the dump.
    #[serde(skip)]
    pub addr: u64,
    /// Size in bytes.
    pub size: u64,
    /// Call sequences by kind (see [`CallKind::name`]).
    pub calls: BTreeMap<&'static str, u64>,
    /// Stubs (`ldr x16, [pc+8]; br x16; .quad`).
    pub stubs: u64,
    /// Words that are data (stub literals, pool entries).
    pub data_words: u64,
}

/// Kinds of call sequence.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    strum::VariantArray,
    strum::IntoStaticStr,
    strum::EnumString,
)]
pub enum CallKind {
    /// `bl` to a target outside the function.
    #[strum(to_string = "bl direct")]
    DirectBl,
    /// `bl` to a stub in the function.
    #[strum(to_string = "bl->stub")]
    BlStub,
    /// `bl` to another place in the function (deopt exits, local subroutines).
    #[strum(to_string = "bl local")]
    BlLocal,
    /// `blr` after a literal load.
    #[strum(to_string = "ldr-literal+blr")]
    LdrLiteralBlr,
    /// `blr` after `adrp` + `ldr [xN, #off]` of a literal in the function (the relaxed form of a
    /// literal load, functions over 1 MiB).
    #[strum(to_string = "adrp+ldr-literal+blr")]
    AdrpLdrLiteralBlr,
    /// `blr` after `mov`/`movk` immediates.
    #[strum(to_string = "movz/movk+blr")]
    MovImmBlr,
    /// `blr` after `adrp`.
    #[strum(to_string = "adrp+blr")]
    AdrpBlr,
    /// `blr` of a register loaded from memory.
    #[strum(to_string = "ldr [mem]+blr")]
    LoadedBlr,
    /// `blr` of a register copied from another register or set earlier.
    #[strum(to_string = "blr other")]
    OtherBlr,
}

impl crate::Named for CallKind {
    const WHAT: &'static str = "call kind";
}

impl CallKind {
    /// The kinds [`crate::jitcode::counts`] can tell apart from an executed call and the one word before
    /// it (all but [`CallKind::AdrpLdrLiteralBlr`], whose `adrp` is two words back: the counter
    /// sees `ldr xN, [xN, #off]` and counts it as `ldr [mem]+blr`).
    pub const COUNTED: [CallKind; 8] = [
        CallKind::DirectBl,
        CallKind::BlStub,
        CallKind::BlLocal,
        CallKind::LdrLiteralBlr,
        CallKind::MovImmBlr,
        CallKind::AdrpBlr,
        CallKind::LoadedBlr,
        CallKind::OtherBlr,
    ];
}

/// Parse a dump and classify every function in it.
pub fn classify(d: &[u8]) -> Result<Vec<DumpFunction>, String> {
    Ok(crate::jitcode::verify::dump::parse(d)?
        .into_iter()
        .map(|f| classify_with_entries(f.name, f.addr, &f.bytes, &f.entries))
        .collect())
}

/// `ldr x16, [pc+8]`: the first word of a stub.
pub const LDR_X16_PC8: u32 = 0x5800_0050;
/// `br x16`: the second word of a stub.
pub const BR_X16: u32 = 0xD61F_0200;

/// What a `blr reg` is when the capstone text `insn` is the last instruction before it that
/// writes `reg`; `None` when `insn` does not write `reg`.
pub fn blr_kind_after(insn: &str, reg: &str) -> Option<CallKind> {
    let mut parts = insn.splitn(2, ' ');
    let (m, ops) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    if ops.split(',').next().map(str::trim) != Some(reg) {
        return None;
    }
    Some(match m {
        "ldr" if ops.contains("#0x") && !ops.contains('[') => CallKind::LdrLiteralBlr,
        "mov" | "movz" | "movk" | "movn" if ops.contains('#') => CallKind::MovImmBlr,
        "adrp" | "add" => CallKind::AdrpBlr,
        "ldr" | "ldur" | "ldp" => CallKind::LoadedBlr,
        _ => CallKind::OtherBlr,
    })
}

/// If `load` (the capstone text of word `j`) is `ldr xT, [xM, #off]` and the last instruction
/// in `window..j` that writes xM is `adrp xM, #page`, the byte offset (from the function's start)
/// of a data word pair the load can read, for some offset of the function's real address in its
/// page (see the module documentation); `None` when there is none.
fn adrp_literal(
    text: &[Option<String>],
    data: &[bool],
    window: usize,
    j: usize,
    load: &str,
    addr: u64,
) -> Option<u64> {
    let ops = load.strip_prefix("ldr x")?;
    let (_, mem) = ops.split_once(", [")?;
    let mem = mem.strip_suffix(']')?;
    let (base, off) = match mem.split_once(", #") {
        Some((b, o)) => (b, parse_imm(o)?),
        None => (mem, 0),
    };
    if !base.starts_with('x') {
        return None;
    }
    // The last writer of the base register: a write is any instruction whose first operand
    // is that register (as blr_kind_after decides for the blr's register).
    let k = (window..j).rev().find(|&k| {
        text[k].as_deref().is_some_and(|t| {
            t.split_once(' ')
                .is_some_and(|(_, ops)| ops.split(',').next().map(str::trim) == Some(base))
        })
    })?;
    let page = parse_imm(
        text[k]
            .as_deref()?
            .strip_prefix("adrp ")?
            .split_once(", #")?
            .1,
    )?;
    // The adrp at dump address pc names page(pc) + 4096 * pages; at the real address it names
    // page(real pc) + 4096 * pages, so the literal is `base_off - r` bytes from the function's
    // start, r = the real pc's offset in its page, unknown.
    let pc = addr + 4 * k as u64;
    let pages = (page as i64 - (pc & !0xFFF) as i64) >> 12;
    let base_off = 4 * k as i64 + (pages << 12) + off as i64;
    let n = data.len() as i64;
    (0..1024i64)
        .map(|q| base_off - 4 * q)
        .filter(|&t| t >= 0 && t + 8 <= 4 * n)
        .find(|&t| data[(t / 4) as usize] && data[(t / 4 + 1) as usize])
        .map(|t| t as u64)
}

/// Classify one function's bytes placed at `addr`, entered only at its start.
#[cfg(test)]
pub(crate) fn classify_function(name: String, addr: u64, bytes: &[u8]) -> DumpFunction {
    classify_with_entries(name, addr, bytes, &[0])
}

/// Classify one function's bytes placed at `addr`, entered at the byte offsets `entries`.
pub fn classify_with_entries(
    name: String,
    addr: u64,
    bytes: &[u8],
    entries: &[u32],
) -> DumpFunction {
    let words = crate::jitcode::verify::reach::words(bytes);
    let n = words.len();
    let starts: Vec<usize> = entries.iter().map(|&e| e as usize / 4).collect();
    let data: Vec<bool> = crate::jitcode::verify::reach::walk(&words, &starts)
        .code
        .iter()
        .map(|c| !c)
        .collect();
    let stub_at: Vec<bool> = (0..n)
        .map(|i| !data[i] && words[i] == LDR_X16_PC8 && words.get(i + 1) == Some(&BR_X16))
        .collect();
    let stubs = stub_at.iter().filter(|&&s| s).count() as u64;
    let text: Vec<Option<String>> = (0..n)
        .map(|i| {
            if data[i] {
                None
            } else {
                decode_word(words[i], addr + 4 * i as u64)
            }
        })
        .collect();
    let mut calls: BTreeMap<&'static str, u64> = BTreeMap::new();
    let end = addr + 4 * n as u64;
    for i in 0..n {
        let Some(t) = &text[i] else { continue };
        let kind = if let Some(target) = t.strip_prefix("bl #0x") {
            let target = u64::from_str_radix(target, 16).unwrap_or(0);
            if target < addr || target >= end {
                CallKind::DirectBl
            } else if stub_at[((target - addr) / 4) as usize] {
                CallKind::BlStub
            } else {
                CallKind::BlLocal
            }
        } else if let Some(reg) = t.strip_prefix("blr ") {
            let reg = reg.trim();
            let mut kind = CallKind::OtherBlr;
            let window = i.saturating_sub(8);
            for j in (window..i).rev() {
                let Some(p) = &text[j] else { continue };
                if let Some(k) = blr_kind_after(p, reg) {
                    kind = k;
                    if k == CallKind::LoadedBlr
                        && adrp_literal(&text, &data, window, j, p, addr).is_some()
                    {
                        kind = CallKind::AdrpLdrLiteralBlr;
                    }
                    break;
                }
            }
            kind
        } else {
            continue;
        };
        *calls.entry(kind.name()).or_insert(0) += 1;
    }
    DumpFunction {
        name,
        addr,
        size: bytes.len() as u64,
        calls,
        stubs,
        data_words: data.iter().filter(|&&d| d).count() as u64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::asm::encode::Inst;
    use crate::emit::strategy::StrategyId;
    use crate::emit::{emit, EmitOptions};
    use crate::model::gen::from_seed;
    use crate::model::profile::Profile;

    /// The classifier, run on a64call's own emitted code, must find exactly the sequences the
    /// emitter reports (a second, independent view of the same bytes).
    #[test]
    fn classifies_a64calls_own_strategies_exactly() {
        let p = from_seed(1, &crate::model::profile::BuiltIn::Far64.profile());
        for (id, kind) in [
            (StrategyId::StubCall, "bl->stub"),
            (StrategyId::LiteralPool, "ldr-literal+blr"),
            (StrategyId::MovzMinimal, "movz/movk+blr"),
            (StrategyId::MovzFixed4, "movz/movk+blr"),
        ] {
            let name = id.name();
            let e = emit(&p, id.strategy(), &EmitOptions::default()).unwrap();
            let f = classify_function(name.into(), e.code.base, &e.code.bytes);
            assert_eq!(
                f.calls.get(kind).copied(),
                Some(64),
                "{name}: {:?}",
                f.calls
            );
            assert_eq!(f.calls.values().sum::<u64>(), 64, "{name}: {:?}", f.calls);
            assert_eq!(f.stubs, u64::from(e.code.sizes.stub_count));
        }
        let near = Profile {
            distance: (1, 0, 0),
            ..crate::model::profile::BuiltIn::Far64.profile()
        };
        let p = from_seed(2, &near);
        let e = emit(&p, StrategyId::StubOrBl.strategy(), &EmitOptions::default()).unwrap();
        let f = classify_function("near".into(), e.code.base, &e.code.bytes);
        assert_eq!(f.calls.get("bl direct").copied(), Some(64), "{:?}", f.calls);
    }

    /// The encoded instructions followed by `data` zero bytes.
    fn code_then_data(insts: &[Inst], data: usize) -> Vec<u8> {
        let mut b: Vec<u8> = insts
            .iter()
            .flat_map(|i| i.encode().unwrap().to_le_bytes())
            .collect();
        b.resize(b.len() + data, 0);
        b
    }

    /// A function over 1 MiB emitted at `base` with both literal-load forms: its first far call
    /// loads its literal, beyond `ldr`'s reach, as asmjit relaxes it (`adrp x16; ldr x16,
    /// [x16, #lo12]`), then 1 MiB of `nop`, a plain `ldr` literal call, `ret`, the pool.
    fn relaxed_and_plain_loads(base: u64) -> Vec<u8> {
        const NOPS: usize = 1 << 18;
        let pool = 4 * (NOPS as u64 + 6 + (NOPS as u64 + 6) % 2);
        let lit = base + pool;
        let mut w = vec![
            Inst::Adrp {
                rd: 16,
                pages: ((lit >> 12) - (base >> 12)) as i32,
            },
            Inst::LdrImm {
                rt: 16,
                rn: 16,
                imm12: ((lit & 0xfff) / 8) as u16,
            },
            Inst::Blr { rn: 16 },
        ];
        w.extend(std::iter::repeat_n(Inst::Nop, NOPS));
        let at = 4 * w.len() as u64;
        w.extend([
            Inst::LdrLit {
                rt: 16,
                offset: (pool - at) as i32,
            },
            Inst::Blr { rn: 16 },
            Inst::Ret,
        ]);
        let mut bytes = code_then_data(&w, 0);
        bytes.resize(pool as usize + 8, 0);
        bytes
    }

    /// Both pool forms over 1 MiB, counted exactly, whatever the dump address's offset in its
    /// page (the dump does not keep the real address).
    #[test]
    fn classifies_relaxed_pool_loads_over_one_mib() {
        const BASE: u64 = 0x7f00_0001_0000;
        let bytes = relaxed_and_plain_loads(BASE);
        assert!(bytes.len() > 1 << 20);
        for shift in [0, 0x10, 0x7f0, 0xff0] {
            let f = classify_function("big".into(), BASE + shift, &bytes);
            assert_eq!(
                f.calls.get("adrp+ldr-literal+blr").copied(),
                Some(1),
                "shift {shift:#x}: {:?}",
                f.calls
            );
            assert_eq!(f.calls.get("ldr-literal+blr").copied(), Some(1));
            assert_eq!(f.calls.values().sum::<u64>(), 2);
        }
        // An adrp+ldr whose address is far from the function's data is a load from memory.
        let far = |pages: i32| {
            let w = [
                Inst::Adrp { rd: 16, pages },
                Inst::LdrImm {
                    rt: 16,
                    rn: 16,
                    imm12: 2,
                },
                Inst::Blr { rn: 16 },
                Inst::Ret,
            ];
            classify_function("f".into(), 0x7f00_0000_0000, &code_then_data(&w, 24)).calls
        };
        assert_eq!(far(0).get("adrp+ldr-literal+blr"), Some(&1));
        assert_eq!(far(3).get("ldr [mem]+blr"), Some(&1));
        // asmjit's third form, an 8-byte slot found in range at relocation: `ldr; nop`.
        let w = [
            Inst::LdrLit { rt: 16, offset: 16 },
            Inst::Nop,
            Inst::Blr { rn: 16 },
            Inst::Ret,
        ];
        let f = classify_function("f".into(), 0x7f00_0000_0000, &code_then_data(&w, 8));
        assert_eq!(f.calls.get("ldr-literal+blr"), Some(&1), "{:?}", f.calls);
    }

    /// Eight words between two stubs that nothing reaches, two of them encoding `bl`, are data:
    /// a linear sweep would count them as a direct and a local call.
    #[test]
    fn unreferenced_words_between_stubs_are_not_calls() {
        let bl = |from: u32, to: u32| 0x9400_0000 | ((to - from) / 4);
        let stub = [LDR_X16_PC8, BR_X16, 0x40_1000, 0];
        let mut w = vec![bl(0, 16), bl(4, 64), 0xD65F_03C0, 0xD503_201F];
        w.extend(stub);
        w.extend([0x9400_0010, 0, 0x9400_0001, 0, 0, 0, 0, 0]);
        w.extend(stub);
        let bytes: Vec<u8> = w.iter().flat_map(|x| x.to_le_bytes()).collect();
        let f = classify_function("f".into(), 0x7f00_0000_0000, &bytes);
        assert_eq!(f.calls.get("bl->stub"), Some(&2), "{:?}", f.calls);
        assert_eq!(f.calls.values().sum::<u64>(), 2, "{:?}", f.calls);
        assert_eq!(
            (f.stubs, f.data_words),
            (2, 13),
            "4 stub literal words, 8 data, 1 nop"
        );
    }

    #[test]
    fn malformed_dumps_are_errors() {
        assert!(classify(b"not an elf")
            .unwrap_err()
            .contains("not an ELF64"));
        let mut d = vec![0u8; 64];
        d[..6].copy_from_slice(b"\x7fELF\x02\x01");
        assert!(classify(&d).is_err());
    }
}
