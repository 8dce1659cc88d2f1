//! The records the ELF writes to stdout, one per program, and their parser.

use super::{LOG_BYTES, LOG_CORRUPT, MAGIC, STARTED};
use crate::layout;

/// The 64-bit words of a record header: written by the start and exit routines, read by
/// [`parse_records`]. The only place their positions are given.
pub mod word {
    /// [`super::MAGIC`].
    pub const MAGIC: u16 = 0;
    /// Program index within the batch.
    pub const INDEX: u16 = 1;
    /// One of the `STATUS_*` values.
    pub const STATUS: u16 = 2;
    /// Signal number (status signal or timeout). Must follow STATUS: the handler stores both
    /// with one `stp`.
    pub const SIGNO: u16 = 3;
    /// Fault address (signal) or mmap result (map failed).
    pub const FAULT: u16 = 4;
    /// Where execution stopped.
    pub const PC: u16 = 5;
    /// x0; x`n` is at `X0 + n`, through x30.
    pub const X0: u16 = 6;
    /// Stack pointer.
    pub const SP: u16 = X0 + 31;
    /// NZCV in bits 31..28.
    pub const NZCV: u16 = SP + 1;
    /// Bytes of call log after the scratch buffer, or [`super::LOG_CORRUPT`].
    pub const LOG_LEN: u16 = NZCV + 1;
    /// Words in a record header.
    pub const COUNT: usize = LOG_LEN as usize + 1;
    const _: () = assert!(SIGNO == STATUS + 1);
}

/// One parsed record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    /// Program index in the batch.
    pub index: u64,
    /// One of the `STATUS_*` values.
    pub status: u64,
    /// Signal number (signal status).
    pub signo: u64,
    /// Fault address (signal status) or mmap result (map failure).
    pub fault: u64,
    /// pc at the end.
    pub pc: u64,
    /// x0..x30.
    pub regs: [u64; 31],
    /// sp.
    pub sp: u64,
    /// NZCV in bits 31..28.
    pub nzcv: u64,
    /// Scratch buffer.
    pub scratch: Vec<u8>,
    /// Call log bytes, or None when the cursor was corrupt.
    pub log: Option<Vec<u8>>,
}

/// The output after the [`STARTED`] word it must begin with, or `None` when it does not (the
/// runner never started).
pub fn after_started(out: &[u8]) -> Option<&[u8]> {
    let (first, rest) = out.split_first_chunk::<8>()?;
    (u64::from_le_bytes(*first) == STARTED).then_some(rest)
}

/// Parse the records of a run's stdout (what follows [`after_started`]). Returns the complete
/// records and, if the output ended inside a record or held garbage, a description of that.
pub fn parse_records(out: &[u8]) -> (Vec<Record>, Option<String>) {
    let mut recs = Vec::new();
    let mut pos = 0usize;
    let q = |b: &[u8], w: u16| {
        let i = 8 * usize::from(w);
        u64::from_le_bytes(b[i..i + 8].try_into().unwrap())
    };
    while pos < out.len() {
        let hdr_len = word::COUNT * 8;
        if out.len() - pos < hdr_len {
            return (
                recs,
                Some(format!(
                    "output ends inside a record header ({} of {hdr_len} bytes)",
                    out.len() - pos
                )),
            );
        }
        let h = &out[pos..pos + hdr_len];
        if q(h, word::MAGIC) != MAGIC {
            return (recs, Some(format!("no record magic at output byte {pos}")));
        }
        let mut regs = [0u64; 31];
        for (k, r) in regs.iter_mut().enumerate() {
            *r = q(h, word::X0 + k as u16);
        }
        let log_len = q(h, word::LOG_LEN);
        let body = layout::SCRATCH_BYTES as usize
            + if log_len == LOG_CORRUPT {
                0
            } else {
                log_len as usize
            };
        if log_len != LOG_CORRUPT && log_len > LOG_BYTES || out.len() - pos - hdr_len < body {
            return (
                recs,
                Some(format!(
                    "output ends inside record {} (scratch and {log_len} log bytes expected)",
                    q(h, word::INDEX)
                )),
            );
        }
        let s = pos + hdr_len;
        let scratch = out[s..s + layout::SCRATCH_BYTES as usize].to_vec();
        let l = s + layout::SCRATCH_BYTES as usize;
        let log = (log_len != LOG_CORRUPT).then(|| out[l..l + log_len as usize].to_vec());
        recs.push(Record {
            index: q(h, word::INDEX),
            status: q(h, word::STATUS),
            signo: q(h, word::SIGNO),
            fault: q(h, word::FAULT),
            pc: q(h, word::PC),
            regs,
            sp: q(h, word::SP),
            nzcv: q(h, word::NZCV),
            scratch,
            log,
        });
        pos = s + body;
    }
    (recs, None)
}
