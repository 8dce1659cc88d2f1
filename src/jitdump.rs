//! Classify the call sequences in a real JIT's code dump (CinderX's `_cinderx.dump_elf`).
//!
//! The dump is an ELF64 file whose `.text` holds every compiled function and whose `.dynsym`
//! names each one (`module:qualname`, value and size). Its header claims x86-64 even on aarch64,
//! so the machine field is ignored: every word is decoded as AArch64 with capstone.
//!
//! In each function: a `ldr x16, [pc+8]; br x16` pair followed by 8 bytes of data is a stub; the
//! 8 bytes after it and every `ldr` literal's target are data and are not decoded. Each `bl` is a
//! direct call (target outside the function), a call through a stub, or a local call (deopt exits
//! and other in-function targets). Each `blr xN` is classified by the last instruction before it,
//! within 8, that wrote xN: a literal load (pool), `mov`/`movk` immediates, `adrp`, a load from
//! memory, or a register move.

use crate::check::decode_word;
use std::collections::BTreeMap;

/// A function in the dump.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DumpFunction {
    /// `module:qualname`.
    pub name: String,
    /// Address in the dump.
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
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CallKind {
    /// `bl` to a target outside the function.
    DirectBl,
    /// `bl` to a stub in the function.
    BlStub,
    /// `bl` to another place in the function (deopt exits, local subroutines).
    BlLocal,
    /// `blr` after a literal load.
    LdrLiteralBlr,
    /// `blr` after `mov`/`movk` immediates.
    MovImmBlr,
    /// `blr` after `adrp`.
    AdrpBlr,
    /// `blr` of a register loaded from memory.
    LoadedBlr,
    /// `blr` of a register copied from another register or set earlier.
    OtherBlr,
}

impl CallKind {
    /// Every kind, in report order.
    pub const ALL: [CallKind; 8] = [
        CallKind::DirectBl,
        CallKind::BlStub,
        CallKind::BlLocal,
        CallKind::LdrLiteralBlr,
        CallKind::MovImmBlr,
        CallKind::AdrpBlr,
        CallKind::LoadedBlr,
        CallKind::OtherBlr,
    ];

    /// Report name.
    pub fn name(self) -> &'static str {
        match self {
            CallKind::DirectBl => "bl direct",
            CallKind::BlStub => "bl->stub",
            CallKind::BlLocal => "bl local",
            CallKind::LdrLiteralBlr => "ldr-literal+blr",
            CallKind::MovImmBlr => "movz/movk+blr",
            CallKind::AdrpBlr => "adrp+blr",
            CallKind::LoadedBlr => "ldr [mem]+blr",
            CallKind::OtherBlr => "blr other",
        }
    }
}

fn u16_at(d: &[u8], o: usize) -> Result<u64, String> {
    d.get(o..o + 2)
        .map(|b| u64::from(u16::from_le_bytes([b[0], b[1]])))
        .ok_or_else(|| format!("truncated ELF at byte {o}"))
}
fn u32_at(d: &[u8], o: usize) -> Result<u64, String> {
    d.get(o..o + 4)
        .map(|b| u64::from(u32::from_le_bytes(b.try_into().unwrap())))
        .ok_or_else(|| format!("truncated ELF at byte {o}"))
}
fn u64_at(d: &[u8], o: usize) -> Result<u64, String> {
    d.get(o..o + 8)
        .map(|b| u64::from_le_bytes(b.try_into().unwrap()))
        .ok_or_else(|| format!("truncated ELF at byte {o}"))
}

struct Section {
    name: String,
    addr: u64,
    offset: u64,
    size: u64,
    link: u64,
}

fn sections(d: &[u8]) -> Result<Vec<Section>, String> {
    if d.get(..4) != Some(b"\x7fELF") || d.get(4) != Some(&2) || d.get(5) != Some(&1) {
        return Err("not a little-endian ELF64 file".into());
    }
    let shoff = u64_at(d, 0x28)? as usize;
    let shentsize = u16_at(d, 0x3A)? as usize;
    let shnum = u16_at(d, 0x3C)? as usize;
    let shstrndx = u16_at(d, 0x3E)? as usize;
    let raw = |i: usize| -> Result<(u64, u64, u64, u64, u64), String> {
        let b = shoff + i * shentsize;
        Ok((
            u32_at(d, b)?,
            u64_at(d, b + 0x10)?,
            u64_at(d, b + 0x18)?,
            u64_at(d, b + 0x20)?,
            u32_at(d, b + 0x28)?,
        ))
    };
    let (_, _, stroff, _, _) = raw(shstrndx)?;
    let mut out = Vec::new();
    for i in 0..shnum {
        let (name_off, addr, offset, size, link) = raw(i)?;
        out.push(Section {
            name: cstr(d, (stroff + name_off) as usize)?,
            addr,
            offset,
            size,
            link,
        });
    }
    Ok(out)
}

