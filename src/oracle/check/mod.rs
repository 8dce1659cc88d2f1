//! The static oracle: capstone decodes every emitted instruction word, and each call site is
//! proved to reach its helper.
//!
//! 1. **Encoding.** Every code slot is decoded by capstone (an independent decoder) at its real
//!    address and must print exactly what the slot's [`Inst`] says it meant
//!    ([`Inst::render`]); data slots (pool entries, stub literals, padding) are never decoded.
//! 2. **Layout.** Every data range is preceded by an instruction that never falls through, and
//!    no branch inside the function lands in data.
//! 3. **Call sites.** Starting at each site's first instruction, the decoded instructions are
//!    evaluated (mov-immediates, literal loads read from the real bytes, adrp/add, adrp/ldr
//!    with an immediate offset, bl into a stub and the stub's br) until control leaves the
//!    function. The site must transfer to the program's helper address, with x30 = the site's
//!    recorded return address, writing no register but x16, x17 and x30; every literal it loads
//!    with `ldr` (literal) must be an 8-byte-aligned entry inside a data range, and every one it
//!    loads through a computed address (`adrp x16; ldr x16, [x16, #lo12]`) must be 8-byte
//!    aligned and exactly one entry of the literal pool.
//!
//! The checker knows no strategy: it sees only bytes, slots, data and pool ranges and call sites.

use crate::asm::buffer::Slot;
use crate::asm::encode::Inst;
use crate::emit::{CallSite, Emitted};
use capstone::arch::BuildsCapstone;
use capstone::Capstone;
use std::cell::RefCell;

/// A failed static check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckError {
    /// Byte offset in the function where the problem is.
    pub offset: u32,
    /// What is wrong.
    pub message: String,
}

impl std::fmt::Display for CheckError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "at offset {:#x}: {}", self.offset, self.message)
    }
}

impl std::error::Error for CheckError {}

thread_local! {
    static CS: RefCell<Capstone> = RefCell::new(
        Capstone::new()
            .arm64()
            .mode(capstone::arch::arm64::ArchMode::Arm)
            .build()
            .expect("capstone for aarch64"),
    );
}

thread_local! {
    static CACHE: RefCell<std::collections::HashMap<u32, Option<String>>> = RefCell::new(Default::default());
    /// (word, meant instruction) pairs already proved equal, for words that are not
    /// pc-relative: capstone's text for those depends on the word alone, so the proof holds at
    /// every address.
    static VERIFIED: RefCell<std::collections::HashSet<(u32, Inst)>> = RefCell::new(Default::default());
}

/// Is `word` in one of the A64 encoding classes whose disassembly depends on the pc
/// (B/BL, B.cond, CBZ/CBNZ, TBZ/TBNZ, LDR literal, ADR/ADRP)? Classified from the raw bits,
/// independent of what the emitter meant.
pub fn is_pc_relative(word: u32) -> bool {
    (word & 0x7C00_0000) == 0x1400_0000
        || (word & 0xFF00_0010) == 0x5400_0000
        || (word & 0x7E00_0000) == 0x3400_0000
        || (word & 0x7E00_0000) == 0x3600_0000
        || (word & 0x3B00_0000) == 0x1800_0000
        || (word & 0x1F00_0000) == 0x1000_0000
}

/// Decode one word at `pc` with capstone: `Some("mnemonic operands")`, or `None` if capstone
/// does not decode it. Words that are not pc-relative decode the same at every pc, so their
/// text is cached per thread.
pub fn decode_word(word: u32, pc: u64) -> Option<String> {
    if is_pc_relative(word) {
        return decode_uncached(word, pc);
    }
    CACHE.with(|c| {
        let mut c = c.borrow_mut();
        if c.len() > 1 << 20 {
            c.clear();
        }
        c.entry(word)
            .or_insert_with(|| decode_uncached(word, pc))
            .clone()
    })
}

fn decode_uncached(word: u32, pc: u64) -> Option<String> {
    CS.with(|cs| {
        let cs = cs.borrow();
        let insns = cs.disasm_count(&word.to_le_bytes(), pc, 1).ok()?;
        let i = insns.iter().next()?;
        let m = i.mnemonic().unwrap_or("");
        let o = i.op_str().unwrap_or("");
        Some(if o.is_empty() {
            m.to_string()
        } else {
            format!("{m} {o}")
        })
    })
}

/// Capstone's listing of byte range `range` of `e` (data slots shown as data, never decoded),
/// annotated with call sites.
pub fn disassemble(e: &Emitted, range: std::ops::Range<u32>) -> String {
    let mut out = String::new();
    let end = range.end.min(e.code.bytes.len() as u32);
    let mut off = range.start & !3;
    while off < end {
        let pc = e.code.base + u64::from(off);
        let word = word_at(e, off);
        let text = if e.code.is_data(off) {
            ".word (data)".to_string()
        } else {
            decode_word(word, pc).unwrap_or_else(|| "<undecodable>".into())
        };
        let note = e
            .sites
            .iter()
            .find(|s| s.start == off)
            .map(|s| {
                format!(
                    "    ; call #{} -> h{} ({})",
                    s.index,
                    s.helper,
                    s.choice.kind.name()
                )
            })
            .unwrap_or_default();
        out.push_str(&format!("  {pc:#014x}  {word:08x}  {text}{note}\n"));
        off += 4;
    }
    out
}

