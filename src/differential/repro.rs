//! Repro files: a finding's program in text form, with the finding as a comment header.

use super::Finding;
use crate::model::program::Program;
use crate::model::text;
use std::path::{Path, PathBuf};

/// FNV-1a of `s`, for stable repro file names.
fn fnv(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}

/// Write `program` as a repro file in `dir` with the finding as a comment header; returns its
/// path. The file parses back with [`text::parse`]. Its name is a hash of the program and the
/// provenance (the command that found it, options included), so the same program found under
/// another planted bug or other options gets a file of its own instead of overwriting one.
pub fn write_repro(
    dir: &Path,
    program: &Program,
    finding: &Finding,
    provenance: &str,
) -> std::io::Result<PathBuf> {
    let header = format!("a64call repro: {provenance}");
    let name = format!(
        "repro-{:016x}.a64",
        fnv(&(header.clone() + &text::print(program)))
    );
    let mut comments = vec![header];
    comments.extend(finding.to_string().lines().map(str::to_string));
    write_program(dir, &name, program, &comments)
}

/// Write `program`'s text to `dir/name` under `comments` (each a `# ` line), creating `dir`:
/// the one repro file format, which `a64call replay` and the corpus read.
pub fn write_program(
    dir: &Path,
    name: &str,
    program: &Program,
    comments: &[String],
) -> std::io::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let mut s = String::new();
    for line in comments.iter().flat_map(|c| c.lines()) {
        s.push_str("# ");
        s.push_str(line);
        s.push('\n');
    }
    s.push_str(&text::print(program));
    let path = dir.join(name);
    std::fs::write(&path, s)?;
    Ok(path)
}

/// Every `*.a64` file under `dir`, recursively, sorted (what `a64call replay` and the corpus test
/// replay).
pub fn find_repros(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    collect(dir, &mut out)?;
    out.sort();
    Ok(out)
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let p = entry?.path();
        if p.is_dir() {
            collect(&p, out)?;
        } else if p.extension().is_some_and(|e| e == "a64") {
            out.push(p);
        }
    }
    Ok(())
}
