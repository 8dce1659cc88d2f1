//! Minimal ELF64 files for the verifier's tests: CinderX-like code dumps and stripped
//! executables with `.dynsym` and `.eh_frame`. Layout: headers, then every section's data from
//! file offset 0x1000 (16-byte aligned, in order), then `.shstrtab` and the section headers.
//! Allocated sections live at `base + offset`; one `PT_LOAD` maps the whole file at `base`.

pub const SHT_PROGBITS: u32 = 1;
pub const SHT_STRTAB: u32 = 3;
pub const SHT_NOTE: u32 = 7;
pub const SHT_DYNSYM: u32 = 11;
const ALLOC: u64 = 2;
const EXEC: u64 = 4;

/// One section.
pub struct Section {
    pub name: &'static str,
    pub ty: u32,
    pub flags: u64,
    pub data: Vec<u8>,
    pub link: u32,
    pub info: u32,
    pub entsize: u64,
}

fn align(v: usize, a: usize) -> usize {
    v.div_ceil(a) * a
}

/// File offset of section `k` (0-based, without the null section) given the sections' sizes.
pub fn offset_of(sizes: &[usize], k: usize) -> usize {
    let mut off = 0x1000;
    for &s in &sizes[..k] {
        off = align(off, 16) + s;
    }
    align(off, 16)
}

