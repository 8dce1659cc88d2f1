//! Exact executed-instruction counts of marked phases of a guest run, from the counting plugin
//! (`harness/qemu-plugin/count.c`) and the guest's memory maps (`harness/cinderx/a64count.py`).
//!
//! A count directory holds, per guest process, `counts-<pid>.txt` (written by the plugin: per
//! phase, every executed block with its instruction count and executions, and every executed
//! `bl`, `blr`, `br` and literal load with its word and the word before it) and, per phase,
//! `maps-<pid>-<phase>.txt` (written by the guest at the phase's end: a `# a64count phase <n>
//! <name>` line, the guest's `/proc/self/maps`, which qemu-user prints with guest addresses, and a
//! closing `# a64count end <n>` line, so a truncated file is an error, not fewer mappings).
//!
//! Each phase's instructions are split by the mapping their block starts in: JIT code (anonymous
//! executable mappings), `python3.14`, `_cinderx.so`, libc and other. Inside JIT code each executed
//! call instruction is classified with [`crate::jitcode::classify`]'s kinds, decoded by
//! [`crate::oracle::check::decode_word`]:
//! * `bl`: a stub call when its target is a stub (`ldr x16, [pc+8]` followed by `br x16`, both seen
//!   executed), a direct call when the target lies outside JIT code, else a local call;
//! * `blr xN`: by the instruction before it, when that writes xN (literal load, `mov`/`movk`
//!   immediates, `adrp`/`add`, load from memory), else "blr other". The plugin records the word
//!   before each call in its block; for the first instruction of a block (qemu ends blocks at
//!   page boundaries, so `ldr x16, <literal>; blr x16` can straddle two) it is the word executed
//!   at the address before, when the phase recorded exactly one there (only `bl`, `blr`, `br`
//!   and literal loads are recorded, so a `mov`, `adrp` or memory-load pair split that way stays
//!   "blr other"). One word before each call is known, so a relaxed pool load (`adrp xN; ldr xN, [xN, #off];
//!   blr xN`, functions over 1 MiB) is counted as a load from memory, and
//!   `adrp+ldr-literal+blr` is not among the counted kinds ([`CallKind::COUNTED`]).
//!
//! Stub instructions executed are the executions of both words of every stub.

mod analyze;
mod parse;
mod render;
#[cfg(test)]
mod tests;

pub use analyze::{analyze, region};
pub use parse::{parse_counts, parse_maps};
pub use render::{render_json, render_text};

use crate::jitcode::classify::CallKind;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

/// Version written by the plugin on the first line of a counts file.
pub const FORMAT_VERSION: u32 = 1;
/// First word of the header line of a counts file.
const COUNTS_HEADER: &str = "a64count";
/// Start of the first line of a maps file.
const MAPS_HEADER: &str = "# a64count phase ";
/// Start of the last line of a maps file (`# a64count end <n>`): without it the file is truncated.
const MAPS_END: &str = "# a64count end ";

/// Region names, in report order.
pub const REGIONS: [&str; 5] = ["jit", "python3.14", "_cinderx.so", "libc", "other"];
/// `by_file` name of code outside every mapping (for example JIT code unmapped before the
/// phase ended).
const UNMAPPED: &str = "[unmapped]";
/// `by_file` name of anonymous mappings.
const ANONYMOUS: &str = "[anonymous]";

/// `bl imm26` encoding.
const BL_MASK: u32 = 0xFC00_0000;
const BL_BITS: u32 = 0x9400_0000;
/// `blr xN` encoding (register in bits 5..10).
const BLR_MASK: u32 = 0xFFFF_FC1F;
const BLR_BITS: u32 = 0xD63F_0000;

/// A block executed in a phase.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Block {
    /// Guest address of its first instruction.
    pub vaddr: u64,
    /// Instructions in the block.
    pub insns: u64,
    /// Times it was entered in the phase.
    pub execs: u64,
}

/// An executed instruction of interest (`bl`, `blr`, `br`, literal load).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Insn {
    /// Guest address.
    pub vaddr: u64,
    /// Its 32-bit word.
    pub word: u32,
    /// The word of the instruction before it in its block (`None`: first of its block; the
    /// analysis then looks for it in the phase's other records).
    pub prev: Option<u32>,
    /// Executions in the phase.
    pub execs: u64,
}

