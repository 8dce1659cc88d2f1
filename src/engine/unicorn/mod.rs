//! The Unicorn engine: one emulator reused per thread, replaced by a fresh one every
//! `FLUSH_RUNS` runs or `FLUSH_CODE_BYTES` of code (see `flush_when_due`) and after a load
//! that failed.
//!
//! Unicorn caches translated blocks and does not notice code rewritten under it. This engine
//! therefore compares every segment it is about to load with what it loaded last time; every
//! old segment not loaded again is zeroed and removed from the translation cache
//! (`ctl_remove_cache`, page by page: see `remove_cache`), and every new one is written and
//! removed from the cache too.
//!
//! Memory is laid out so that Unicorn's loads and stores take its fast path:
//! * A program's pages are mapped read-execute over host memory the engine writes directly
//!   (`host_pages.rs`): a guest store into code or helpers is Unicorn's write-protection fault,
//!   at its address, and nothing is written. No guest-write hook is installed: Unicorn sends
//!   every load and store down its slow path while any `MEM_WRITE` hook exists.
//! * The fixed regions have the permissions of [`layout::FIXED_REGIONS`], the machine of every
//!   engine. The TLB is Unicorn's virtual one, filled by a hook that gives the data regions
//!   (stack, scratch, call log) read-write and refuses a fetch from them (the run's fetch
//!   fault, at its pc), and the fault hook listens everywhere but there (where nothing can be
//!   unmapped): a page no memory hook covers and no fetch can use is one whose stores Unicorn
//!   lets onto its fast path after the first.
//!
//! Measured on `benches/differential.rs`'s side-by-side table as it was on 2026-12-04
//! (interleaved runs; Unicorn's pass then reused the static-check caches the interpreter's pass
//! had filled, so the rates are high, but each pair compares like with like): making the data
//! regions not executable took Unicorn from 1,322–1,339 to 1,382–1,422 programs per CPU-second
//! (5016312), and host-written pages without a guest-write hook from 1,345–1,364 to
//! 1,471–1,676 (17d4715). On the fair table (each pass with cold caches) it was 1,429–1,508
//! after both (c65c28f).
//!
//! A block hook counts instructions (a block of `n` bytes is `n / 4` instructions; a block cut
//! short by a fault over-counts, which only matters for runs that did not return) and enforces
//! the limit. Not caught: a store-exclusive or `dc zva` into code (Unicorn applies neither its
//! permissions nor its hooks to them); a64call never emits either, and the interpreter reports
//! both as outside its subset.

use super::{logged_calls, Access, Engine, EngineError, EngineKind, Exit, InsnCounts, Outcome};
use crate::layout::{self, EXIT_ADDR, LOGCTL_ADDR, LOG_ADDR, SCRATCH_ADDR, STACK_TOP};
use crate::machine::runtime::Image;
use std::cell::RefCell;
use std::collections::BTreeSet;
use unicorn_engine::{
    Arch, HookType, MemType, Mode, Prot, RegisterARM64, TlbEntry, TlbType, Unicorn,
};

mod host_pages;
use self::host_pages::{HostPages, PAGE};

/// Per-run state the hooks write.
#[derive(Default)]
struct State {
    code_start: u64,
    code_end: u64,
    in_code: u64,
    total: u64,
    limit: u64,
    limit_hit: bool,
    fault: Option<(Access, u64)>,
    /// A fetch from a data region was refused (at the run's final pc).
    fetch_from_data: bool,
    intno: Option<u32>,
}

/// Unicorn-backed engine. Create one per thread (see [`with_thread_engine`]).
pub struct UnicornEngine {
    /// Declared before `pages`: dropped first, so no mapping outlives the memory behind it.
    uc: Unicorn<'static, State>,
    /// The program's 4 KiB pages currently mapped, and the host memory behind them.
    pages: HostPages,
    /// Segments as last written.
    loaded: Vec<crate::machine::runtime::Segment>,
    /// Runs and bytes of function code written since the emulator was last replaced (a flush).
    since_flush: (u64, u64),
    /// Flushes so far (for tests).
    flushes: u64,
    /// When false, the stale-code protection is off (for the test that proves it is needed).
    invalidate: bool,
}

