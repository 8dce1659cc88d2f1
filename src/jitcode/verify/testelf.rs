//! Minimal ELF64 files for the verifier's tests, written with `object`'s ELF writer: CinderX-like
//! code dumps and stripped executables with `.dynsym` and `.eh_frame`. Layout: headers, then
//! `.text` from file offset 0x1000, the other sections after it in order (16-byte aligned;
//! `.dynsym` and `.dynstr` as the writer aligns them), then `.shstrtab` and the section headers.
//! Allocated sections live at `base + offset`; one `PT_LOAD` maps the whole file at `base`.

use object::elf;
use object::read::elf::ElfFile64;
use object::write::elf::{FileHeader, ProgramHeader, SectionHeader, Sym, Writer};
use object::write::StringId;
use object::{Object, ObjectSection};

/// A section given by its contents (`.dynsym`/`.dynstr` are made from the symbols).
struct Raw {
    name: &'static str,
    ty: elf::SectionType,
    flags: u64,
    data: Vec<u8>,
}

const TEXT_OFFSET: u64 = 0x1000;
const ALIGN: u64 = 16;
const ALLOC: u64 = elf::SHF_ALLOC.0;
const EXEC: u64 = elf::SHF_EXECINSTR.0;

/// An ELF64 file of type `e_type` loaded at `base`: the sections `before` (the first is
/// `.text`, at file offset 0x1000 and section index 1), then `.dynsym`/`.dynstr` of the global
/// functions `syms` (name, value, size; defined in `.text`), then the sections `after`.
struct Elf<'a> {
    e_type: elf::FileType,
    base: u64,
    before: &'a [Raw],
    syms: &'a [(&'a str, u64, u64)],
    after: &'a [Raw],
}

/// Where the writer's first phase put everything.
struct Reserved {
    name_ids: Vec<StringId>,
    str_ids: Vec<StringId>,
    /// File offsets of `before`'s sections, then `after`'s.
    offsets: Vec<u64>,
    dynsym: u64,
    dynstr: u64,
    total: u64,
}