/// One phase of one process, as the plugin wrote it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Phase {
    /// Phase number (1, 2, ... per process).
    pub number: u32,
    /// True when the process exited inside the phase (no end marker).
    pub open: bool,
    /// Instructions executed in the phase (checked against the blocks).
    pub total: u64,
    /// Executed blocks.
    pub blocks: Vec<Block>,
    /// Executed instructions of interest.
    pub insns: Vec<Insn>,
}

/// A counts file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Counts {
    /// Phases in order.
    pub phases: Vec<Phase>,
    /// Instructions executed by the whole process (`None` when it did not exit normally).
    pub exit_total: Option<u64>,
}

/// A line of `/proc/self/maps`: the one parser and type [`crate::jitcode::verify`] uses too.
pub use crate::jitcode::verify::maps::Mapping;

/// A maps file: the phase it belongs to and the guest's mappings at the phase's end.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Maps {
    /// Phase number.
    pub phase: u32,
    /// Phase name given by the guest.
    pub name: String,
    /// Mappings sorted by start address.
    pub mappings: Vec<Mapping>,
}

/// Executions and distinct executed sites of one call kind.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct KindCount {
    /// Executions.
    pub execs: u64,
    /// Distinct instruction addresses executed at least once.
    pub sites: u64,
}

/// The analysis of one phase.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct PhaseReport {
    /// Phase number.
    #[serde(rename = "phase")]
    pub number: u32,
    /// Phase name.
    pub name: String,
    /// Instructions executed.
    pub total: u64,
    /// Instructions by region (every name of [`REGIONS`] present).
    pub by_region: BTreeMap<&'static str, u64>,
    /// Instructions by mapped file name (base name, `[anonymous]`, `[vdso]`, `[unmapped]`).
    pub by_file: BTreeMap<String, u64>,
    /// Calls in JIT code by kind (every [`CallKind`] present).
    pub calls: BTreeMap<&'static str, KindCount>,
    /// Stub executions in JIT code.
    pub stub_execs: u64,
    /// Stub instructions executed (both words of each stub).
    pub stub_insns: u64,
}

/// The analysis of one process.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ProcessReport {
    /// Process id (from the file name).
    pub pid: u32,
    /// Instructions executed by the whole process, when it exited normally.
    pub exit_total: Option<u64>,
    /// Its complete phases.
    pub phases: Vec<PhaseReport>,
    /// Numbers of phases still open at exit (not analysed).
    pub open_phases: Vec<u32>,
}

fn read(path: &Path) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

/// The pid in a `counts-<pid>.txt` file name.
fn counts_pid(name: &str) -> Option<u32> {
    name.strip_prefix("counts-")?
        .strip_suffix(".txt")?
        .parse()
        .ok()
}

/// Analyse one process's counts file and the maps files of its phases in `dir`.
fn analyze_process(dir: &Path, pid: u32, path: &Path) -> Result<ProcessReport, String> {
    let counts = parse_counts(&read(path)?).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut report = ProcessReport {
        pid,
        exit_total: counts.exit_total,
        phases: Vec::new(),
        open_phases: Vec::new(),
    };
    for phase in &counts.phases {
        if phase.open {
            report.open_phases.push(phase.number);
            continue;
        }
        let mpath = dir.join(format!("maps-{pid}-{}.txt", phase.number));
        if !mpath.exists() {
            return Err(format!(
                "{}: phase {} has no maps file (expected {})",
                path.display(),
                phase.number,
                mpath.display()
            ));
        }
        let maps = parse_maps(&read(&mpath)?).map_err(|e| format!("{}: {e}", mpath.display()))?;
        if maps.phase != phase.number {
            return Err(format!(
                "{}: line 1: says phase {}, expected {}",
                mpath.display(),
                maps.phase,
                phase.number
            ));
        }
        report.phases.push(analyze(phase, &maps));
    }
    Ok(report)
}

/// Analyse every `counts-<pid>.txt` in `dir`, in pid order.
pub fn analyze_dir(dir: &Path) -> Result<Vec<ProcessReport>, String> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
    let mut files: Vec<(u32, PathBuf)> = Vec::new();
    for e in entries {
        let e = e.map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
        if let Some(pid) = e.file_name().to_str().and_then(counts_pid) {
            files.push((pid, e.path()));
        }
    }
    if files.is_empty() {
        return Err(format!("{}: no counts-<pid>.txt files", dir.display()));
    }
    files.sort();
    files
        .iter()
        .map(|(pid, path)| analyze_process(dir, *pid, path))
        .collect()
}