/// The emulator is replaced (its translation cache flushed, with all else) after this many runs,
/// or sooner after [`FLUSH_CODE_BYTES`]. Unicorn's code buffer is 1 GiB and fills as it
/// translates: without flushes its resident memory only grows.
const FLUSH_RUNS: u64 = 256;
/// ... or once this many bytes of function code (not helpers: a new window writes 190 KiB of
/// helper banks, most of which never runs) have been written since the last flush: 24 `big`
/// programs (megabytes of code each) on two threads peaked at 4.2 GB resident with flushes every
/// 256 runs and 2.0 GB with one every run, in the same time (2026-12-04); programs of a few KiB
/// reach it after about 256 runs or later.
const FLUSH_CODE_BYTES: u64 = 4 << 20;

fn uerr(what: &str, e: unicorn_engine::uc_error) -> EngineError {
    EngineError::of(EngineKind::Unicorn, format!("{what}: {e:?}"))
}

fn xreg(n: u8) -> i32 {
    match n {
        29 => RegisterARM64::X29 as i32,
        30 => RegisterARM64::X30 as i32,
        _ => RegisterARM64::X0 as i32 + i32::from(n),
    }
}

impl UnicornEngine {
    /// A fresh engine with the fixed regions mapped and the hooks installed.
    pub fn new() -> Result<UnicornEngine, EngineError> {
        Ok(UnicornEngine {
            uc: fresh_emulator()?,
            pages: HostPages::default(),
            loaded: Vec::new(),
            since_flush: (0, 0),
            flushes: 0,
            invalidate: true,
        })
    }

    /// Replace the emulator by a fresh one after [`FLUSH_RUNS`] runs or [`FLUSH_CODE_BYTES`]
    /// written, before this run translates anything. Post: `since_flush` counts this run; after
    /// a replacement the next `load` maps and writes everything.
    ///
    /// A fresh emulator rather than Unicorn's `ctl_flush_tb`: Unicorn also records the start
    /// and length of every block it translates under a block hook (the hook's
    /// `hooked_regions` table, used only when the hook is deleted) and frees the record only
    /// with the hook, about 7 KB per program for two strategies; a thread's engine grew from
    /// 48 MB resident after 3,000 programs to 201 MB after 24,000 with flushes alone
    /// (2026-12-05). A fresh emulator costs about 1 ms.
    fn flush_when_due(&mut self) -> Result<(), EngineError> {
        let (runs, bytes) = self.since_flush;
        if self.invalidate && (runs >= FLUSH_RUNS || bytes >= FLUSH_CODE_BYTES) {
            self.replace_emulator()?;
            self.flushes += 1;
            self.since_flush = (0, 0);
        }
        self.since_flush.0 += 1;
        Ok(())
    }

    /// Drop the emulator, its mappings and its translations for a fresh one. Post: nothing is
    /// mapped beyond the fixed regions, nothing is loaded or translated, and the data regions
    /// are zeros.
    fn replace_emulator(&mut self) -> Result<(), EngineError> {
        // The old emulator is dropped before the memory its pages map.
        self.uc = fresh_emulator()?;
        self.pages = HostPages::default();
        self.loaded.clear();
        Ok(())
    }

    /// Switch off translation-cache invalidation. Exists only so a test can show that without
    /// it a reused engine runs stale code; never use it otherwise.
    #[doc(hidden)]
    pub fn disable_invalidation_for_test(&mut self) {
        self.invalidate = false;
    }