fn word_at(e: &Emitted, off: u32) -> u32 {
    let o = off as usize;
    u32::from_le_bytes(e.code.bytes[o..o + 4].try_into().expect("in range"))
}

/// Run all three checks on `e`, whose call sites were emitted for the helpers named in them.
pub fn check(e: &Emitted) -> Result<(), CheckError> {
    check_encoding(e)?;
    check_layout(e)?;
    for site in &e.sites {
        check_site(e, site)?;
    }
    Ok(())
}

/// Check 1: capstone prints exactly the meant instruction for every code slot.
pub fn check_encoding(e: &Emitted) -> Result<(), CheckError> {
    if e.code.bytes.len() != e.code.slots.len() * 4 {
        return Err(CheckError {
            offset: 0,
            message: "byte length does not match the slots".into(),
        });
    }
    for (i, slot) in e.code.slots.iter().enumerate() {
        let off = (i * 4) as u32;
        let word = word_at(e, off);
        match slot {
            Slot::Data(d) => {
                if !e.code.is_data(off) || *d != word {
                    return Err(CheckError {
                        offset: off,
                        message: "data slot not recorded as data".into(),
                    });
                }
            }
            Slot::Inst(inst) => {
                if e.code.is_data(off) {
                    return Err(CheckError {
                        offset: off,
                        message: "instruction inside a data range".into(),
                    });
                }
                let cacheable = !is_pc_relative(word);
                if cacheable && VERIFIED.with(|v| v.borrow().contains(&(word, *inst))) {
                    continue;
                }
                let pc = e.code.base + u64::from(off);
                let meant = inst.render(pc);
                match decode_word(word, pc) {
                    Some(got) if got == meant => {
                        if cacheable {
                            VERIFIED.with(|v| {
                                let mut v = v.borrow_mut();
                                if v.len() > 1 << 20 {
                                    v.clear();
                                }
                                v.insert((word, *inst));
                            });
                        }
                    }
                    Some(got) => {
                        return Err(CheckError {
                            offset: off,
                            message: format!(
                            "capstone decodes {word:08x} as `{got}`, the emitter meant `{meant}`"
                        ),
                        })
                    }
                    None => {
                        return Err(CheckError {
                            offset: off,
                            message: format!(
                                "capstone cannot decode {word:08x}; the emitter meant `{meant}`"
                            ),
                        })
                    }
                }
            }
        }
    }
    Ok(())
}

/// Check 2: data is never reached by falling through or by a branch inside the function.
pub fn check_layout(e: &Emitted) -> Result<(), CheckError> {
    for r in &e.code.data {
        let prev = r
            .start
            .checked_sub(4)
            .and_then(|o| e.code.slots.get((o / 4) as usize));
        match prev {
            Some(Slot::Inst(i)) if i.is_terminator() => {}
            _ => {
                return Err(CheckError {
                    offset: r.start,
                    message: "data follows an instruction that can fall through into it".into(),
                })
            }
        }
    }
    let len = e.code.bytes.len() as i64;
    for (i, slot) in e.code.slots.iter().enumerate() {
        let off = (i * 4) as i64;
        let dest = match slot {
            Slot::Inst(Inst::B { offset })
            | Slot::Inst(Inst::BCond { offset, .. })
            | Slot::Inst(Inst::Bl { offset }) => off + i64::from(*offset),
            _ => continue,
        };
        if (0..len).contains(&dest) && e.code.is_data(dest as u32) {
            return Err(CheckError {
                offset: off as u32,
                message: format!("branch lands in data at offset {dest:#x}"),
            });
        }
    }
    Ok(())
}