fn cstr(d: &[u8], o: usize) -> Result<String, String> {
    let tail = d
        .get(o..)
        .ok_or_else(|| format!("string offset {o} outside the file"))?;
    let end = tail
        .iter()
        .position(|&b| b == 0)
        .ok_or("unterminated string")?;
    Ok(String::from_utf8_lossy(&tail[..end]).into_owned())
}

/// Parse a dump and classify every function in it.
pub fn classify(d: &[u8]) -> Result<Vec<DumpFunction>, String> {
    let secs = sections(d)?;
    let text = secs
        .iter()
        .find(|s| s.name == ".text")
        .ok_or("no .text section")?;
    let (symtab_i, symtab) = secs
        .iter()
        .enumerate()
        .find(|(_, s)| s.name == ".dynsym" || s.name == ".symtab")
        .ok_or("no symbol table")?;
    let strtab = secs
        .get(symtab.link as usize)
        .ok_or_else(|| format!("symbol table {symtab_i} links to a missing string table"))?;
    let mut funcs = Vec::new();
    for k in 1..(symtab.size / 24) {
        let b = (symtab.offset + 24 * k) as usize;
        let name = cstr(d, (strtab.offset + u32_at(d, b)?) as usize)?;
        let info = d.get(b + 4).copied().ok_or("truncated symbol")?;
        let (value, size) = (u64_at(d, b + 8)?, u64_at(d, b + 16)?);
        if info & 0xF != 2 || size == 0 {
            continue; // not a function
        }
        if value < text.addr || value + size > text.addr + text.size {
            return Err(format!("function {name} lies outside .text"));
        }
        let o = (text.offset + value - text.addr) as usize;
        let bytes = d
            .get(o..o + size as usize)
            .ok_or_else(|| format!("function {name} is cut off"))?;
        funcs.push(classify_function(name, value, bytes));
    }
    Ok(funcs)
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

/// Classify one function's bytes placed at `addr`.
pub fn classify_function(name: String, addr: u64, bytes: &[u8]) -> DumpFunction {
    let words: Vec<u32> = bytes
        .chunks_exact(4)
        .map(|c| u32::from_le_bytes(c.try_into().unwrap()))
        .collect();
    let n = words.len();
    let mut data = vec![false; n];
    let mut stub_at = vec![false; n];
    let mut stubs = 0;
    for i in 0..n.saturating_sub(3) {
        if !data[i] && words[i] == LDR_X16_PC8 && words[i + 1] == BR_X16 {
            stub_at[i] = true;
            data[i + 2] = true;
            data[i + 3] = true;
            stubs += 1;
        }
    }
    // Literal targets are data too.
    for i in 0..n {
        let w = words[i];
        if !data[i] && (w & 0xFF00_0000) == 0x5800_0000 {
            let imm = ((w >> 5) & 0x7FFFF) as i64;
            let off = ((imm << 45) >> 45) * 4;
            let t = i as i64 + off / 4;
            if t >= 0 && (t as usize) + 1 < n && !stub_at[i] {
                data[t as usize] = true;
                data[t as usize + 1] = true;
            }
        }
    }
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
            for j in (i.saturating_sub(8)..i).rev() {
                let Some(p) = &text[j] else { continue };
                if let Some(k) = blr_kind_after(p, reg) {
                    kind = k;
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
    use crate::emit::{emit, EmitOptions};
    use crate::gen::{from_seed, Profile};
    use crate::strategy;

    /// The classifier, run on a64call's own emitted code, must find exactly the sequences the
    /// emitter reports (a second, independent view of the same bytes).
    #[test]
    fn classifies_a64calls_own_strategies_exactly() {
        let p = from_seed(1, &Profile::named("far64").unwrap());
        for (name, kind) in [
            ("stub", "bl->stub"),
            ("pool", "ldr-literal+blr"),
            ("movz-min", "movz/movk+blr"),
            ("movz-fixed4", "movz/movk+blr"),
        ] {
            let e = emit(
                &p,
                strategy::by_name(name).unwrap(),
                &EmitOptions::default(),
            )
            .unwrap();
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
            ..Profile::named("far64").unwrap()
        };
        let p = from_seed(2, &near);
        let e = emit(
            &p,
            strategy::by_name("stub+bl").unwrap(),
            &EmitOptions::default(),
        )
        .unwrap();
        let f = classify_function("near".into(), e.code.base, &e.code.bytes);
        assert_eq!(f.calls.get("bl direct").copied(), Some(64), "{:?}", f.calls);
    }

    #[test]
    fn malformed_dumps_are_errors() {
        assert!(classify(b"not an elf")
            .unwrap_err()
            .contains("not a little-endian ELF64"));
        let mut d = vec![0u8; 64];
        d[..6].copy_from_slice(b"\x7fELF\x02\x01");
        assert!(classify(&d).is_err());
    }
}