    /// Map, write and invalidate what `image` needs. Post: exactly the pages of its segments
    /// are mapped, each holding its segments' bytes and zeros elsewhere, and no translated block
    /// of a page whose bytes changed survives. After an error nothing is promised: the caller
    /// replaces the emulator.
    fn load(&mut self, image: &Image) -> Result<(), EngineError> {
        let mut needed: BTreeSet<u64> = BTreeSet::new();
        for seg in &image.segments {
            let mut p = seg.addr & !(PAGE - 1);
            while p < seg.end() {
                needed.insert(p);
                p += PAGE;
            }
        }
        // Old segments that are not loaded again: zero what stays mapped and drop it from the
        // translation cache, so nothing of the previous program can run or be read.
        let old = std::mem::take(&mut self.loaded);
        for seg in old.iter().filter(|o| !image.segments.contains(o)) {
            let mut p = seg.addr & !(PAGE - 1);
            while p < seg.end() {
                if needed.contains(&p) && self.pages.is_mapped(p) {
                    let (from, to) = (p.max(seg.addr), (p + PAGE).min(seg.end()));
                    self.pages.zero(from, to - from);
                }
                p += PAGE;
            }
            if self.invalidate {
                remove_cache(&mut self.uc, seg.addr, seg.end())?;
            }
        }
        let unmap: Vec<u64> = self
            .pages
            .mapped()
            .filter(|p| !needed.contains(p))
            .collect();
        for (start, len) in runs(&unmap, PAGE) {
            self.pages
                .unmap(&mut self.uc, start, len)
                .map_err(|e| uerr(&format!("unmap {start:#x}"), e))?;
        }
        let map: Vec<u64> = needed
            .iter()
            .copied()
            .filter(|&p| !self.pages.is_mapped(p))
            .collect();
        for (start, len) in runs(&map, PAGE) {
            self.pages
                .map(&mut self.uc, start, len)
                .map_err(|e| uerr(&format!("map {start:#x}"), e))?;
        }
        for seg in &image.segments {
            if old.contains(seg) {
                continue;
            }
            self.pages.write(seg.addr, &seg.bytes);
            if seg.addr < image.code.end && image.code.start < seg.end() {
                self.since_flush.1 += seg.bytes.len() as u64;
            }
            if self.invalidate {
                remove_cache(&mut self.uc, seg.addr, seg.end())?;
            }
        }
        self.loaded = image.segments.clone();
        Ok(())
    }
}

/// An emulator with the fixed regions mapped and the hooks installed, and nothing else.
fn fresh_emulator() -> Result<Unicorn<'static, State>, EngineError> {
    let mut uc = Unicorn::new_with_data(Arch::ARM64, Mode::LITTLE_ENDIAN, State::default())
        .map_err(|e| uerr("create", e))?;
    for r in layout::FIXED_REGIONS {
        let prot = if r.code {
            Prot::READ | Prot::EXEC
        } else {
            Prot::READ | Prot::WRITE
        };
        uc.mem_map(r.base, r.size, prot)
            .map_err(|e| uerr("map fixed region", e))?;
    }
    uc.mem_write(
        EXIT_ADDR,
        &crate::asm::encode::Inst::Brk { imm16: 0 }
            .encode()
            .unwrap()
            .to_le_bytes(),
    )
    .map_err(|e| uerr("write exit page", e))?;
    uc.add_block_hook(1, 0, |uc, addr, size| {
        let s = uc.get_data_mut();
        let n = u64::from(size / 4);
        s.total += n;
        if addr >= s.code_start && addr < s.code_end {
            s.in_code += n;
        }
        if s.total > s.limit {
            s.limit_hit = true;
            let _ = uc.emu_stop();
        }
    })
    .map_err(|e| uerr("block hook", e))?;
    // A second block hook, over address 0 where no block of ours starts: with exactly one,
    // Unicorn compiles a call to it into every block it translates through a helper it
    // builds anew for each block (two allocations, two hash-table inserts); with two it
    // calls its generic hook helper. Measured (callgrind, `check --engines unicorn
    // --strategies movz-min,pool --iterations 600 --jobs 1`): 4.245e9 -> 4.175e9
    // instructions.
    uc.add_block_hook(0, 0, |_, _, _| {})
        .map_err(|e| uerr("second block hook", e))?;
    uc.ctl_set_tlb_type(TlbType::VIRTUAL)
        .map_err(|e| uerr("tlb type", e))?;
    uc.add_tlb_hook(1, 0, |uc, page, kind| {
        let data = in_data_region(page);
        if data && kind == MemType::FETCH {
            uc.get_data_mut().fetch_from_data = true;
            return None;
        }
        let perms = if data {
            Prot::READ | Prot::WRITE
        } else {
            Prot::ALL
        };
        Some(TlbEntry { paddr: page, perms })
    })
    .map_err(|e| uerr("tlb hook", e))?;
    for (begin, end) in outside_data_regions() {
        uc.add_mem_hook(HookType::MEM_INVALID, begin, end, |uc, kind, addr, _, _| {
            let access = match kind {
                MemType::WRITE_UNMAPPED | MemType::WRITE_PROT => Access::Write,
                MemType::FETCH_UNMAPPED | MemType::FETCH_PROT => Access::Fetch,
                _ => Access::Read,
            };
            // The first fault is the run's: a store that crosses from a mapped page into an
            // unmapped one goes byte by byte, forwards, and Unicorn calls this hook for each
            // unmapped byte without stopping.
            uc.get_data_mut().fault.get_or_insert((access, addr));
            false
        })
        .map_err(|e| uerr("fault hook", e))?;
    }
    uc.add_intr_hook(|uc, intno| {
        uc.get_data_mut().intno = Some(intno);
        let _ = uc.emu_stop();
    })
    .map_err(|e| uerr("interrupt hook", e))?;
    Ok(uc)
}