/// Check 3: evaluate one call site's instructions and prove it calls its helper.
pub fn check_site(e: &Emitted, site: &CallSite) -> Result<(), CheckError> {
    let base = e.code.base;
    let len = e.code.bytes.len() as u64;
    let err = |off: u64, m: String| CheckError {
        offset: off as u32,
        message: format!("call #{} (h{}): {m}", site.index, site.helper),
    };
    let mut regs: [Option<u64>; 32] = [None; 32];
    let mut off = u64::from(site.start);
    let mut linked: Option<u64> = None;
    for _ in 0..16 {
        if off >= len || e.code.is_data(off as u32) {
            return Err(err(off, "control reaches data or leaves the code".into()));
        }
        let Slot::Inst(inst) = e.code.slots[(off / 4) as usize] else {
            unreachable!()
        };
        let pc = base + off;
        let get = |regs: &[Option<u64>; 32], r: u8| {
            regs[r as usize]
                .ok_or_else(|| err(off, format!("x{r} read before the sequence set it")))
        };
        let write = |regs: &mut [Option<u64>; 32], r: u8, v: u64| {
            if r != 16 && r != 17 {
                return Err(err(
                    off,
                    format!("writes x{r}; a call sequence may only use x16/x17"),
                ));
            }
            regs[r as usize] = Some(v);
            Ok(())
        };
        if let (Some(l), Inst::Bl { .. } | Inst::Blr { .. }) = (linked, inst) {
            return Err(err(
                off,
                format!("second link at {pc:#x} (the first returns to {l:#x})"),
            ));
        }
        let mut next = off + 4;
        match inst {
            Inst::Movz { rd, imm16, hw } => write(&mut regs, rd, u64::from(imm16) << (16 * hw))?,
            Inst::Movn { rd, imm16, hw } => write(&mut regs, rd, !(u64::from(imm16) << (16 * hw)))?,
            Inst::Movk { rd, imm16, hw } => {
                let v = get(&regs, rd)?;
                let sh = 16 * u32::from(hw);
                write(
                    &mut regs,
                    rd,
                    (v & !(0xFFFF << sh)) | (u64::from(imm16) << sh),
                )?
            }
            Inst::Adrp { rd, pages } => write(
                &mut regs,
                rd,
                (pc & !0xFFF).wrapping_add(((pages as i64) << 12) as u64),
            )?,
            Inst::AddImm { rd, rn, imm12 } => {
                let v = get(&regs, rn)?;
                write(&mut regs, rd, v.wrapping_add(u64::from(imm12)))?
            }
            Inst::LdrLit { rt, offset } => {
                let lit = off as i64 + i64::from(offset);
                if lit < 0 || lit as u64 + 8 > len {
                    return Err(err(
                        off,
                        format!("literal at offset {lit:#x} is outside the function"),
                    ));
                }
                if lit % 8 != 0 {
                    return Err(err(
                        off,
                        format!("literal at offset {lit:#x} is not 8-byte aligned"),
                    ));
                }
                if !e.code.is_data(lit as u32) || !e.code.is_data(lit as u32 + 4) {
                    return Err(err(
                        off,
                        format!("literal at offset {lit:#x} is not pool or stub data"),
                    ));
                }
                let v = u64::from_le_bytes(
                    e.code.bytes[lit as usize..lit as usize + 8]
                        .try_into()
                        .unwrap(),
                );
                write(&mut regs, rt, v)?
            }
            Inst::LdrImm { rt, rn, imm12 } => {
                let addr = get(&regs, rn)?.wrapping_add(8 * u64::from(imm12));
                let lit = addr.wrapping_sub(base);
                if lit >= len || lit + 8 > len {
                    return Err(err(off, format!("loads {addr:#x}, outside the function")));
                }
                if !addr.is_multiple_of(8) {
                    return Err(err(
                        off,
                        format!("loads {addr:#x} (offset {lit:#x}), not 8-byte aligned"),
                    ));
                }
                let entry = e.code.pool.iter().any(|r| {
                    let (s, t) = (u64::from(r.start), u64::from(r.end));
                    s <= lit && lit + 8 <= t && (lit - s) % 8 == 0
                });
                if !entry {
                    return Err(err(
                        off,
                        format!(
                            "loads {addr:#x} (offset {lit:#x}), not an entry of the literal pool"
                        ),
                    ));
                }
                let v = u64::from_le_bytes(
                    e.code.bytes[lit as usize..lit as usize + 8]
                        .try_into()
                        .unwrap(),
                );
                write(&mut regs, rt, v)?
            }
            Inst::Bl { offset } => {
                let dest = pc.wrapping_add(offset as i64 as u64);
                linked = Some(pc + 4);
                if dest >= base && dest < base + len {
                    next = dest - base;
                } else {
                    return finish(site, base, dest, linked, off, &err);
                }
            }
            Inst::Blr { rn } => {
                let dest = get(&regs, rn)?;
                linked = Some(pc + 4);
                return finish(site, base, dest, linked, off, &err);
            }
            Inst::Br { rn } => {
                let dest = get(&regs, rn)?;
                return finish(site, base, dest, linked, off, &err);
            }
            other => {
                return Err(err(
                    off,
                    format!("unexpected `{}` in a call sequence", other.render(pc)),
                ))
            }
        }
        off = next;
    }
    Err(err(off, "call sequence longer than 16 instructions".into()))
}

fn finish(
    site: &CallSite,
    base: u64,
    dest: u64,
    linked: Option<u64>,
    off: u64,
    err: &dyn Fn(u64, String) -> CheckError,
) -> Result<(), CheckError> {
    if dest != site.target {
        return Err(err(
            off,
            format!(
                "transfers to {dest:#x}, but h{} is at {:#x}",
                site.helper, site.target
            ),
        ));
    }
    match linked {
        Some(r) if r == base + u64::from(site.ret) => Ok(()),
        Some(r) => Err(err(
            off,
            format!(
                "returns to {r:#x}, not to the end of the sequence {:#x}",
                base + u64::from(site.ret)
            ),
        )),
        None => Err(err(off, "leaves without setting the return address".into())),
    }
}

#[cfg(test)]
mod tests;
