//! Function start addresses from an ELF file's `.eh_frame` (the FDEs' `pc_begin`).
//!
//! Debian strips its binaries, but the unwinder still needs one FDE per function, so every
//! function compiled with unwind tables has its entry there. Only what finding `pc_begin` needs
//! is parsed: the CIE's augmentation string and its `R` (FDE pointer encoding) entry, and the
//! FDE's CIE pointer and `pc_begin`. Every length and offset is bounds-checked; a malformed
//! section is an error naming the byte offset, never a panic.

/// `DW_EH_PE_omit`.
const OMIT: u8 = 0xff;

/// A little-endian cursor over `.eh_frame` bytes.
struct Cursor<'a> {
    d: &'a [u8],
    pos: usize,
}

impl Cursor<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], String> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.d.len());
        let end = end.ok_or_else(|| format!("truncated .eh_frame at byte {:#x}", self.pos))?;
        let s = &self.d[self.pos..end];
        self.pos = end;
        Ok(s)
    }
    fn u8(&mut self) -> Result<u8, String> {
        Ok(self.take(1)?[0])
    }
    fn uint(&mut self, n: usize) -> Result<u64, String> {
        let b = self.take(n)?;
        Ok(b.iter().rev().fold(0u64, |v, &x| (v << 8) | u64::from(x)))
    }
    fn sint(&mut self, n: usize) -> Result<i64, String> {
        let v = self.uint(n)?;
        let shift = 64 - 8 * n as u32;
        Ok(((v << shift) as i64) >> shift)
    }
    fn uleb(&mut self) -> Result<u64, String> {
        let (mut v, mut shift) = (0u64, 0u32);
        loop {
            let b = self.u8()?;
            if shift < 64 {
                v |= u64::from(b & 0x7f) << shift;
            }
            shift += 7;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
    }
    fn sleb(&mut self) -> Result<i64, String> {
        let (mut v, mut shift) = (0i64, 0u32);
        loop {
            let b = self.u8()?;
            if shift < 64 {
                v |= i64::from(b & 0x7f) << shift;
            }
            shift += 7;
            if b & 0x80 == 0 {
                if shift < 64 && b & 0x40 != 0 {
                    v |= -1i64 << shift;
                }
                return Ok(v);
            }
        }
    }
    fn cstr(&mut self) -> Result<&[u8], String> {
        let rest = &self.d[self.pos.min(self.d.len())..];
        let n = rest
            .iter()
            .position(|&b| b == 0)
            .ok_or_else(|| format!("unterminated string at .eh_frame byte {:#x}", self.pos))?;
        let s = self.take(n + 1)?;
        Ok(&s[..n])
    }

    /// Read a pointer encoded with `enc`; `section_addr` is where byte 0 of the section is
    /// loaded (for `DW_EH_PE_pcrel`).
    fn pointer(&mut self, enc: u8, section_addr: u64) -> Result<u64, String> {
        let at = self.pos;
        let raw = match enc & 0x0f {
            0x00 => self.uint(8)?,
            0x01 => self.uleb()?,
            0x02 => self.uint(2)?,
            0x03 => self.uint(4)?,
            0x04 => self.uint(8)?,
            0x09 => self.sleb()? as u64,
            0x0a => self.sint(2)? as u64,
            0x0b => self.sint(4)? as u64,
            0x0c => self.sint(8)? as u64,
            f => {
                return Err(format!(
                    "unknown pointer format {f:#x} at .eh_frame byte {at:#x}"
                ))
            }
        };
        match enc & 0x70 {
            0x00 => Ok(raw),
            0x10 => Ok(section_addr.wrapping_add(at as u64).wrapping_add(raw)),
            a => Err(format!(
                "unsupported pointer application {a:#x} (encoding {enc:#x}) at .eh_frame byte {at:#x}"
            )),
        }
    }
}

