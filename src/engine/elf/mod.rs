//! The standalone static AArch64 ELF that runs a batch of images under qemu-user or natively.
//!
//! The ELF carries a start routine, a read-write state page (the only data it writes: the record
//! header and the current program's index) and, read-only, its tables (initial registers, the
//! signal action and stack, the timer, the programs and their segments) and a blob with their
//! code, so a stray write by one program into them faults instead of changing the programs after
//! it (one into the state page still lands: Unicorn faults there, so the engines disagree on that
//! program). For each
//! program, like a JIT, the start routine `mmap`s the code and helper pages read-write with
//! `MAP_FIXED_NOREPLACE`, copies the bytes in, cleans the data cache and invalidates the
//! instruction cache (`dc cvau`, `ic ivau`, `dsb ish`, `isb`; qemu ignores them, real hardware
//! needs them), `mprotect`s the pages read-execute, resets scratch, call log and stack, arms a
//! per-program timer, loads the initial registers and branches to the function with
//! `x30 = EXIT_ADDR`. The exit page saves every register; a signal handler on an alternate stack
//! saves the faulting state from the `ucontext` and resumes at the report routine. The report
//! routine writes one [`Record`] to stdout with raw `write` syscalls, unmaps the program and moves
//! on; the last program ends with `exit_group(0)`. A segment the next program also has (the same
//! address and bytes: a window's helper banks) is neither unmapped after one program nor mapped
//! and copied again for the next (its table entry's `loaded_before`/`keep_after`, set by the
//! host). A program whose pages cannot be mapped gets a map-failed record and ends the process
//! (no half-mapped program is left for the next); the host runs the rest in a new one.
//!
//! The output starts with the word [`STARTED`], written once the signal handlers are in place.
//! Then one record per program (little-endian u64 words): `MAGIC, index, status, signo,
//! fault_address, pc, x0..x30, sp, nzcv, log_len`, then the 4 KiB scratch buffer, then `log_len`
//! bytes of call log.

mod asm;
mod record;
mod routines;

pub use record::{after_started, parse_records, word, Record};

use crate::layout::{
    self, EXIT_ADDR, LOGCTL_ADDR, LOG_ADDR, LOG_BYTES, SCRATCH_ADDR, STACK_BASE, STACK_SIZE,
    STACK_TOP,
};
use crate::machine::runtime::Image;
use routines::{routines, Routines};

/// First word of every record.
pub const MAGIC: u64 = 0xA64C_A11E_0000_0001;
/// The word the start routine writes before any program runs: output without it comes from a
/// process in which the runner never started (a broken or wrong `qemu-aarch64`), never from a
/// program.
pub const STARTED: u64 = 0xA64C_A11E_5747_0000;
/// Record status: the function returned to EXIT_ADDR.
pub const STATUS_RETURNED: u64 = 0;
/// Record status: a signal stopped the function.
pub const STATUS_SIGNAL: u64 = 1;
/// Record status: the per-program timer expired.
pub const STATUS_TIMEOUT: u64 = 2;
/// Record status: the program's pages could not be mapped (mmap's result, a negated errno or
/// the address it chose instead, in the `fault` word).
pub const STATUS_MAP_FAILED: u64 = 3;
/// `log_len` value meaning the call-log cursor left the log region.
pub const LOG_CORRUPT: u64 = u64::MAX;

const ALTSTACK_ADDR: u64 = 0x0300_0000;
const ALTSTACK_SIZE: u64 = 0x1_0000;
/// The runner's state, read-write: the only page of the ELF's own data the start routine writes
/// (a zero-filled load: nothing in it comes from the file).
const DATA_ADDR: u64 = 0x0400_0000;
/// Bytes of the state page.
const DATA_BYTES: u64 = 0x1000;
const STATE: u64 = DATA_ADDR; // record header, word::COUNT words
const CUR: u64 = DATA_ADDR + 0x200; // current program index
/// The tables and the blob, read-only: a stray write by a program faults (as it does on every
/// engine, where nothing is mapped there) instead of changing the programs after it.
pub(crate) const TABLES_ADDR: u64 = DATA_ADDR + ALIGN;
pub(crate) const INITREGS: u64 = TABLES_ADDR; // 31 words
const SIGACT: u64 = TABLES_ADDR + 0x100; // struct sigaction (kernel layout)
const ITIMER_ON: u64 = TABLES_ADDR + 0x140;
const ITIMER_OFF: u64 = TABLES_ADDR + 0x160;
const SIGSTACK: u64 = TABLES_ADDR + 0x180;
const SCRATCH_TEMPLATE: u64 = TABLES_ADDR + 0x1000;
const NPROG: u64 = TABLES_ADDR + 0x2000; // number of programs
pub(crate) const PROGTAB: u64 = TABLES_ADDR + 0x2010;
const _: () = assert!(CUR + 8 <= DATA_ADDR + DATA_BYTES && DATA_BYTES <= ALIGN);
const _: () = assert!(INITREGS + 31 * 8 <= SIGACT && SIGSTACK + 24 <= SCRATCH_TEMPLATE);
const _: () = assert!(SCRATCH_TEMPLATE + layout::SCRATCH_BYTES <= NPROG && NPROG + 8 <= PROGTAB);