/// Drop translated blocks of `[start, end)` one 4 KiB page at a time. Unicorn's
/// `ctl_remove_cache` translates only the first address of its range to a RAM address and
/// invalidates that many bytes from there, which misses pages backed by another RAM block (pages
/// mapped by a different `mem_map` call): see the test
/// `rewritten_code_spanning_separately_mapped_pages_is_the_code_that_runs`.
fn remove_cache(uc: &mut Unicorn<'static, State>, start: u64, end: u64) -> Result<(), EngineError> {
    let mut a = start;
    while a < end {
        let next = ((a & !0xFFF) + 0x1000).min(end);
        uc.ctl_remove_cache(a, next)
            .map_err(|e| uerr("remove cache", e))?;
        a = next;
    }
    Ok(())
}

/// Whether `addr` lies in a fixed region the guest may read and write but not execute.
fn in_data_region(addr: u64) -> bool {
    layout::FIXED_REGIONS
        .iter()
        .any(|r| !r.code && addr.wrapping_sub(r.base) < r.size)
}

/// The address ranges (inclusive) outside the data regions, where the fault hook listens.
fn outside_data_regions() -> Vec<(u64, u64)> {
    let mut data: Vec<(u64, u64)> = layout::FIXED_REGIONS
        .iter()
        .filter(|r| !r.code)
        .map(|r| (r.base, r.base + r.size))
        .collect();
    data.sort_unstable();
    let mut out = Vec::new();
    let mut from = 0u64;
    for (begin, end) in data {
        if begin > from {
            out.push((from, begin - 1));
        }
        from = from.max(end);
    }
    out.push((from, u64::MAX));
    out
}

/// Contiguous runs of sorted page addresses, as (start, length).
fn runs(pages: &[u64], page: u64) -> Vec<(u64, u64)> {
    let mut out: Vec<(u64, u64)> = Vec::new();
    for &p in pages {
        match out.last_mut() {
            Some((s, l)) if *s + *l == p => *l += page,
            _ => out.push((p, page)),
        }
    }
    out
}

impl Engine for UnicornEngine {
    fn kind(&self) -> EngineKind {
        EngineKind::Unicorn
    }

    fn run(&mut self, image: &Image) -> Result<Outcome, EngineError> {
        self.flush_when_due()?;
        if let Err(e) = self.load(image) {
            // Part of the old program may still be mapped and translated: start again.
            return Err(match self.replace_emulator() {
                Ok(()) => e,
                Err(r) => EngineError::of(
                    EngineKind::Unicorn,
                    format!("{}; then, replacing the emulator: {}", e.message, r.message),
                ),
            });
        }
        reset_machine(&mut self.uc, image)?;
        let result = self.uc.emu_start(image.entry, EXIT_ADDR, 0, 0);
        let pc = self
            .uc
            .reg_read(RegisterARM64::PC)
            .map_err(|e| uerr("read pc", e))?;
        let s = std::mem::take(self.uc.get_data_mut());
        let exit = exit_of(&mut self.uc, &s, result, pc);
        let insns = Some(InsnCounts {
            in_code: s.in_code,
            total: s.total,
        });
        read_outcome(&mut self.uc, exit, pc, insns)
    }
}