impl Elf<'_> {
    fn build(&self) -> Vec<u8> {
        let mut out = Vec::new();
        let mut w = Writer::new(object::Endianness::Little, true, &mut out);
        let r = self.reserve(&mut w);
        self.write(&mut w, &r);
        out
    }

    /// Phase 1: names, section indices (in header order) and file space (in file order).
    fn reserve<'w>(&'w self, w: &mut Writer<'w>) -> Reserved {
        let secs = self.before.iter().chain(self.after);
        let name_ids = secs
            .map(|s| w.add_section_name(s.name.as_bytes()))
            .collect();
        let str_ids = self
            .syms
            .iter()
            .map(|s| w.add_dynamic_string(s.0.as_bytes()))
            .collect();
        w.reserve_null_section_index();
        for _ in self.before {
            w.reserve_section_index();
        }
        w.reserve_dynsym_section_index();
        w.reserve_dynstr_section_index();
        for _ in self.after {
            w.reserve_section_index();
        }
        w.reserve_shstrtab_section_index();
        w.reserve_file_header();
        w.reserve_program_headers(1);
        w.reserve_until(TEXT_OFFSET);
        let mut offsets: Vec<u64> = (self.before.iter())
            .map(|s| w.reserve(s.data.len() as u64, ALIGN))
            .collect();
        w.reserve_null_dynamic_symbol_index();
        for _ in self.syms {
            w.reserve_dynamic_symbol_index();
        }
        let dynsym = w.reserve_dynsym();
        let dynstr = w.reserve_dynstr().expect("dynamic strings fit");
        offsets.extend(
            self.after
                .iter()
                .map(|s| w.reserve(s.data.len() as u64, ALIGN)),
        );
        w.reserve_shstrtab().expect("section names fit");
        w.reserve_section_headers();
        Reserved {
            name_ids,
            str_ids,
            offsets,
            dynsym,
            dynstr,
            total: w.reserved_len(),
        }
    }

    /// Phase 2: everything, in the order phase 1 reserved it.
    fn write(&self, w: &mut Writer, r: &Reserved) {
        w.write_file_header(&FileHeader {
            os_abi: elf::ELFOSABI_NONE,
            abi_version: 0,
            e_type: self.e_type,
            e_machine: elf::EM_X86_64, // as CinderX writes its dumps, even on aarch64
            e_entry: 0,
            e_flags: elf::FileFlags(0),
        })
        .expect("a fixed ELF header writes");
        w.write_align_program_headers();
        w.write_program_header(&ProgramHeader {
            p_type: elf::PT_LOAD,
            p_flags: elf::PF_R | elf::PF_X,
            p_offset: 0,
            p_vaddr: self.base,
            p_paddr: self.base,
            p_filesz: r.total,
            p_memsz: r.total,
            p_align: 0x1000,
        });
        let (first, rest) = r.offsets.split_at(self.before.len());
        write_data(w, self.before, first);
        self.write_symbols(w, &r.str_ids);
        write_data(w, self.after, rest);
        w.write_shstrtab();
        w.write_null_section_header();
        let (names_before, names_after) = r.name_ids.split_at(self.before.len());
        write_headers(w, self.base, self.before, first, names_before);
        w.write_dynsym_section_header(self.base + r.dynsym, 1);
        w.write_dynstr_section_header(self.base + r.dynstr);
        write_headers(w, self.base, self.after, rest, names_after);
        w.write_shstrtab_section_header();
    }

    /// `.dynsym` (global functions in section 1) and `.dynstr`.
    fn write_symbols(&self, w: &mut Writer, str_ids: &[StringId]) {
        w.write_null_dynamic_symbol();
        for (&(_, value, size), &id) in self.syms.iter().zip(str_ids) {
            w.write_dynamic_symbol(&Sym {
                section: Some(1),
                st_name: w.dynamic_string_offset(Some(id)),
                st_info: elf::SymbolInfo::new(elf::STB_GLOBAL, elf::STT_FUNC),
                st_other: elf::SymbolOther(0),
                st_shndx: elf::SymbolSection(0),
                st_value: value,
                st_size: size,
            });
        }
        w.write_dynstr();
    }
}

/// Each section's data at its reserved offset.
fn write_data(w: &mut Writer, secs: &[Raw], offsets: &[u64]) {
    for (s, &off) in secs.iter().zip(offsets) {
        w.pad_until(off);
        w.write(&s.data);
    }
}

/// The section headers of `secs` (at `offsets`, named `ids`) for a file loaded at `base`.
fn write_headers(w: &mut Writer, base: u64, secs: &[Raw], offsets: &[u64], ids: &[StringId]) {
    for ((s, &off), &id) in secs.iter().zip(offsets).zip(ids) {
        w.write_section_header(&SectionHeader {
            sh_name: w.section_name_offset(Some(id)),
            sh_type: s.ty,
            sh_flags: elf::SectionFlags(s.flags),
            sh_addr: if s.flags & ALLOC != 0 { base + off } else { 0 },
            sh_offset: off,
            sh_size: s.data.len() as u64,
            sh_link: 0,
            sh_info: 0,
            sh_addralign: ALIGN,
            sh_entsize: 0,
        });
    }
}

fn align4(v: &mut Vec<u8>) {
    v.resize(v.len().div_ceil(4) * 4, 0);
}

