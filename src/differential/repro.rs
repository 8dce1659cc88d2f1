//! Repro files: a finding's program in text form, with the finding as a comment header.

use super::Finding;
use crate::model::program::Program;
use crate::model::text;
use std::path::{Path, PathBuf};

/// FNV-1a of the text, for stable repro file names.
fn fnv(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}

/// Write `program` as a repro file in `dir` with the finding as a comment header; returns its
/// path. The file parses back with [`text::parse`].
pub fn write_repro(
    dir: &Path,
    program: &Program,
    finding: &Finding,
    provenance: &str,
) -> std::io::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let body = text::print(program);
    let path = dir.join(format!("repro-{:016x}.a64", fnv(&body)));
    let mut s = String::new();
    s.push_str(&format!("# a64call repro: {provenance}\n"));
    for line in finding.to_string().lines() {
        s.push_str("# ");
        s.push_str(line);
        s.push('\n');
    }
    s.push_str(&body);
    std::fs::write(&path, s)?;
    Ok(path)
}