thread_local! {
    static ENGINE: RefCell<Option<UnicornEngine>> = const { RefCell::new(None) };
}

/// Scratch, call-log control, stack and registers as every run starts them; the run's limits
/// in the hook state.
fn reset_machine(uc: &mut Unicorn<'static, State>, image: &Image) -> Result<(), EngineError> {
    uc.mem_write(STACK_TOP - 0x1000, &[0u8; 0x1100])
        .map_err(|e| uerr("reset stack", e))?;
    uc.mem_write(SCRATCH_ADDR, &layout::initial_scratch())
        .map_err(|e| uerr("reset scratch", e))?;
    let mut ctl = LOG_ADDR.to_le_bytes().to_vec();
    ctl.extend_from_slice(&layout::LOG_LIMIT.to_le_bytes());
    uc.mem_write(LOGCTL_ADDR, &ctl)
        .map_err(|e| uerr("reset log", e))?;
    for n in 0..=30u8 {
        uc.reg_write(xreg(n), layout::initial_reg(n))
            .map_err(|e| uerr("set register", e))?;
    }
    uc.reg_write(xreg(16), image.entry)
        .map_err(|e| uerr("set x16", e))?;
    uc.reg_write(RegisterARM64::SP, STACK_TOP)
        .map_err(|e| uerr("set sp", e))?;
    uc.reg_write(RegisterARM64::NZCV, 0)
        .map_err(|e| uerr("set nzcv", e))?;
    *uc.get_data_mut() = State {
        code_start: image.code.start,
        code_end: image.code.end,
        limit: image.insn_limit,
        ..State::default()
    };
    Ok(())
}

/// How the run ended, from the hooks' state `s`, Unicorn's result and the final pc.
fn exit_of(
    uc: &mut Unicorn<'static, State>,
    s: &State,
    result: Result<(), unicorn_engine::uc_error>,
    pc: u64,
) -> Exit {
    if s.limit_hit {
        return Exit::Runaway;
    }
    if let Some((access, addr)) = s.fault {
        return Exit::Fault { access, addr };
    }
    if s.fetch_from_data {
        return Exit::Fault {
            access: Access::Fetch,
            addr: pc,
        };
    }
    if let Some(intno) = s.intno {
        let word = uc
            .mem_read_as_vec(pc, 4)
            .ok()
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
        return exit_of_exception(intno, pc, word);
    }
    match result {
        Ok(()) if pc == EXIT_ADDR => Exit::Returned,
        Ok(()) => Exit::Truncated(format!("emulation stopped at {pc:#x} without an exit")),
        Err(unicorn_engine::uc_error::INSN_INVALID) => Exit::InvalidInstruction,
        Err(unicorn_engine::uc_error::FETCH_UNMAPPED) => Exit::Fault {
            access: Access::Fetch,
            addr: pc,
        },
        Err(e) => Exit::Truncated(format!("unicorn stopped with {e:?}")),
    }
}

/// The exit an exception number `intno` that Unicorn raised at `pc` (whose word is `word`, if
/// readable) stands for; one with no exit is `Truncated`, naming it.
fn exit_of_exception(intno: u32, pc: u64, word: Option<u32>) -> Exit {
    match intno {
        // QEMU raises a PC alignment fault as an undefined-instruction exception (with the
        // alignment syndrome); it is the fetch fault the ELF engine and the interpreter report.
        1 if pc & 3 != 0 => Exit::Fault {
            access: Access::Fetch,
            addr: pc,
        },
        1 => Exit::InvalidInstruction,
        7 => Exit::breakpoint(word),
        2 => Exit::SystemCall,
        other => Exit::Truncated(format!(
            "unicorn raised exception {other} at {pc:#x}, which no exit stands for"
        )),
    }
}

