//! Function entries of the files mapped into the guest, placed at their guest addresses, and
//! the resolution of a call target to a known entry.
//!
//! A file's entries are its defined function symbols (`.dynsym`, and `.symtab` when not
//! stripped) and every `.eh_frame` FDE start. Each executable mapping of the file gives its
//! load bias: the mapping starts at file offset `o`, which the `PT_LOAD` covering `o` puts at
//! `p_vaddr - p_offset + o`; the bias is the mapping's start minus that, and every executable
//! mapping of one file must agree. A target resolves only to an exact entry: an address inside
//! a function, in a file whose symbols are unavailable, in anonymous memory no JIT symbol names,
//! or outside every executable mapping is reported as unresolved with the reason.

use super::ehframe;
use super::maps::Mapping;
use object::read::elf::{ElfFile64, FileHeader, ProgramHeader};
use object::{Object, ObjectSection, ObjectSymbol, SymbolKind};
use std::collections::BTreeMap;

/// Where an entry was found.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Source {
    /// A function symbol (`.dynsym` or `.symtab`).
    Symbol,
    /// An `.eh_frame` FDE start.
    EhFrame,
    /// A JIT function in the dump (start, normal or static entry).
    Dump,
    /// Other JIT code named by the perf map.
    PerfMap,
}

impl Source {
    /// Report name.
    pub fn name(self) -> &'static str {
        match self {
            Source::Symbol => "symbol",
            Source::EhFrame => "eh_frame",
            Source::Dump => "jit",
            Source::PerfMap => "perf-map",
        }
    }
}

/// The function entries of one ELF file, at its own (unbiased) addresses.
#[derive(Clone, Debug, Default)]
pub struct ElfEntries {
    /// Entry address -> (source, name).
    pub entries: BTreeMap<u64, (Source, String)>,
    /// `PT_LOAD` segments: (p_offset, p_vaddr, p_filesz).
    pub loads: Vec<(u64, u64, u64)>,
}

/// Read the function entries of an ELF64 file.
pub fn elf_entries(data: &[u8]) -> Result<ElfEntries, String> {
    let f = ElfFile64::<object::Endianness>::parse(data)
        .map_err(|e| format!("not an ELF64 file ({e})"))?;
    let endian = f.endian();
    let mut out = ElfEntries::default();
    for ph in f
        .elf_header()
        .program_headers(endian, data)
        .map_err(|e| format!("bad program headers ({e})"))?
    {
        if ph.p_type(endian) == object::elf::PT_LOAD {
            out.loads
                .push((ph.p_offset(endian), ph.p_vaddr(endian), ph.p_filesz(endian)));
        }
    }
    for sym in f.dynamic_symbols().chain(f.symbols()) {
        if sym.kind() == SymbolKind::Text && sym.is_definition() && sym.address() != 0 {
            let name = sym.name().unwrap_or("?").to_string();
            out.entries
                .entry(sym.address())
                .or_insert((Source::Symbol, name));
        }
    }
    if let Some(s) = f.section_by_name(".eh_frame") {
        let d = s
            .data()
            .map_err(|e| format!(".eh_frame unreadable ({e})"))?;
        let starts = ehframe::fde_starts(d, s.address()).map_err(|e| format!(".eh_frame: {e}"))?;
        for a in starts {
            out.entries
                .entry(a)
                .or_insert_with(|| (Source::EhFrame, format!("FDE@{a:#x}")));
        }
    }
    Ok(out)
}

/// A mapped file with its entries placed in the guest (or the reason they are unavailable).
#[derive(Clone, Debug)]
pub struct Image {
    /// Path as the maps name it.
    pub path: String,
    /// Guest address minus file address; `Err` says why the file's entries are unknown.
    pub placed: Result<(u64, ElfEntries), String>,
}

impl Image {
    /// Short name for reports (file name).
    pub fn short(&self) -> &str {
        self.path.rsplit('/').next().unwrap_or(&self.path)
    }
}

/// The load bias of `elf` given its executable mappings.
pub fn load_bias(elf: &ElfEntries, maps: &[&Mapping]) -> Result<u64, String> {
    let mut bias = None;
    for m in maps {
        let ph = elf
            .loads
            .iter()
            .find(|&&(off, _, size)| off & !0xfff <= m.offset && m.offset < off + size.max(1))
            .ok_or_else(|| {
                format!(
                    "no PT_LOAD covers file offset {:#x} mapped at {:#x}",
                    m.offset, m.start
                )
            })?;
        let vaddr = ph.1.wrapping_sub(ph.0).wrapping_add(m.offset);
        let b = m.start.wrapping_sub(vaddr);
        if bias.is_some_and(|x| x != b) {
            return Err(format!(
                "executable mappings disagree on the load bias ({:#x} at {:#x})",
                b, m.start
            ));
        }
        bias = Some(b);
    }
    bias.ok_or_else(|| "no executable mapping".to_string())
}

/// How a target resolved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Resolution {
    /// The entry of a known function.
    Entry {
        /// Where the entry comes from.
        source: Source,
        /// `file:symbol`, `file:FDE@addr`, `jit:module:qualname`, ...
        name: String,
    },
    /// Not the entry of any known function; says why.
    Unresolved(String),
}

/// The guest's address space: mappings, mapped files' entries, and JIT entries.
#[derive(Clone, Debug, Default)]
pub struct AddressSpace {
    /// Every mapping.
    pub maps: Vec<Mapping>,
    /// Every file with an executable mapping.
    pub images: Vec<Image>,
    /// JIT entries (dump functions placed by the perf map, other perf-map code).
    pub jit: BTreeMap<u64, (Source, String)>,
}

impl AddressSpace {
    /// Resolve a call or branch target.
    pub fn resolve(&self, addr: u64) -> Resolution {
        let Some(m) = self.maps.iter().find(|m| m.start <= addr && addr < m.end) else {
            return Resolution::Unresolved(format!("{addr:#x} is not mapped"));
        };
        let where_ = if m.path.is_empty() {
            "anonymous memory".to_string()
        } else {
            m.path.clone()
        };
        if !m.exec() {
            return Resolution::Unresolved(format!(
                "{addr:#x} is in a non-executable mapping ({where_})"
            ));
        }
        if !m.file_backed() {
            return match self.jit.get(&addr) {
                Some((s, n)) => Resolution::Entry { source: *s, name: n.clone() },
                None => Resolution::Unresolved(format!(
                    "{addr:#x} is in executable {where_} but is not the entry of any JIT function the dump or perf map names"
                )),
            };
        }
        let Some(img) = self.images.iter().find(|i| i.path == m.path) else {
            return Resolution::Unresolved(format!(
                "{addr:#x} is in {where_}, which was not loaded"
            ));
        };
        let (bias, elf) = match &img.placed {
            Ok(p) => p,
            Err(e) => {
                return Resolution::Unresolved(format!(
                    "{addr:#x} is in {where_}, whose entries are unknown: {e}"
                ))
            }
        };
        let fa = addr.wrapping_sub(*bias);
        match elf.entries.get(&fa) {
            Some((s, n)) => Resolution::Entry {
                source: *s,
                name: format!("{}:{n}", img.short()),
            },
            None => {
                let near = elf
                    .entries
                    .range(..fa)
                    .next_back()
                    .map(|(a, (_, n))| format!(" ({n}+{:#x})", fa - a));
                Resolution::Unresolved(format!(
                    "{addr:#x} is inside {} at file address {fa:#x}{} but not at a function entry",
                    img.short(),
                    near.unwrap_or_default()
                ))
            }
        }
    }
}
