//! The interpreter's memory: the fixed regions of [`crate::layout::FIXED_REGIONS`] with their
//! permissions (the exit page readable and executable, the rest readable and writable; kept
//! between runs and reset as Unicorn resets them),
//! and the image's segments, read-only, each readable over the 4 KiB pages it covers (zero
//! beyond its bytes) as an engine that maps those pages sees them. A write into a segment's
//! pages is a write fault, as on every engine. Executed words of segments are decoded by
//! [`super::code::Code`].

use super::code::Segments;
use super::decode::decode;
use super::op::Op;
use crate::engine::Access;
use crate::layout::{FixedRegion, EXIT_ADDR, FIXED_REGIONS};

pub(super) const PAGE: u64 = 0x1000;

/// A fixed region.
struct Region {
    base: u64,
    bytes: Vec<u8>,
    /// Readable and executable, not writable ([`FixedRegion::code`]).
    code: bool,
}

impl Region {
    fn new(r: FixedRegion) -> Region {
        Region {
            base: r.base,
            bytes: vec![0; r.size as usize],
            code: r.code,
        }
    }

    /// The offset of `[addr, addr + len)` when it lies wholly inside.
    #[inline]
    fn offset(&self, addr: u64, len: u64) -> Option<usize> {
        let off = addr.wrapping_sub(self.base);
        (off < self.bytes.len() as u64 && len <= self.bytes.len() as u64 - off)
            .then_some(off as usize)
    }
}

/// A memory access that failed: what kind, and the address.
pub(super) type Fault = (Access, u64);

/// The fixed regions, in the order lookups try them ([`FIXED_REGIONS`]' order).
pub(super) struct Fixed {
    regions: [Region; FIXED_REGIONS.len()],
}

impl Fixed {
    /// The regions, zero-filled, the exit page holding `brk #0`.
    pub(super) fn new() -> Fixed {
        let mut fixed = Fixed {
            regions: FIXED_REGIONS.map(Region::new),
        };
        fixed.fill(EXIT_ADDR, &0xD420_0000u32.to_le_bytes());
        fixed
    }

    #[inline]
    fn find(&self, addr: u64, len: u64) -> Option<(usize, usize)> {
        self.regions
            .iter()
            .enumerate()
            .find_map(|(i, r)| r.offset(addr, len).map(|o| (i, o)))
    }

    /// The region and offset of `[addr, addr + len)` when it lies wholly inside one the guest
    /// may write.
    #[inline]
    fn find_writable(&self, addr: u64, len: u64) -> Option<(usize, usize)> {
        self.find(addr, len).filter(|&(i, _)| !self.regions[i].code)
    }

    /// Write `bytes` at `addr`, which must lie inside one region (the harness's own resets).
    pub(super) fn fill(&mut self, addr: u64, bytes: &[u8]) {
        let (i, o) = self
            .find(addr, bytes.len() as u64)
            .expect("a reset lies inside a fixed region");
        self.regions[i].bytes[o..o + bytes.len()].copy_from_slice(bytes);
    }

    /// `len` bytes at `addr`, which must lie inside one region (reading the outcome).
    #[inline]
    pub(super) fn slice(&self, addr: u64, len: u64) -> Option<&[u8]> {
        let (i, o) = self.find(addr, len)?;
        Some(&self.regions[i].bytes[o..o + len as usize])
    }
}

/// Everything a run can address.
pub(super) struct Memory<'f, 'c> {
    pub(super) fixed: &'f mut Fixed,
    pub(super) segments: Segments<'c>,
}

impl Memory<'_, '_> {
    /// The 8-byte value at `addr`.
    #[inline]
    pub(super) fn load(&self, addr: u64) -> Result<u64, Fault> {
        match self.fixed.slice(addr, 8) {
            Some(b) => Ok(u64::from_le_bytes(b.try_into().expect("8 bytes"))),
            None => self.load_outside_fixed(addr),
        }
    }