/// Registers, flags, scratch and call log after the run (the log read through the cursor the
/// helpers advanced: [`Exit::CallLogCorrupt`] when it left the log region).
fn read_outcome(
    uc: &mut Unicorn<'static, State>,
    exit: Exit,
    pc: u64,
    insns: Option<InsnCounts>,
) -> Result<Outcome, EngineError> {
    let mut regs = [0u64; 31];
    for (n, r) in regs.iter_mut().enumerate() {
        *r = uc
            .reg_read(xreg(n as u8))
            .map_err(|e| uerr("read register", e))?;
    }
    let sp = uc
        .reg_read(RegisterARM64::SP)
        .map_err(|e| uerr("read sp", e))?;
    let nzcv = uc
        .reg_read(RegisterARM64::NZCV)
        .map_err(|e| uerr("read nzcv", e))?;
    let scratch = uc
        .mem_read_as_vec(SCRATCH_ADDR, layout::SCRATCH_BYTES as usize)
        .map_err(|e| uerr("read scratch", e))?;
    let ctl = uc
        .mem_read_as_vec(LOGCTL_ADDR, 8)
        .map_err(|e| uerr("read log cursor", e))?;
    let cursor = u64::from_le_bytes(ctl.try_into().unwrap());
    let (exit, calls) = logged_calls(exit, cursor, |len| {
        uc.mem_read_as_vec(LOG_ADDR, len as usize)
            .map_err(|e| uerr("read log", e))
    })?;
    Ok(Outcome {
        exit,
        pc,
        regs,
        sp,
        nzcv,
        scratch,
        calls,
        insns,
    })
}

/// Run `f` with this thread's reused Unicorn engine (created on first use).
pub fn with_thread_engine<R>(f: impl FnOnce(&mut UnicornEngine) -> R) -> Result<R, EngineError> {
    ENGINE.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot.is_none() {
            *slot = Some(UnicornEngine::new()?);
        }
        Ok(f(slot.as_mut().expect("just created")))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A run after megabytes of code flushes the translation cache; runs of a few words flush
    /// only every [`FLUSH_RUNS`].
    #[test]
    fn the_cache_is_flushed_by_code_written_as_well_as_by_runs() {
        let ret = crate::asm::encode::Inst::Ret
            .encode()
            .unwrap()
            .to_le_bytes();
        let small = Image::code_only(0x2000_0000, ret.to_vec());
        let big = Image::code_only(0x2100_0000, ret.repeat(FLUSH_CODE_BYTES as usize / 4));
        let mut u = UnicornEngine::new().unwrap();
        for _ in 0..FLUSH_RUNS {
            assert_eq!(u.run(&small).unwrap().exit, Exit::Returned);
        }
        assert_eq!(u.flushes, 0);
        let before = u.run(&small).unwrap();
        assert_eq!(u.flushes, 1);
        assert_eq!(
            before.exit,
            Exit::Returned,
            "the fresh emulator runs the program"
        );
        assert_eq!(
            u.pages.mapped().count(),
            1,
            "only the program's page is mapped"
        );
        u.run(&big).unwrap();
        assert_eq!(u.flushes, 1);
        u.run(&small).unwrap();
        assert_eq!(u.flushes, 2, "the run after the big image flushes");
        // Megabytes of helper code beside a small function do not count.
        let mut with_big_helpers = small.clone();
        with_big_helpers
            .segments
            .push(crate::machine::runtime::Segment {
                addr: 0x2200_0000,
                bytes: ret.repeat(FLUSH_CODE_BYTES as usize / 4).into(),
            });
        u.run(&with_big_helpers).unwrap();
        u.run(&small).unwrap();
        assert_eq!(u.flushes, 2, "helper bytes do not count");
    }

    /// Each exception number Unicorn raises maps to one exit; any other is `Truncated`, named.
    #[test]
    fn exception_numbers_map_to_exits_and_an_unknown_one_is_truncated() {
        let fetch = Exit::Fault {
            access: Access::Fetch,
            addr: 0x1002,
        };
        assert_eq!(exit_of_exception(1, 0x1002, None), fetch);
        assert_eq!(exit_of_exception(1, 0x1000, None), Exit::InvalidInstruction);
        assert_eq!(exit_of_exception(2, 0x1000, None), Exit::SystemCall);
        assert_eq!(
            exit_of_exception(7, 0x1000, Some(0xD420_0EE0)),
            Exit::breakpoint(Some(0xD420_0EE0))
        );
        match exit_of_exception(11, 0x1000, None) {
            Exit::Truncated(why) => assert!(why.contains("exception 11 at 0x1000"), "{why}"),
            other => panic!("exception 11 gave {other:?}"),
        }
    }
}