/// Linux aarch64 syscall numbers used.
mod sys {
    pub const WRITE: u16 = 64;
    pub const EXIT_GROUP: u16 = 94;
    pub const SETITIMER: u16 = 103;
    pub const SIGALTSTACK: u16 = 132;
    pub const RT_SIGACTION: u16 = 134;
    pub const RT_SIGRETURN: u16 = 139;
    pub const MUNMAP: u16 = 215;
    pub const MMAP: u16 = 222;
    pub const MPROTECT: u16 = 226;
}

/// Signals the handler catches.
const SIGNALS: [u16; 6] = [4, 5, 7, 8, 11, SIGVTALRM as u16];
/// The per-program timer counts the process's own CPU time (`ITIMER_VIRTUAL`, signal
/// `SIGVTALRM`), not wall-clock: on a loaded machine a wall-clock timer stopped correct programs
/// (a `huge` program under qemu beside a CI run), which the reference then judged wrong.
const ITIMER_VIRTUAL: u64 = 1;
const SIGVTALRM: u64 = 26;

/// `ucontext` offsets of the arm64 `sigcontext` fields.
const UC_FAULT: u16 = 176;
const UC_REGS: u16 = 184;
const UC_SP: u16 = 432;
const UC_PC: u16 = 440;
const UC_PSTATE: u16 = 448;

/// Default per-program timer in seconds of the process's CPU time (a run it ends becomes
/// [`STATUS_TIMEOUT`], which the engines report as `Exit::Unsupported`: judged on Unicorn).
pub const PROGRAM_TIMEOUT_SECS: u64 = 5;

/// One program's layout in the ELF's tables.
struct Prog {
    entry: u64,
    segs: Vec<SegEntry>,
}

/// Words per segment-table entry ([`SegEntry`]).
const SEG_WORDS: u64 = 7;

/// One segment as the start routine reads it.
struct SegEntry {
    addr: u64,
    /// Its length rounded up to 8 bytes.
    len8: u64,
    /// Offset of its bytes in the blob.
    blob_off: u64,
    map_start: u64,
    map_len: u64,
    /// 1 when the program before has the same segment (address and bytes): it is still mapped
    /// and filled, so the routine neither maps nor copies it (a program whose mapping fails
    /// ends the process: the ones after it run in a new one).
    loaded_before: u64,
    /// 1 when the program after has the same segment: it stays mapped (read-execute, so no
    /// guest write can have changed it).
    keep_after: u64,
}

/// Put `v` at address `at` of `buf`, which is loaded at `base`.
fn put(buf: &mut [u8], base: u64, at: u64, v: u64) {
    let o = (at - base) as usize;
    buf[o..o + 8].copy_from_slice(&v.to_le_bytes());
}

/// A loadable segment of the ELF.
struct Load<'a> {
    vaddr: u64,
    flags: u32,
    data: &'a [u8],
    memsz: u64,
}

const ALIGN: u64 = 0x1_0000;

/// A static aarch64 executable of `loads` (each file-backed one at an `ALIGN`-aligned offset)
/// entered at `entry`, written with `object`'s ELF writer.
fn write_elf(loads: &[Load], entry: u64) -> Vec<u8> {
    use object::elf;
    use object::write::elf::{FileHeader, ProgramHeader, Writer};
    let mut out = Vec::new();
    let mut w = Writer::new(object::Endianness::Little, true, &mut out);
    w.reserve_file_header();
    w.reserve_program_headers(loads.len() as u32);
    let offsets: Vec<u64> = loads
        .iter()
        .map(|l| match l.data.len() {
            0 => 0,
            n => w.reserve(n as u64, ALIGN),
        })
        .collect();
    w.write_file_header(&FileHeader {
        os_abi: elf::ELFOSABI_NONE,
        abi_version: 0,
        e_type: elf::ET_EXEC,
        e_machine: elf::EM_AARCH64,
        e_entry: entry,
        e_flags: elf::FileFlags(0),
    })
    .expect("an ELF header of a fixed shape writes");
    w.write_align_program_headers();
    for (l, &p_offset) in loads.iter().zip(&offsets) {
        w.write_program_header(&ProgramHeader {
            p_type: elf::PT_LOAD,
            p_flags: elf::ProgramFlags(l.flags),
            p_offset,
            p_vaddr: l.vaddr,
            p_paddr: l.vaddr,
            p_filesz: l.data.len() as u64,
            p_memsz: l.memsz,
            p_align: ALIGN,
        });
    }
    for (l, &offset) in loads.iter().zip(&offsets) {
        if !l.data.is_empty() {
            w.pad_until(offset);
            w.write(l.data);
        }
    }
    out
}