/// A CinderX-like dump: functions (name, bytes, normal entry offset) packed in `.text` from
/// 0x1000, a `.dynsym` naming them and a `.note.pyfunc` giving each one's normal entry.
pub fn dump(funcs: &[(&str, &[u8], u32)]) -> Vec<u8> {
    let mut text = Vec::new();
    let mut syms = Vec::new();
    let mut notes = Vec::new();
    for &(name, bytes, normal) in funcs {
        syms.push((name, TEXT_OFFSET + text.len() as u64, bytes.len() as u64));
        text.extend(bytes);
        let file = b"test.py";
        let mut desc = (file.len() as u32).to_le_bytes().to_vec();
        desc.extend(file);
        for v in [1u32, 0xabcd, bytes.len() as u32, normal, 0xffff_ffff] {
            desc.extend(v.to_le_bytes());
        }
        desc.push(0);
        for v in [
            name.len() as u32 + 1,
            desc.len() as u32,
            super::dump::NOTE_TYPE,
        ] {
            notes.extend(v.to_le_bytes());
        }
        notes.extend(name.as_bytes());
        notes.push(0);
        align4(&mut notes);
        notes.extend(&desc);
        align4(&mut notes);
    }
    let text = raw_text(text);
    let note = Raw {
        name: ".note.pyfunc",
        ty: elf::SHT_NOTE,
        flags: ALLOC,
        data: notes,
    };
    Elf {
        e_type: elf::ET_DYN,
        base: 0,
        before: &[text],
        syms: &syms,
        after: &[note],
    }
    .build()
}

fn raw_text(data: Vec<u8>) -> Raw {
    Raw {
        name: ".text",
        ty: elf::SHT_PROGBITS,
        flags: ALLOC | EXEC,
        data,
    }
}

/// `.eh_frame` data: one "zR" CIE with FDE pointer encoding `enc` (0x1b pcrel sdata4, or 0x00
/// absolute), one FDE per start, for a section loaded at `addr`.
pub fn eh_frame(enc: u8, addr: u64, starts: &[u64]) -> Vec<u8> {
    let mut d = vec![];
    let cie = [
        &[0u8, 0, 0, 0][..],
        &[1, b'z', b'R', 0, 4, 0x78, 30, 1, enc],
        &[0, 0, 0],
    ]
    .concat();
    d.extend((cie.len() as u32).to_le_bytes());
    d.extend(&cie);
    for &s in starts {
        let fde_start = d.len();
        let mut body = ((fde_start + 4) as u32).to_le_bytes().to_vec();
        let field = addr + fde_start as u64 + 8;
        match enc {
            0x1b => body.extend((s.wrapping_sub(field) as u32).to_le_bytes()),
            _ => body.extend(s.to_le_bytes()),
        }
        body.extend([0x10, 0, 0, 0, 0, 0, 0, 0]);
        d.extend((body.len() as u32).to_le_bytes());
        d.extend(body);
    }
    d.extend([0, 0, 0, 0]);
    d
}

/// A stripped ELF file of type `e_type` loaded at `base`: `text_len` bytes of `.text` at
/// `base + 0x1000`, `.dynsym` functions (name, address), and `.eh_frame` FDEs (pcrel).
pub fn image(
    e_type: elf::FileType,
    base: u64,
    text_len: usize,
    funcs: &[(&str, u64)],
    fdes: &[u64],
) -> Vec<u8> {
    let syms: Vec<(&str, u64, u64)> = funcs.iter().map(|&(n, a)| (n, a, 16)).collect();
    let with_eh_frame = |eh_addr| {
        let eh = Raw {
            name: ".eh_frame",
            ty: elf::SHT_PROGBITS,
            flags: ALLOC,
            data: eh_frame(0x1b, eh_addr, fdes),
        };
        Elf {
            e_type,
            base,
            before: &[raw_text(vec![0; text_len]), eh],
            syms: &syms,
            after: &[],
        }
        .build()
    };
    // The FDEs are pc-relative: lay the file out once to learn where `.eh_frame` lands (its
    // size does not depend on its address), then encode them for that address.
    let probe = with_eh_frame(0);
    let eh_addr = ElfFile64::<object::Endianness>::parse(probe.as_slice())
        .ok()
        .and_then(|f| f.section_by_name(".eh_frame").map(|s| s.address()))
        .expect("the probe has an .eh_frame");
    with_eh_frame(eh_addr)
}
