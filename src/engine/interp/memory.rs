//! The interpreter's memory: the fixed regions of [`crate::machine::layout`] as Unicorn maps
//! them (readable, writable and executable, kept between runs and reset as Unicorn resets them),
//! and the image's segments, read-only, each readable over the 4 KiB pages it covers (zero
//! beyond its bytes) as an engine that maps those pages sees them. A write into a segment's
//! pages is a write fault, as on every engine. Executed words of segments are decoded once per
//! run, a page at a time as execution reaches it ([`Code`]).

use super::decode::decode;
use super::op::Op;
use crate::engine::Access;
use crate::machine::layout::{
    EXIT_ADDR, LOGCTL_ADDR, LOG_ADDR, LOG_BYTES, SCRATCH_ADDR, STACK_BASE, STACK_SIZE,
};
use crate::machine::runtime::Segment;

const PAGE: u64 = 0x1000;
const WORDS_PER_PAGE: usize = (PAGE / 4) as usize;

/// A fixed region.
struct Region {
    base: u64,
    bytes: Vec<u8>,
}

impl Region {
    fn new(base: u64, size: u64) -> Region {
        Region {
            base,
            bytes: vec![0; size as usize],
        }
    }

    /// The offset of `[addr, addr + len)` when it lies wholly inside.
    fn offset(&self, addr: u64, len: u64) -> Option<usize> {
        let off = addr.wrapping_sub(self.base);
        (off < self.bytes.len() as u64 && len <= self.bytes.len() as u64 - off)
            .then_some(off as usize)
    }
}

/// A memory access that failed: what kind, and the address.
pub(super) type Fault = (Access, u64);

/// The fixed regions, in the order lookups try them (the stack and the log's control block
/// first: the helpers use them on every call).
pub(super) struct Fixed {
    regions: [Region; 5],
}

impl Fixed {
    /// The regions as Unicorn maps them, zero-filled, the exit page holding `brk #0`.
    pub(super) fn new() -> Fixed {
        let mut exit = Region::new(EXIT_ADDR, PAGE);
        exit.bytes[..4].copy_from_slice(&0xD420_0000u32.to_le_bytes());
        Fixed {
            regions: [
                Region::new(STACK_BASE, STACK_SIZE),
                Region::new(LOGCTL_ADDR, PAGE),
                Region::new(SCRATCH_ADDR, 0x1_0000),
                Region::new(LOG_ADDR, LOG_BYTES),
                exit,
            ],
        }
    }

    fn find(&self, addr: u64, len: u64) -> Option<(usize, usize)> {
        self.regions
            .iter()
            .enumerate()
            .find_map(|(i, r)| r.offset(addr, len).map(|o| (i, o)))
    }

    /// Write `bytes` at `addr`, which must lie inside one region (the harness's own resets).
    pub(super) fn fill(&mut self, addr: u64, bytes: &[u8]) {
        let (i, o) = self
            .find(addr, bytes.len() as u64)
            .expect("a reset lies inside a fixed region");
        self.regions[i].bytes[o..o + bytes.len()].copy_from_slice(bytes);
    }

    /// `len` bytes at `addr`, which must lie inside one region (reading the outcome).
    pub(super) fn slice(&self, addr: u64, len: u64) -> Option<&[u8]> {
        let (i, o) = self.find(addr, len)?;
        Some(&self.regions[i].bytes[o..o + len as usize])
    }
}

/// The code of one run: the image's segments and the decoded words of the pages executed.
pub(super) struct Code<'a> {
    segments: &'a [Segment],
    /// Per segment, per 4 KiB page it covers: the page's decoded words, once reached.
    pages: Vec<Vec<Option<Box<[Op]>>>>,
    /// The page fetched from last: its address, segment and index in the segment.
    last: Option<(u64, usize, usize)>,
}

/// First page address of a segment.
fn first_page(s: &Segment) -> u64 {
    s.addr & !(PAGE - 1)
}

/// Number of 4 KiB pages a segment covers.
fn page_count(s: &Segment) -> usize {
    (((s.end() + PAGE - 1) & !(PAGE - 1)) - first_page(s)).div_ceil(PAGE) as usize
}