/// The FDE pointer encoding a CIE at `cie` declares (absolute 8-byte when it has no `R`).
fn cie_encoding(d: &[u8], cie: usize) -> Result<u8, String> {
    let mut c = Cursor { d, pos: cie };
    let len = c.uint(4)?;
    if len == 0xffff_ffff {
        c.uint(8)?;
    }
    if c.uint(4)? != 0 {
        return Err(format!("FDE points at {cie:#x}, which is not a CIE"));
    }
    let version = c.u8()?;
    let aug = c.cstr()?.to_vec();
    if aug.contains(&b'e') {
        return Err(format!("CIE at {cie:#x}: unsupported augmentation `eh`"));
    }
    c.uleb()?; // code alignment
    c.sleb()?; // data alignment
    if version == 1 {
        c.u8()?; // return register
    } else {
        c.uleb()?;
    }
    if aug.first() != Some(&b'z') {
        return Ok(0x00);
    }
    c.uleb()?; // augmentation data length
    for &a in &aug[1..] {
        match a {
            b'R' => return c.u8(),
            b'L' => {
                c.u8()?;
            }
            b'P' => {
                let enc = c.u8()?;
                c.pointer(enc & 0x7f, 0)?;
            }
            b'S' | b'B' | b'G' => {}
            other => {
                return Err(format!(
                    "CIE at {cie:#x}: unknown augmentation character `{}`",
                    other as char
                ))
            }
        }
    }
    Ok(0x00)
}

/// Every FDE's `pc_begin` in an `.eh_frame` section loaded at `section_addr`.
pub fn fde_starts(d: &[u8], section_addr: u64) -> Result<Vec<u64>, String> {
    let mut out = Vec::new();
    let mut c = Cursor { d, pos: 0 };
    while c.pos < d.len() {
        let start = c.pos;
        let len32 = c.uint(4)?;
        if len32 == 0 {
            break; // terminator
        }
        let len = if len32 == 0xffff_ffff {
            c.uint(8)?
        } else {
            len32
        };
        let body = c.pos;
        let end = usize::try_from(len)
            .ok()
            .and_then(|l| body.checked_add(l))
            .filter(|&e| e <= d.len())
            .ok_or_else(|| format!("entry at .eh_frame byte {start:#x} runs past the section"))?;
        let id_at = c.pos;
        let id = c.uint(4)?;
        if id != 0 {
            let cie = id_at
                .checked_sub(id as usize)
                .ok_or_else(|| format!("FDE at {start:#x} points before the section"))?;
            let enc = cie_encoding(d, cie)?;
            if enc != OMIT {
                out.push(c.pointer(enc, section_addr)?);
            }
        }
        c.pos = end;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::jitcode::verify::testelf::eh_frame as section;

    #[test]
    fn pcrel_sdata4_and_absolute_starts() {
        let d = section(0x1b, 0x40_0000, &[0x41_0000, 0x40_0010, 0x3f_0000]);
        assert_eq!(
            fde_starts(&d, 0x40_0000).unwrap(),
            vec![0x41_0000, 0x40_0010, 0x3f_0000]
        );
        let d = section(0x00, 0, &[0x1234_5678_9abc]);
        assert_eq!(fde_starts(&d, 0).unwrap(), vec![0x1234_5678_9abc]);
    }

    #[test]
    fn truncated_and_malformed_sections_are_errors() {
        let d = section(0x1b, 0x1000, &[0x2000]);
        for cut in [3, 10, d.len() - 10] {
            assert!(fde_starts(&d[..cut], 0x1000).is_err(), "cut at {cut}");
        }
        let mut bad = d.clone();
        bad[d.len() - 17] = 0x7f; // FDE's CIE pointer now points before the section
        assert!(fde_starts(&bad, 0x1000).is_err());
        let unknown = section(0x1b, 0, &[0]);
        let mut u = unknown.clone();
        u[16] = 0x0e; // FDE encoding with an unknown format
        assert!(fde_starts(&u, 0)
            .unwrap_err()
            .contains("unknown pointer format"));
    }
}
