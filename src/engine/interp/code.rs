//! The image's code as the interpreter executes it: each executed word of a segment decoded once
//! ([`super::decode::decode`]), a page at a time as execution reaches it, and the decoded pages
//! of small segments (the helpers) kept for the next run when it loads the same bytes at the
//! same address.

use super::decode::decode;
use super::memory::PAGE;
use super::op::Op;
use crate::machine::runtime::Segment;
use std::sync::Arc;

/// The decoded words of one 4 KiB page of a segment: those its bytes cover, from word `first`
/// of the page (the page's other words are zero).
#[derive(Clone)]
struct DecodedPage {
    first: usize,
    ops: Box<[Op]>,
}

impl DecodedPage {
    /// Nothing decoded yet, for the page at `base` of `s`.
    fn new(s: &Segment, base: u64) -> DecodedPage {
        let (lo, hi) = (s.addr.max(base), s.end().min(base + PAGE));
        DecodedPage {
            first: ((lo - base) / 4) as usize,
            ops: vec![Op::Undecoded; ((hi - lo) / 4) as usize].into_boxed_slice(),
        }
    }
}

/// A small segment's decoded pages kept from one run to the next: an identical segment (same
/// address, same bytes) decodes to the same ops, so the next image's copy of it (the same
/// helpers under another strategy) starts from them.
pub(super) struct Kept {
    addr: u64,
    bytes: Arc<[u8]>,
    pages: Vec<Option<DecodedPage>>,
}

/// Segments up to this size are kept between runs (helpers; code differs from run to run).
const KEEP_MAX: usize = 0x1_0000;

/// The code of one run: the image's segments and the decoded words of the pages executed.
pub(super) struct Code<'a> {
    segments: Segments<'a>,
    /// Per segment, per 4 KiB page it covers: the page's decoded words, once reached.
    pages: Vec<Vec<Option<DecodedPage>>>,
    /// Per segment, its bytes when its pages came from the previous run (kept again as they are).
    kept_bytes: Vec<Option<Arc<[u8]>>>,
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
    /// The code of `segments`, starting from the pages `kept` from the previous run for every
    /// segment identical to one of them.
    pub(super) fn new(segments: &'a [Segment], mut kept: Vec<Kept>) -> Code<'a> {
        let mut pages = Vec::with_capacity(segments.len());
        let mut kept_bytes = Vec::with_capacity(segments.len());
        for s in segments {
            match kept.iter().position(|k| {
                k.addr == s.addr && (Arc::ptr_eq(&k.bytes, &s.bytes) || k.bytes == s.bytes)
            }) {
                Some(i) => {
                    let k = kept.swap_remove(i);
                    pages.push(k.pages);
                    kept_bytes.push(Some(k.bytes));
                }
                None => {
                    pages.push(vec![None; page_count(s)]);
                    kept_bytes.push(None);
                }
            }
        }
        Code {
            segments: Segments(segments),
            pages,
            kept_bytes,
        }
    }

    /// The decoded pages of this run's small segments, for the next run.
    pub(super) fn into_kept(self) -> Vec<Kept> {
        let mut out = Vec::new();
        for ((s, pages), bytes) in self.segments.0.iter().zip(self.pages).zip(self.kept_bytes) {
            if s.bytes.len() <= KEEP_MAX {
                out.push(Kept {
                    addr: s.addr,
                    bytes: bytes.unwrap_or_else(|| s.bytes.clone()),
                    pages,
                });
            }
        }
        out
    }

    /// The page of a segment that holds `pc`, to fetch decoded words from.
    pub(super) fn page(&mut self, pc: u64) -> Option<Page<'_>> {
        let (i, page) = self.segments.locate(pc)?;
        let s = &self.segments.0[i];
        let base = pc & !(PAGE - 1);
        let decoded = self.pages[i][page].get_or_insert_with(|| DecodedPage::new(s, base));
        Some(Page {
            base,
            decoded,
            segment: s,
        })
    }
}

/// One 4 KiB page of a segment, where execution is.
pub(super) struct Page<'p> {
    /// Its address.
    pub(super) base: u64,
    decoded: &'p mut DecodedPage,
    segment: &'p Segment,
}

impl Page<'_> {
    /// The decoded word at `pc`, which this page holds (decoded now if it is the first time).
    #[inline]
    pub(super) fn op(&mut self, pc: u64) -> Op {
        let d = &mut self.decoded;
        let w = ((pc - self.base) / 4) as usize;
        let Some(op) = w.checked_sub(d.first).and_then(|k| d.ops.get_mut(k)) else {
            return Op::Udf; // a zero word of the page, beyond the segment
        };
        if let Op::Undecoded = op {
            *op = decode_at(self.segment, pc);
        }
        *op
    }
}

/// The word of `s` at `pc`, decoded (the first time execution reaches it).
#[cold]
#[inline(never)]
fn decode_at(s: &Segment, pc: u64) -> Op {
    let bytes: [u8; 4] = std::array::from_fn(|b| byte(s, pc + b as u64));
    decode(u32::from_le_bytes(bytes), pc)
}

/// The image's segments, for reads.
#[derive(Clone, Copy)]
pub(super) struct Segments<'a>(pub(super) &'a [Segment]);

/// The byte at `addr` of a segment's pages (zero beyond the segment's bytes).
fn byte(s: &Segment, addr: u64) -> u8 {
    let off = addr.wrapping_sub(s.addr);
    if off < s.bytes.len() as u64 {
        s.bytes[off as usize]
    } else {
        0
    }
}

impl Segments<'_> {
    /// The segment whose pages hold `addr`, and the page's index in it.
    fn locate(&self, addr: u64) -> Option<(usize, usize)> {
        self.0.iter().enumerate().find_map(|(i, s)| {
            let page = addr.wrapping_sub(first_page(s)) / PAGE;
            (page < page_count(s) as u64).then_some((i, page as usize))
        })
    }

    /// The little-endian `N`-byte value at `addr` if segment pages hold all of it.
    pub(super) fn read<const N: usize>(&self, addr: u64) -> Option<[u8; N]> {
        let (i, _) = self.locate(addr)?;
        let s = &self.0[i];
        let off = addr.wrapping_sub(s.addr);
        if off < s.bytes.len() as u64 && N as u64 <= s.bytes.len() as u64 - off {
            let o = off as usize;
            return s.bytes[o..o + N].try_into().ok();
        }
        let mut out = [0u8; N];
        for (k, b) in out.iter_mut().enumerate() {
            let a = addr.wrapping_add(k as u64);
            let (j, _) = self.locate(a)?;
            *b = byte(&self.0[j], a);
        }
        Some(out)
    }

    /// Does a segment's page hold `addr`?
    pub(super) fn holds(&self, addr: u64) -> bool {
        self.locate(addr).is_some()
    }
}
