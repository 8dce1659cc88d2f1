//! A CinderX code dump (`_cinderx.dump_elf`): every compiled function's bytes and entries.
//!
//! The dump is an ELF64 file (its header says x86-64 even on aarch64; the machine field is
//! ignored). `.text` holds the functions packed one after another from 0x1000; a function
//! symbol (`.dynsym`, or `.symtab` in hand-made dumps) names each with its value and size. The
//! `.note.pyfunc` section has one note per function (name = the symbol's name, type 0x30a05f0)
//! whose description is: u32 file-name length, the file name, u32 first line, u32 bytecode hash,
//! u32 code size, u32 normal (vectorcall) entry offset, u32 static entry offset or 0xffffffff
//! (CinderX `elf/writer.cpp` `writeFuncNote`). Those offsets are the entries besides the start.

use object::read::elf::ElfFile64;
use object::{Object, ObjectSection, ObjectSymbol, SymbolKind};

/// The note type CinderX gives function notes.
pub const NOTE_TYPE: u32 = 0x030a_05f0;
/// No static entry.
const NO_ENTRY: u32 = 0xffff_ffff;

/// One function of the dump.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DumpFn {
    /// `module:qualname`.
    pub name: String,
    /// Address in the dump.
    pub addr: u64,
    /// Its bytes.
    pub bytes: Vec<u8>,
    /// Entry offsets: 0, and the note's normal and static entries when present.
    pub entries: Vec<u32>,
}

/// Parse a dump.
pub fn parse(d: &[u8]) -> Result<Vec<DumpFn>, String> {
    let f = ElfFile64::<object::Endianness>::parse(d)
        .map_err(|e| format!("not an ELF64 code dump ({e})"))?;
    let text = f.section_by_name(".text").ok_or("no .text section")?;
    let tdata = text.data().map_err(|e| format!(".text is cut off ({e})"))?;
    let notes = match f.section_by_name(".note.pyfunc") {
        Some(s) => parse_notes(
            s.data()
                .map_err(|e| format!(".note.pyfunc is cut off ({e})"))?,
        )?,
        None => Vec::new(),
    };
    let syms: Vec<_> = if f.dynamic_symbols().next().is_some() {
        f.dynamic_symbols().collect()
    } else {
        f.symbols().collect()
    };
    let mut out = Vec::new();
    for s in syms {
        if s.kind() != SymbolKind::Text || s.size() == 0 {
            continue;
        }
        let name = s
            .name()
            .map_err(|e| format!("bad symbol name ({e})"))?
            .to_string();
        let (addr, size) = (s.address(), s.size());
        let off = addr
            .checked_sub(text.address())
            .filter(|o| o.checked_add(size).is_some_and(|e| e <= tdata.len() as u64))
            .ok_or_else(|| {
                format!("function {name} ({addr:#x}, {size} bytes) lies outside .text")
            })?;
        if addr % 4 != 0 || size % 4 != 0 {
            return Err(format!(
                "function {name} is not word-aligned ({addr:#x}, {size} bytes)"
            ));
        }
        let bytes = tdata[off as usize..(off + size) as usize].to_vec();
        let mut entries = vec![0u32];
        let k = out.iter().filter(|g: &&DumpFn| g.name == name).count();
        if let Some(n) = notes.iter().filter(|n| n.0 == name).nth(k) {
            for e in [n.1, n.2] {
                if e == NO_ENTRY {
                    continue;
                }
                if u64::from(e) >= size || e % 4 != 0 {
                    return Err(format!(
                        "function {name}: note entry offset {e:#x} is outside its {size} bytes"
                    ));
                }
                if !entries.contains(&e) {
                    entries.push(e);
                }
            }
        }
        out.push(DumpFn {
            name,
            addr,
            bytes,
            entries,
        });
    }
    Ok(out)
}

fn u32_at(d: &[u8], o: usize) -> Result<u32, String> {
    d.get(o..o.saturating_add(4))
        .filter(|b| b.len() == 4)
        .map(|b| u32::from_le_bytes(b.try_into().unwrap()))
        .ok_or_else(|| format!(".note.pyfunc is truncated at byte {o:#x}"))
}

/// (name, normal entry offset, static entry offset) per function note.
fn parse_notes(d: &[u8]) -> Result<Vec<(String, u32, u32)>, String> {
    let align4 = |n: usize| n.div_ceil(4) * 4;
    let mut out = Vec::new();
    let mut o = 0;
    while o < d.len() {
        let (namesz, descsz, ty) = (
            u32_at(d, o)? as usize,
            u32_at(d, o + 4)? as usize,
            u32_at(d, o + 8)?,
        );
        let name_at = o + 12;
        let desc_at = name_at + align4(namesz);
        let end = desc_at + align4(descsz);
        if end > d.len() || namesz == 0 {
            return Err(format!(
                ".note.pyfunc: note at byte {o:#x} runs past the section"
            ));
        }
        if ty == NOTE_TYPE {
            let name = String::from_utf8_lossy(&d[name_at..name_at + namesz - 1]).into_owned();
            let desc = &d[desc_at..desc_at + descsz];
            let flen = u32_at(desc, 0)? as usize;
            let at = 4usize.saturating_add(flen).saturating_add(12);
            out.push((name, u32_at(desc, at)?, u32_at(desc, at + 4)?));
        }
        o = end;
    }
    Ok(out)
}