    /// [`Memory::load`] of a value not wholly inside one fixed region.
    #[inline(never)]
    fn load_outside_fixed(&self, addr: u64) -> Result<u64, Fault> {
        if let Some(b) = self.segments.read::<8>(addr) {
            return Ok(u64::from_le_bytes(b));
        }
        // Straddling two regions: byte by byte, faulting at the first byte nothing holds.
        let mut out = [0u8; 8];
        for (k, b) in out.iter_mut().enumerate() {
            let a = addr.wrapping_add(k as u64);
            *b = match self.fixed.slice(a, 1) {
                Some(s) => s[0],
                None => self.segments.read::<1>(a).ok_or((Access::Read, a))?[0],
            };
        }
        Ok(u64::from_le_bytes(out))
    }

    /// The 8-byte values at `addr` and `addr + 8` (a load pair): both read before either is
    /// written to a register, one region lookup when one fixed region holds all 16 bytes.
    #[inline]
    pub(super) fn load_pair(&self, addr: u64) -> Result<(u64, u64), Fault> {
        if let Some(b) = self.fixed.slice(addr, 16) {
            let (lo, hi) = b.split_at(8);
            let word = |h: &[u8]| u64::from_le_bytes(h.try_into().expect("8 bytes"));
            return Ok((word(lo), word(hi)));
        }
        Ok((self.load(addr)?, self.load(addr.wrapping_add(8))?))
    }

    /// Store `first` at `addr` and `second` at `addr + 8` (a store pair): when the second word
    /// faults the first has been written, as on QEMU; one region lookup when one fixed region
    /// holds all 16 bytes.
    #[inline]
    pub(super) fn store_pair(&mut self, addr: u64, first: u64, second: u64) -> Result<(), Fault> {
        if let Some((i, o)) = self.fixed.find_writable(addr, 16) {
            let bytes = &mut self.fixed.regions[i].bytes[o..o + 16];
            bytes[..8].copy_from_slice(&first.to_le_bytes());
            bytes[8..].copy_from_slice(&second.to_le_bytes());
            return Ok(());
        }
        self.store(addr, first)?;
        self.store(addr.wrapping_add(8), second)
    }

    /// Store 8 bytes at `addr`: into the writable fixed regions, never into code, helpers or
    /// the exit page (a write there faults at `addr`, as Unicorn's write-protection fault
    /// reports it; one into unmapped memory at the first byte nothing holds). Nothing is
    /// written when it faults.
    #[inline]
    pub(super) fn store(&mut self, addr: u64, value: u64) -> Result<(), Fault> {
        match self.fixed.find_writable(addr, 8) {
            Some((i, o)) => {
                self.fixed.regions[i].bytes[o..o + 8].copy_from_slice(&value.to_le_bytes());
                Ok(())
            }
            None => self.store_outside_fixed(addr, value),
        }
    }

    /// [`Memory::store`] of a value not wholly inside one fixed region.
    #[inline(never)]
    fn store_outside_fixed(&mut self, addr: u64, value: u64) -> Result<(), Fault> {
        for k in 0..8 {
            let a = addr.wrapping_add(k);
            match self.fixed.find(a, 1) {
                Some((i, _)) if self.fixed.regions[i].code => return Err((Access::Write, addr)),
                Some(_) => {}
                None => {
                    let at = if self.segments.holds(a) { addr } else { a };
                    return Err((Access::Write, at));
                }
            }
        }
        for (k, b) in value.to_le_bytes().iter().enumerate() {
            self.fixed.fill(addr.wrapping_add(k as u64), &[*b]);
        }
        Ok(())
    }

    /// The instruction at `pc` in an executable fixed region (the exit page), decoded where
    /// it stands; a fetch from any other fixed region or from unmapped memory faults at `pc`.
    pub(super) fn fetch_fixed(&self, pc: u64) -> Result<Op, Fault> {
        match self.fixed.find(pc, 4) {
            Some((i, o)) if self.fixed.regions[i].code => {
                let b = &self.fixed.regions[i].bytes[o..o + 4];
                Ok(decode(
                    u32::from_le_bytes(b.try_into().expect("4 bytes")),
                    pc,
                ))
            }
            _ => Err((Access::Fetch, pc)),
        }
    }
}
