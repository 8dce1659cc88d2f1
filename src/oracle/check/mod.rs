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
use rustc_hash::FxHashMap;
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

mod pcrel;
pub use self::pcrel::{is_pc_relative, named_address, pc_relative, proof_scope, PcRel};

thread_local! {
    static CACHE: RefCell<FxHashMap<u32, Option<String>>> = RefCell::new(Default::default());
    /// (word, meant instruction, [`proof_scope`]) triples already proved equal, as
    /// [`proof_key`]`(word, scope)` → the instruction last proved for them: the proof holds at
    /// every pc of the same scope (every pc, for a word that is not pc-relative). Keyed by the
    /// word and scope alone so that a lookup hashes one integer; the instruction is compared on
    /// a hit, so a word meant as another instruction is checked again (and replaces it).
    static VERIFIED: RefCell<FxHashMap<u64, Inst>> = RefCell::new(Default::default());
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

/// The [`VERIFIED`] key of `word` in proof scope `scope`.
fn proof_key(word: u32, scope: u8) -> u64 {
    u64::from(word) << 8 | u64::from(scope)
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
                let pc = e.code.base + u64::from(off);
                let key = proof_key(word, proof_scope(word, pc));
                if VERIFIED.with(|v| v.borrow().get(&key) == Some(inst)) {
                    continue;
                }
                let meant = inst.render(pc);
                match decode_word(word, pc) {
                    Some(got) if got == meant => VERIFIED.with(|v| {
                        let mut v = v.borrow_mut();
                        if v.len() > 1 << 20 {
                            v.clear();
                        }
                        v.insert(key, *inst);
                    }),
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
            | Slot::Inst(Inst::Cbz { offset, .. })
            | Slot::Inst(Inst::Tbz { offset, .. })
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
    let mut eval = SiteEval {
        e,
        site,
        regs: [None; 32],
        linked: None,
        off: u64::from(site.start),
    };
    let len = e.code.bytes.len() as u64;
    for _ in 0..16 {
        if eval.off >= len || e.code.is_data(eval.off as u32) {
            return Err(eval.err("control reaches data or leaves the code".into()));
        }
        let Slot::Inst(inst) = e.code.slots[(eval.off / 4) as usize] else {
            unreachable!()
        };
        match eval.step(inst)? {
            Some(next) => eval.off = next,
            None => return Ok(()),
        }
    }
    Err(eval.err("call sequence longer than 16 instructions".into()))
}

/// The evaluation of one call site: what each register holds (`None`: not set by the
/// sequence), the return address once linked, and the offset being evaluated.
struct SiteEval<'a> {
    e: &'a Emitted,
    site: &'a CallSite,
    regs: [Option<u64>; 32],
    linked: Option<u64>,
    off: u64,
}

impl SiteEval<'_> {
    fn err(&self, m: String) -> CheckError {
        CheckError {
            offset: self.off as u32,
            message: format!("call #{} (h{}): {m}", self.site.index, self.site.helper),
        }
    }

    fn get(&self, r: u8) -> Result<u64, CheckError> {
        self.regs[r as usize]
            .ok_or_else(|| self.err(format!("x{r} read before the sequence set it")))
    }

    /// Invariant 5 of the buffer: a call sequence writes only x16 and x17 (x30 by the link).
    fn write(&mut self, r: u8, v: u64) -> Result<(), CheckError> {
        if r != 16 && r != 17 {
            return Err(self.err(format!("writes x{r}; a call sequence may only use x16/x17")));
        }
        self.regs[r as usize] = Some(v);
        Ok(())
    }

    /// The 8 bytes at offset `lit` of the function.
    fn quad(&self, lit: u64) -> u64 {
        let at = lit as usize;
        u64::from_le_bytes(self.e.code.bytes[at..at + 8].try_into().unwrap())
    }

    /// Evaluate `inst` at the current offset: `Some(next offset)`, or `None` once control has
    /// reached the helper correctly.
    fn step(&mut self, inst: Inst) -> Result<Option<u64>, CheckError> {
        let pc = self.e.code.base + self.off;
        if let (Some(l), Inst::Bl { .. } | Inst::Blr { .. }) = (self.linked, inst) {
            return Err(self.err(format!(
                "second link at {pc:#x} (the first returns to {l:#x})"
            )));
        }
        match inst {
            Inst::Movz { rd, imm16, hw } => self.write(rd, u64::from(imm16) << (16 * hw))?,
            Inst::Movn { rd, imm16, hw } => self.write(rd, !(u64::from(imm16) << (16 * hw)))?,
            Inst::Movk { rd, imm16, hw } => {
                let sh = 16 * u32::from(hw);
                let v = (self.get(rd)? & !(0xFFFF << sh)) | (u64::from(imm16) << sh);
                self.write(rd, v)?
            }
            Inst::Adrp { rd, pages } => self.write(
                rd,
                (pc & !0xFFF).wrapping_add(((pages as i64) << 12) as u64),
            )?,
            Inst::AddImm { rd, rn, imm12 } => {
                let v = self.get(rn)?.wrapping_add(u64::from(imm12));
                self.write(rd, v)?
            }
            Inst::LdrLit { rt, offset } => {
                let v = self.literal(self.off as i64 + i64::from(offset))?;
                self.write(rt, v)?
            }
            Inst::LdrImm { rt, rn, imm12 } => {
                let addr = self.get(rn)?.wrapping_add(8 * u64::from(imm12));
                let v = self.pool_entry(addr)?;
                self.write(rt, v)?
            }
            Inst::Bl { offset } => {
                let dest = pc.wrapping_add(offset as i64 as u64);
                self.linked = Some(pc + 4);
                let base = self.e.code.base;
                if dest >= base && dest < base + self.e.code.bytes.len() as u64 {
                    return Ok(Some(dest - base));
                }
                return self.arrive(dest).map(|()| None);
            }
            Inst::Blr { rn } => {
                let dest = self.get(rn)?;
                self.linked = Some(pc + 4);
                return self.arrive(dest).map(|()| None);
            }
            Inst::Br { rn } => return self.arrive(self.get(rn)?).map(|()| None),
            other => {
                return Err(self.err(format!(
                    "unexpected `{}` in a call sequence",
                    other.render(pc)
                )))
            }
        }
        Ok(Some(self.off + 4))
    }

    /// The value of an `ldr` literal at byte offset `lit`: an 8-byte-aligned word of pool or
    /// stub data inside the function.
    fn literal(&self, lit: i64) -> Result<u64, CheckError> {
        let len = self.e.code.bytes.len() as i64;
        if lit < 0 || lit + 8 > len {
            return Err(self.err(format!(
                "literal at offset {lit:#x} is outside the function"
            )));
        }
        if lit % 8 != 0 {
            return Err(self.err(format!("literal at offset {lit:#x} is not 8-byte aligned")));
        }
        if !self.e.code.is_data(lit as u32) || !self.e.code.is_data(lit as u32 + 4) {
            return Err(self.err(format!(
                "literal at offset {lit:#x} is not pool or stub data"
            )));
        }
        Ok(self.quad(lit as u64))
    }

    /// The value a load through a computed address (`adrp; ldr [x, #lo12]`) reads: exactly one
    /// 8-byte-aligned entry of the literal pool.
    fn pool_entry(&self, addr: u64) -> Result<u64, CheckError> {
        let len = self.e.code.bytes.len() as u64;
        let lit = addr.wrapping_sub(self.e.code.base);
        if lit >= len || lit + 8 > len {
            return Err(self.err(format!("loads {addr:#x}, outside the function")));
        }
        if !addr.is_multiple_of(8) {
            return Err(self.err(format!(
                "loads {addr:#x} (offset {lit:#x}), not 8-byte aligned"
            )));
        }
        let entry = self.e.code.pool.iter().any(|r| {
            let (s, t) = (u64::from(r.start), u64::from(r.end));
            s <= lit && lit + 8 <= t && (lit - s).is_multiple_of(8)
        });
        if !entry {
            return Err(self.err(format!(
                "loads {addr:#x} (offset {lit:#x}), not an entry of the literal pool"
            )));
        }
        Ok(self.quad(lit))
    }

    /// Control leaves the function for `dest`: it must be the site's helper, with the link
    /// register at the end of the sequence.
    fn arrive(&self, dest: u64) -> Result<(), CheckError> {
        let site = self.site;
        if dest != site.target {
            return Err(self.err(format!(
                "transfers to {dest:#x}, but h{} is at {:#x}",
                site.helper, site.target
            )));
        }
        let ret = self.e.code.base + u64::from(site.ret);
        match self.linked {
            Some(r) if r == ret => Ok(()),
            Some(r) => Err(self.err(format!(
                "returns to {r:#x}, not to the end of the sequence {ret:#x}"
            ))),
            None => Err(self.err("leaves without setting the return address".into())),
        }
    }
}

#[cfg(test)]
mod tests;