/// Build an ELF64 file of type `e_type` (2 = EXEC, 3 = DYN).
pub fn build(e_type: u16, base: u64, secs: &[Section]) -> Vec<u8> {
    let sizes: Vec<usize> = secs.iter().map(|s| s.data.len()).collect();
    let mut out = vec![0u8; 0x1000];
    let mut shstr = vec![0u8];
    let mut headers = vec![[0u8; 64]];
    for (k, s) in secs.iter().enumerate() {
        out.resize(offset_of(&sizes, k), 0);
        let off = out.len() as u64;
        out.extend(&s.data);
        let addr = if s.flags & ALLOC != 0 { base + off } else { 0 };
        headers.push(shdr(
            shstr.len() as u32,
            s.ty,
            s.flags,
            addr,
            off,
            s.data.len() as u64,
            s.link,
            s.info,
            s.entsize,
        ));
        shstr.extend(s.name.as_bytes());
        shstr.push(0);
    }
    let name = shstr.len() as u32;
    shstr.extend(b".shstrtab\0");
    headers.push(shdr(
        name,
        SHT_STRTAB,
        0,
        0,
        out.len() as u64,
        shstr.len() as u64,
        0,
        0,
        0,
    ));
    out.extend(&shstr);
    out.resize(align(out.len(), 8), 0);
    let shoff = out.len() as u64;
    for h in &headers {
        out.extend(h);
    }
    let total = out.len() as u64;
    let mut h = Vec::new();
    h.extend(b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0");
    h.extend(e_type.to_le_bytes());
    h.extend(62u16.to_le_bytes()); // x86-64, as CinderX writes even on aarch64
    h.extend(1u32.to_le_bytes());
    h.extend(0u64.to_le_bytes());
    h.extend(64u64.to_le_bytes()); // phoff
    h.extend(shoff.to_le_bytes());
    h.extend(0u32.to_le_bytes());
    for v in [
        64u16,
        56,
        1,
        64,
        headers.len() as u16,
        headers.len() as u16 - 1,
    ] {
        h.extend(v.to_le_bytes());
    }
    for v in [1u32, 5] {
        h.extend(v.to_le_bytes()); // PT_LOAD, R+X
    }
    for v in [0, base, base, total, total, 0x1000] {
        h.extend(v.to_le_bytes());
    }
    out[..h.len()].copy_from_slice(&h);
    out
}

#[allow(clippy::too_many_arguments)]
fn shdr(
    name: u32,
    ty: u32,
    flags: u64,
    addr: u64,
    off: u64,
    size: u64,
    link: u32,
    info: u32,
    entsize: u64,
) -> [u8; 64] {
    let mut h = Vec::with_capacity(64);
    h.extend(name.to_le_bytes());
    h.extend(ty.to_le_bytes());
    for v in [flags, addr, off, size] {
        h.extend(v.to_le_bytes());
    }
    h.extend(link.to_le_bytes());
    h.extend(info.to_le_bytes());
    h.extend(8u64.to_le_bytes());
    h.extend(entsize.to_le_bytes());
    h.try_into().unwrap()
}

/// `.dynsym` and `.dynstr` data for global functions (name, value, size) in section `shndx`.
pub fn dynsym(syms: &[(&str, u64, u64)], shndx: u16) -> (Vec<u8>, Vec<u8>) {
    let (mut tab, mut strs) = (vec![0u8; 24], vec![0u8]);
    for &(name, value, size) in syms {
        tab.extend((strs.len() as u32).to_le_bytes());
        tab.extend([0x12, 0]); // GLOBAL FUNC
        tab.extend(shndx.to_le_bytes());
        tab.extend(value.to_le_bytes());
        tab.extend(size.to_le_bytes());
        strs.extend(name.as_bytes());
        strs.push(0);
    }
    (tab, strs)
}

fn sec(name: &'static str, ty: u32, flags: u64, data: Vec<u8>, link: u32, entsize: u64) -> Section {
    Section {
        name,
        ty,
        flags,
        data,
        link,
        info: u32::from(ty == SHT_DYNSYM),
        entsize,
    }
}

/// A CinderX-like dump: functions (name, bytes, normal entry offset) packed in `.text` from
/// 0x1000, a `.dynsym` naming them and a `.note.pyfunc` giving each one's normal entry.
pub fn dump(funcs: &[(&str, &[u8], u32)]) -> Vec<u8> {
    let mut text = Vec::new();
    let mut syms = Vec::new();
    let mut notes = Vec::new();
    for &(name, bytes, normal) in funcs {
        syms.push((name, 0x1000 + text.len() as u64, bytes.len() as u64));
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
        notes.resize(align(notes.len(), 4), 0);
        notes.extend(&desc);
        notes.resize(align(notes.len(), 4), 0);
    }
    let (tab, strs) = dynsym(&syms, 1);
    build(
        3,
        0,
        &[
            sec(".text", SHT_PROGBITS, ALLOC | EXEC, text, 0, 0),
            sec(".dynsym", SHT_DYNSYM, ALLOC, tab, 3, 24),
            sec(".dynstr", SHT_STRTAB, ALLOC, strs, 0, 0),
            sec(".note.pyfunc", SHT_NOTE, ALLOC, notes, 0, 0),
        ],
    )
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

/// A stripped ELF file of type `e_type` (2 = EXEC, 3 = DYN) loaded at `base`: `text_len` bytes of `.text` at
/// `base + 0x1000`, `.dynsym` functions (name, address), and `.eh_frame` FDEs (pcrel).
pub fn image(
    e_type: u16,
    base: u64,
    text_len: usize,
    funcs: &[(&str, u64)],
    fdes: &[u64],
) -> Vec<u8> {
    let syms: Vec<(&str, u64, u64)> = funcs.iter().map(|&(n, a)| (n, a, 16)).collect();
    let (tab, strs) = dynsym(&syms, 1);
    let eh_addr = base + offset_of(&[text_len], 1) as u64;
    build(
        e_type,
        base,
        &[
            sec(".text", SHT_PROGBITS, ALLOC | EXEC, vec![0; text_len], 0, 0),
            sec(
                ".eh_frame",
                SHT_PROGBITS,
                ALLOC,
                eh_frame(0x1b, eh_addr, fdes),
                0,
                0,
            ),
            sec(".dynsym", SHT_DYNSYM, ALLOC, tab, 4, 24),
            sec(".dynstr", SHT_STRTAB, ALLOC, strs, 0, 0),
        ],
    )
}