impl<'a> Code<'a> {
    pub(super) fn new(segments: &'a [Segment]) -> Code<'a> {
        let pages = segments.iter().map(|s| vec![None; page_count(s)]).collect();
        Code {
            segments,
            pages,
            last: None,
        }
    }

    /// The segment whose pages hold `addr`, and the page's index in it.
    fn locate(&self, addr: u64) -> Option<(usize, usize)> {
        self.segments.iter().enumerate().find_map(|(i, s)| {
            let page = addr.wrapping_sub(first_page(s)) / PAGE;
            (page < self.pages[i].len() as u64).then_some((i, page as usize))
        })
    }

    /// The byte at `addr` of a segment's pages (zero beyond the segment's bytes).
    fn byte(s: &Segment, addr: u64) -> u8 {
        let off = addr.wrapping_sub(s.addr);
        if off < s.bytes.len() as u64 {
            s.bytes[off as usize]
        } else {
            0
        }
    }

    /// The little-endian `N`-byte value at `addr` if segment pages hold all of it.
    fn read<const N: usize>(&self, addr: u64) -> Option<[u8; N]> {
        let (i, _) = self.locate(addr)?;
        let s = &self.segments[i];
        let off = addr.wrapping_sub(s.addr);
        if off < s.bytes.len() as u64 && N as u64 <= s.bytes.len() as u64 - off {
            let o = off as usize;
            return s.bytes[o..o + N].try_into().ok();
        }
        let mut out = [0u8; N];
        for (k, b) in out.iter_mut().enumerate() {
            let a = addr.wrapping_add(k as u64);
            let (j, _) = self.locate(a)?;
            *b = Code::byte(&self.segments[j], a);
        }
        Some(out)
    }

    /// Does a segment's page hold `addr`?
    pub(super) fn holds(&self, addr: u64) -> bool {
        self.locate(addr).is_some()
    }

    /// The decoded word at `pc` (4-byte aligned) when a segment's page holds it.
    pub(super) fn fetch(&mut self, pc: u64) -> Option<Op> {
        let at = pc & !(PAGE - 1);
        let (i, page) = match self.last {
            Some((last, i, page)) if last == at => (i, page),
            _ => {
                let (i, page) = self.locate(pc)?;
                self.last = Some((at, i, page));
                (i, page)
            }
        };
        let s = &self.segments[i];
        let decoded = self.pages[i][page]
            .get_or_insert_with(|| vec![Op::Undecoded; WORDS_PER_PAGE].into_boxed_slice());
        let w = ((pc & (PAGE - 1)) / 4) as usize;
        if decoded[w] == Op::Undecoded {
            let bytes: [u8; 4] = std::array::from_fn(|k| Code::byte(s, pc + k as u64));
            decoded[w] = decode(u32::from_le_bytes(bytes), pc);
        }
        Some(decoded[w])
    }
}

/// Everything a run can address.
pub(super) struct Memory<'f, 'c> {
    pub(super) fixed: &'f mut Fixed,
    pub(super) code: Code<'c>,
}

impl Memory<'_, '_> {
    /// The 8-byte value at `addr`.
    pub(super) fn load(&self, addr: u64) -> Result<u64, Fault> {
        if let Some(b) = self.fixed.slice(addr, 8) {
            return Ok(u64::from_le_bytes(b.try_into().expect("8 bytes")));
        }
        if let Some(b) = self.code.read::<8>(addr) {
            return Ok(u64::from_le_bytes(b));
        }
        // Straddling two regions: byte by byte, faulting at the first byte nothing holds.
        let mut out = [0u8; 8];
        for (k, b) in out.iter_mut().enumerate() {
            let a = addr.wrapping_add(k as u64);
            *b = match self.fixed.slice(a, 1) {
                Some(s) => s[0],
                None => self.code.read::<1>(a).ok_or((Access::Read, a))?[0],
            };
        }
        Ok(u64::from_le_bytes(out))
    }

    /// Store 8 bytes at `addr`: into fixed regions, never into code or helpers (a write there
    /// faults at `addr`, as Unicorn's write hook reports it; one into unmapped memory at the
    /// first byte nothing holds). Nothing is written when it faults.
    pub(super) fn store(&mut self, addr: u64, value: u64) -> Result<(), Fault> {
        if let Some((i, o)) = self.fixed.find(addr, 8) {
            self.fixed.regions[i].bytes[o..o + 8].copy_from_slice(&value.to_le_bytes());
            return Ok(());
        }
        for k in 0..8 {
            let a = addr.wrapping_add(k);
            if self.fixed.find(a, 1).is_none() {
                let at = if self.code.holds(a) { addr } else { a };
                return Err((Access::Write, at));
            }
        }
        for (k, b) in value.to_le_bytes().iter().enumerate() {
            self.fixed.fill(addr.wrapping_add(k as u64), &[*b]);
        }
        Ok(())
    }

    /// The decoded instruction at `pc`: from the code's decoded pages, or decoded where it
    /// stands in a fixed region (which Unicorn maps executable too).
    pub(super) fn fetch(&mut self, pc: u64) -> Result<Op, Fault> {
        if let Some(op) = self.code.fetch(pc) {
            return Ok(op);
        }
        match self.fixed.slice(pc, 4) {
            Some(b) => Ok(decode(
                u32::from_le_bytes(b.try_into().expect("4 bytes")),
                pc,
            )),
            None => Err((Access::Fetch, pc)),
        }
    }
}