/// Build the ELF that runs `images` in order and reports one record each; each program may run
/// `timeout_secs` seconds before its timer ends it.
pub fn build(images: &[&Image], timeout_secs: u64) -> Vec<u8> {
    let r = routines();
    let (progs, blob) = lay_out(images);
    let tables = tables(&progs, &blob, &r, timeout_secs);
    let (r_x, rw_, r__) = (5u32, 6u32, 4u32);
    let load = |vaddr, flags, data, memsz| Load {
        vaddr,
        flags,
        data,
        memsz,
    };
    write_elf(
        &[
            load(EXIT_ADDR, r_x, &r.exit, r.exit.len() as u64),
            load(layout::ENTRY_ADDR, r_x, &r.entry, r.entry.len() as u64),
            load(STACK_BASE, rw_, &[], STACK_SIZE),
            load(SCRATCH_ADDR, rw_, &[], LOGCTL_ADDR + 0x1000 - SCRATCH_ADDR),
            load(LOG_ADDR, rw_, &[], LOG_BYTES),
            load(ALTSTACK_ADDR, rw_, &[], ALTSTACK_SIZE),
            load(DATA_ADDR, rw_, &[], DATA_BYTES),
            load(TABLES_ADDR, r__, &tables, tables.len() as u64),
        ],
        layout::ENTRY_ADDR,
    )
}

/// Each image's segments as table entries, their bytes packed 8-byte aligned into one blob. A
/// segment the image before also has (the same address and bytes: a window's helper banks, in
/// a batch of programs of one window) is kept mapped from one to the next and shares its bytes
/// in the blob.
fn lay_out(images: &[&Image]) -> (Vec<Prog>, Vec<u8>) {
    let mut progs: Vec<Prog> = Vec::new();
    let mut blob: Vec<u8> = Vec::new();
    for (k, img) in images.iter().enumerate() {
        let mut segs = Vec::new();
        for s in &img.segments {
            let prev = k
                .checked_sub(1)
                .and_then(|p| images[p].segments.iter().position(|o| o == s));
            let next = images.get(k + 1).is_some_and(|n| n.segments.contains(s));
            let blob_off = match prev {
                Some(i) => progs[k - 1].segs[i].blob_off,
                None => {
                    let at = blob.len() as u64;
                    blob.extend_from_slice(&s.bytes);
                    blob.resize(layout::align_up(blob.len() as u64, 8) as usize, 0);
                    at
                }
            };
            let map_start = s.addr & !(ALIGN - 1);
            segs.push(SegEntry {
                addr: s.addr,
                len8: layout::align_up(s.bytes.len() as u64, 8),
                blob_off,
                map_start,
                map_len: layout::align_up(s.end(), ALIGN) - map_start,
                loaded_before: u64::from(prev.is_some()),
                keep_after: u64::from(next),
            });
        }
        progs.push(Prog {
            entry: img.entry,
            segs,
        });
    }
    (progs, blob)
}

/// The read-only tables: the initial registers, the signal action and stack, the timer, the
/// scratch template, the program count, the program and segment tables, then the blob.
fn tables(progs: &[Prog], blob: &[u8], r: &Routines, timeout_secs: u64) -> Vec<u8> {
    let nsegs: u64 = progs.iter().map(|p| p.segs.len() as u64).sum();
    let segtab = PROGTAB + 32 * progs.len() as u64;
    let blob_at = layout::align_up(segtab + 8 * SEG_WORDS * nsegs, 8);
    let mut data = vec![0u8; (blob_at - TABLES_ADDR) as usize];
    let st = (SCRATCH_TEMPLATE - TABLES_ADDR) as usize;
    data[st..st + layout::SCRATCH_BYTES as usize].copy_from_slice(&layout::initial_scratch());
    let mut put = |at, v| put(&mut data, TABLES_ADDR, at, v);
    for n in 0..31u8 {
        put(INITREGS + 8 * u64::from(n), layout::initial_reg(n));
    }
    // struct sigaction (kernel, arm64): handler, flags, restorer, mask
    put(SIGACT, r.handler);
    put(SIGACT + 8, 0x4 | 0x0800_0000 | 0x0400_0000); // SA_SIGINFO | SA_ONSTACK | SA_RESTORER
    put(SIGACT + 16, r.restorer);
    put(SIGACT + 24, 1 << (SIGVTALRM - 1));
    put(ITIMER_ON + 16, timeout_secs.max(1));
    put(SIGSTACK, ALTSTACK_ADDR);
    put(SIGSTACK + 16, ALTSTACK_SIZE);
    put(NPROG, progs.len() as u64);
    let mut seg_at = segtab;
    for (k, p) in progs.iter().enumerate() {
        let e = PROGTAB + 32 * k as u64;
        put(e, p.entry);
        put(e + 8, p.segs.len() as u64);
        put(e + 16, seg_at);
        for g in &p.segs {
            let words = [
                g.addr,
                g.len8,
                blob_at + g.blob_off,
                g.map_start,
                g.map_len,
                g.loaded_before,
                g.keep_after,
            ];
            for (i, v) in words.into_iter().enumerate() {
                put(seg_at + 8 * i as u64, v);
            }
            seg_at += 8 * SEG_WORDS;
        }
    }
    data.extend_from_slice(blob);
    data
}
