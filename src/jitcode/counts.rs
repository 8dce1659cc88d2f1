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
//! * `blr xN`: by the instruction before it in its block, when that writes xN (literal load,
//!   `mov`/`movk` immediates, `adrp`/`add`, load from memory), else "blr other". The plugin
//!   records one word before each call, so a relaxed pool load (`adrp xN; ldr xN, [xN, #off];
//!   blr xN`, functions over 1 MiB) is counted as a load from memory, and
//!   `adrp+ldr-literal+blr` is not among the counted kinds ([`CallKind::COUNTED`]).
//!
//! Stub instructions executed are the executions of both words of every stub.

use crate::jitcode::classify::{blr_kind_after, CallKind, BR_X16, LDR_X16_PC8};
use crate::oracle::check::decode_word;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;
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
    /// The word of the instruction before it in its block (`None`: first of its block).
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

/// A line of `/proc/self/maps`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mapping {
    /// First address.
    pub start: u64,
    /// One past the last address.
    pub end: u64,
    /// Whether it is executable.
    pub exec: bool,
    /// Path, pseudo-name (`[vdso]`) or empty for anonymous memory.
    pub path: String,
}

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
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KindCount {
    /// Executions.
    pub execs: u64,
    /// Distinct instruction addresses executed at least once.
    pub sites: u64,
}

/// The analysis of one phase.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PhaseReport {
    /// Phase number.
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
#[derive(Clone, Debug, PartialEq, Eq)]
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

fn hex(s: &str, what: &str) -> Result<u64, String> {
    u64::from_str_radix(s, 16).map_err(|_| format!("{what} `{s}` is not a hex number"))
}

fn dec(s: &str, what: &str) -> Result<u64, String> {
    s.parse::<u64>()
        .map_err(|_| format!("{what} `{s}` is not a decimal number"))
}

fn word(s: &str, what: &str) -> Result<u32, String> {
    if s.len() != 8 {
        return Err(format!("{what} `{s}` is not 8 hex digits"));
    }
    u32::from_str_radix(s, 16).map_err(|_| format!("{what} `{s}` is not 8 hex digits"))
}

fn fields<'a>(line: &'a str, n: usize, form: &str) -> Result<Vec<&'a str>, String> {
    let f: Vec<&str> = line.split_whitespace().collect();
    if f.len() != n {
        return Err(format!("expected `{form}`, got `{line}`"));
    }
    Ok(f)
}

fn parse_block(line: &str) -> Result<Block, String> {
    let f = fields(line, 4, "block <vaddr> <insns> <execs>")?;
    Ok(Block {
        vaddr: hex(f[1], "block address")?,
        insns: dec(f[2], "instruction count")?,
        execs: dec(f[3], "executions")?,
    })
}

fn parse_insn(line: &str) -> Result<Insn, String> {
    let f = fields(line, 5, "insn <vaddr> <word> <prev|-> <execs>")?;
    Ok(Insn {
        vaddr: hex(f[1], "instruction address")?,
        word: word(f[2], "word")?,
        prev: match f[3] {
            "-" => None,
            p => Some(word(p, "previous word")?),
        },
        execs: dec(f[4], "executions")?,
    })
}

/// Sum of instructions times executions over `blocks`, or an error on overflow.
fn blocks_total(blocks: &[Block]) -> Result<u64, String> {
    blocks.iter().try_fold(0u64, |acc, b| {
        b.insns
            .checked_mul(b.execs)
            .and_then(|n| acc.checked_add(n))
            .ok_or_else(|| "instruction total overflows 64 bits".to_string())
    })
}

/// Handle a `phase <n> begin|end|open ...` line.
fn phase_line(line: &str, current: &mut Option<Phase>, out: &mut Counts) -> Result<(), String> {
    let f: Vec<&str> = line.split_whitespace().collect();
    let number = f
        .get(1)
        .ok_or_else(|| format!("expected `phase <n> ...`, got `{line}`"))
        .and_then(|n| dec(n, "phase number"))? as u32;
    match f.get(2).copied() {
        Some("begin") if f.len() == 3 => {
            if let Some(p) = current {
                return Err(format!("phase {number} begins inside phase {}", p.number));
            }
            *current = Some(Phase {
                number,
                open: false,
                total: 0,
                blocks: Vec::new(),
                insns: Vec::new(),
            });
            Ok(())
        }
        Some(state @ ("end" | "open")) if f.len() == 4 => {
            let mut p = current
                .take()
                .ok_or_else(|| format!("phase {number} ends but never began"))?;
            if p.number != number {
                return Err(format!("phase {number} ends inside phase {}", p.number));
            }
            p.total = dec(f[3], "phase total")?;
            let sum = blocks_total(&p.blocks)?;
            if sum != p.total {
                return Err(format!(
                    "phase {number} total {} differs from its blocks' sum {sum}",
                    p.total
                ));
            }
            p.open = state == "open";
            out.phases.push(p);
            Ok(())
        }
        _ => Err(format!(
            "expected `phase <n> begin` or `phase <n> end|open <total>`, got `{line}`"
        )),
    }
}

/// Parse a counts file's text. Errors say `line N: ...`.
pub fn parse_counts(text: &str) -> Result<Counts, String> {
    let mut out = Counts {
        phases: Vec::new(),
        exit_total: None,
    };
    let mut current: Option<Phase> = None;
    let mut lines = text.lines().enumerate();
    let header = lines.next().map(|(_, l)| l).unwrap_or("");
    if header != format!("{COUNTS_HEADER} {FORMAT_VERSION}") {
        return Err(format!(
            "line 1: expected `{COUNTS_HEADER} {FORMAT_VERSION}`, got `{header}`"
        ));
    }
    for (i, line) in lines {
        let at = |e: String| format!("line {}: {e}", i + 1);
        let kind = line.split_whitespace().next().unwrap_or("");
        match kind {
            "block" | "insn" => {
                let p = current
                    .as_mut()
                    .ok_or_else(|| at(format!("`{kind}` outside a phase")))?;
                if kind == "block" {
                    p.blocks.push(parse_block(line).map_err(at)?);
                } else {
                    p.insns.push(parse_insn(line).map_err(at)?);
                }
            }
            "phase" => phase_line(line, &mut current, &mut out).map_err(at)?,
            "exit" => {
                let f = fields(line, 2, "exit <total>").map_err(at)?;
                out.exit_total = Some(dec(f[1], "exit total").map_err(at)?);
            }
            _ => return Err(at(format!("unknown record `{line}`"))),
        }
    }
    if let Some(p) = current {
        return Err(format!(
            "line {}: truncated: phase {} has no end line",
            text.lines().count(),
            p.number
        ));
    }
    Ok(out)
}

fn parse_mapping(line: &str) -> Result<Mapping, String> {
    let mut f = line.split_whitespace();
    let range = f.next().unwrap_or("");
    let perms = f
        .next()
        .ok_or_else(|| format!("expected a /proc/self/maps line, got `{line}`"))?;
    let (s, e) = range
        .split_once('-')
        .ok_or_else(|| format!("expected `start-end`, got `{range}`"))?;
    let (start, end) = (hex(s, "mapping start")?, hex(e, "mapping end")?);
    if end <= start {
        return Err(format!("empty or reversed mapping `{range}`"));
    }
    // offset, device and inode, then the path (which may contain spaces).
    let path: Vec<&str> = f.skip(3).collect();
    Ok(Mapping {
        start,
        end,
        exec: perms.as_bytes().get(2) == Some(&b'x'),
        path: path.join(" "),
    })
}

/// Parse a maps file's text. Errors say `line N: ...`.
pub fn parse_maps(text: &str) -> Result<Maps, String> {
    let mut lines = text.lines().enumerate();
    let header = lines.next().map(|(_, l)| l).unwrap_or("");
    let rest = header
        .strip_prefix(MAPS_HEADER)
        .ok_or_else(|| format!("line 1: expected `{MAPS_HEADER}<n> <name>`, got `{header}`"))?;
    let (n, name) = rest.split_once(' ').unwrap_or((rest, ""));
    let phase = dec(n, "phase number").map_err(|e| format!("line 1: {e}"))? as u32;
    let mut mappings = Vec::new();
    let mut ended = false;
    for (i, line) in lines {
        let at = |e: String| format!("line {}: {e}", i + 1);
        if ended {
            return Err(at(format!("text after the `{MAPS_END}{phase}` line")));
        }
        if let Some(end) = line.strip_prefix(MAPS_END) {
            if dec(end, "end phase number").map_err(at)? != u64::from(phase) {
                return Err(at(format!(
                    "end line `{line}` does not close phase {phase}"
                )));
            }
            ended = true;
        } else if !line.trim().is_empty() {
            mappings.push(parse_mapping(line).map_err(at)?);
        }
    }
    if !ended {
        return Err(format!(
            "line {}: truncated: no `{MAPS_END}{phase}` line (the guest's write was cut off, or \
             the file predates that line: run harness/cinderx/count-run again)",
            text.lines().count()
        ));
    }
    mappings.sort_by_key(|m| m.start);
    Ok(Maps {
        phase,
        name: name.to_string(),
        mappings,
    })
}

impl Maps {
    /// The mapping holding `addr`.
    pub fn find(&self, addr: u64) -> Option<&Mapping> {
        let i = self.mappings.partition_point(|m| m.start <= addr);
        self.mappings[..i].last().filter(|m| addr < m.end)
    }

    /// Whether `addr` lies in JIT code (an anonymous executable mapping).
    pub fn is_jit(&self, addr: u64) -> bool {
        self.find(addr).is_some_and(is_jit_mapping)
    }
}

fn is_jit_mapping(m: &Mapping) -> bool {
    m.exec && m.path.is_empty()
}

fn base_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// The region of a mapping (one of [`REGIONS`]).
pub fn region(m: &Mapping) -> &'static str {
    let file = base_name(&m.path);
    if is_jit_mapping(m) {
        "jit"
    } else if file == "python3.14" {
        "python3.14"
    } else if file.starts_with("_cinderx") && file.contains(".so") {
        "_cinderx.so"
    } else if file.starts_with("libc.so") || file.starts_with("libc-") {
        "libc"
    } else {
        "other"
    }
}

/// `by_file` name of a mapping.
fn file_name(m: &Mapping) -> String {
    if m.path.is_empty() {
        ANONYMOUS.to_string()
    } else {
        base_name(&m.path).to_string()
    }
}

/// Target of a `bl` at `pc`, read from capstone's text (`bl #0x...`).
fn bl_target(word: u32, pc: u64) -> Option<u64> {
    let text = decode_word(word, pc)?;
    u64::from_str_radix(text.strip_prefix("bl #0x")?, 16).ok()
}

/// Kind of a `blr` given the word before it in its block.
fn blr_kind(word: u32, prev: Option<u32>, pc: u64) -> CallKind {
    let reg = decode_word(word, pc).and_then(|t| t.strip_prefix("blr ").map(str::to_string));
    match (reg, prev) {
        (Some(reg), Some(p)) => decode_word(p, pc.wrapping_sub(4))
            .and_then(|t| blr_kind_after(&t, reg.trim()))
            .unwrap_or(CallKind::OtherBlr),
        _ => CallKind::OtherBlr,
    }
}

/// Addresses of stubs in JIT code: an executed `ldr x16, [pc+8]` whose next word is an executed
/// `br x16` in the same block.
fn stub_addresses(insns: &[Insn], maps: &Maps) -> BTreeSet<u64> {
    let brs: BTreeSet<u64> = insns
        .iter()
        .filter(|i| i.word == BR_X16 && i.prev == Some(LDR_X16_PC8))
        .map(|i| i.vaddr)
        .collect();
    insns
        .iter()
        .filter(|i| i.word == LDR_X16_PC8 && maps.is_jit(i.vaddr))
        .filter(|i| brs.contains(&(i.vaddr.wrapping_add(4))))
        .map(|i| i.vaddr)
        .collect()
}

/// The call kind of an instruction in JIT code, or `None` when it is not a call.
fn call_kind(i: &Insn, stubs: &BTreeSet<u64>, maps: &Maps) -> Option<CallKind> {
    if i.word & BL_MASK == BL_BITS {
        let target = bl_target(i.word, i.vaddr)?;
        Some(if stubs.contains(&target) {
            CallKind::BlStub
        } else if maps.is_jit(target) {
            CallKind::BlLocal
        } else {
            CallKind::DirectBl
        })
    } else if i.word & BLR_MASK == BLR_BITS {
        Some(blr_kind(i.word, i.prev, i.vaddr))
    } else {
        None
    }
}

/// Analyse one phase against the maps the guest wrote at its end.
pub fn analyze(phase: &Phase, maps: &Maps) -> PhaseReport {
    let mut by_region: BTreeMap<&'static str, u64> = REGIONS.iter().map(|&r| (r, 0)).collect();
    let mut by_file: BTreeMap<String, u64> = BTreeMap::new();
    for b in &phase.blocks {
        // parse_counts checked that the sum of insns * execs fits in 64 bits.
        let n = b.insns * b.execs;
        let (region, file) = match maps.find(b.vaddr) {
            Some(m) => (region(m), file_name(m)),
            None => ("other", UNMAPPED.to_string()),
        };
        *by_region.entry(region).or_insert(0) += n;
        *by_file.entry(file).or_insert(0) += n;
    }
    let stubs = stub_addresses(&phase.insns, maps);
    let mut calls: BTreeMap<&'static str, KindCount> = CallKind::COUNTED
        .iter()
        .map(|k| (k.name(), KindCount::default()))
        .collect();
    let mut sites: HashMap<&'static str, BTreeSet<u64>> = HashMap::new();
    let (mut stub_execs, mut stub_insns) = (0, 0);
    for i in phase.insns.iter().filter(|i| maps.is_jit(i.vaddr)) {
        if stubs.contains(&i.vaddr) {
            stub_execs += i.execs;
            stub_insns += i.execs;
        } else if i.word == BR_X16 && stubs.contains(&i.vaddr.wrapping_sub(4)) {
            stub_insns += i.execs;
        } else if let Some(kind) = call_kind(i, &stubs, maps) {
            let c = calls.entry(kind.name()).or_default();
            c.execs += i.execs;
            if sites.entry(kind.name()).or_default().insert(i.vaddr) {
                c.sites += 1;
            }
        }
    }
    PhaseReport {
        number: phase.number,
        name: maps.name.clone(),
        total: phase.total,
        by_region,
        by_file,
        calls,
        stub_execs,
        stub_insns,
    }
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

fn percent(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        100.0 * part as f64 / whole as f64
    }
}

/// A human-readable report.
pub fn render_text(reports: &[ProcessReport]) -> String {
    let mut s = String::new();
    for p in reports {
        let exit = p
            .exit_total
            .map_or("did not exit normally".to_string(), |t| {
                format!("{t} instructions in all")
            });
        let _ = writeln!(s, "pid {}: {exit}", p.pid);
        for n in &p.open_phases {
            let _ = writeln!(s, "  phase {n}: still open at exit, not analysed");
        }
        for r in &p.phases {
            let _ = writeln!(
                s,
                "  phase {} `{}`: {} instructions",
                r.number, r.name, r.total
            );
            for (region, n) in REGIONS.iter().map(|&k| (k, r.by_region[k])) {
                let _ = writeln!(s, "    {region:12} {n:14} {:6.2}%", percent(n, r.total));
            }
            let calls: Vec<String> = CallKind::COUNTED
                .iter()
                .map(|k| (k.name(), r.calls[k.name()]))
                .filter(|(_, c)| c.execs > 0)
                .map(|(k, c)| format!("{k} {} ({} sites)", c.execs, c.sites))
                .collect();
            let _ = writeln!(
                s,
                "    JIT calls: {}; stubs executed {} ({} instructions)",
                if calls.is_empty() {
                    "none".to_string()
                } else {
                    calls.join(", ")
                },
                r.stub_execs,
                r.stub_insns
            );
        }
    }
    s
}

fn json_str(s: &str) -> String {
    let mut o = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(o, "\\u{:04x}", c as u32);
            }
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

fn json_map<V>(m: &BTreeMap<impl AsRef<str>, V>, val: impl Fn(&V) -> String) -> String {
    let items: Vec<String> = m
        .iter()
        .map(|(k, v)| format!("{}:{}", json_str(k.as_ref()), val(v)))
        .collect();
    format!("{{{}}}", items.join(","))
}

fn phase_json(r: &PhaseReport) -> String {
    format!(
        "{{\"phase\":{},\"name\":{},\"total\":{},\"by_region\":{},\"by_file\":{},\"calls\":{},\
         \"stub_execs\":{},\"stub_insns\":{}}}",
        r.number,
        json_str(&r.name),
        r.total,
        json_map(&r.by_region, u64::to_string),
        json_map(&r.by_file, u64::to_string),
        json_map(&r.calls, |c| format!(
            "{{\"execs\":{},\"sites\":{}}}",
            c.execs, c.sites
        )),
        r.stub_execs,
        r.stub_insns
    )
}

/// The report as JSON: `{"processes":[{"pid","exit_total","open_phases","phases":[...]}]}`.
pub fn render_json(reports: &[ProcessReport]) -> String {
    let procs: Vec<String> = reports
        .iter()
        .map(|p| {
            let phases: Vec<String> = p.phases.iter().map(phase_json).collect();
            let open: Vec<String> = p.open_phases.iter().map(u32::to_string).collect();
            format!(
                "{{\"pid\":{},\"exit_total\":{},\"open_phases\":[{}],\"phases\":[{}]}}",
                p.pid,
                p.exit_total.map_or("null".to_string(), |t| t.to_string()),
                open.join(","),
                phases.join(",")
            )
        })
        .collect();
    format!("{{\"processes\":[{}]}}\n", procs.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// JIT code at 0x7f00_0000_0000 (anonymous, executable), python3.14 at 0x40_0000.
    const MAPS: &str = "# a64count phase 1 calls
00400000-00800000 r-xp 00000000 08:01 42 /root/usr/bin/python3.14
7f0000000000-7f0000200000 r-xp 00000000 00:00 0 
7f1000000000-7f1000100000 r-xp 00000000 08:01 43 /root/usr/lib/aarch64-linux-gnu/libc.so.6
7f2000000000-7f2000100000 r-xp 00000000 08:01 44 /site/cinderx/_cinderx.cpython-314-aarch64-linux-gnu.so
# a64count end 1
";

    const JIT: u64 = 0x7f00_0000_0000;

    /// `bl` from `pc` to `target`.
    fn bl(pc: u64, target: u64) -> u32 {
        BL_BITS | ((target.wrapping_sub(pc) as u32 >> 2) & 0x03FF_FFFF)
    }

    /// `ldr x16, <literal at pc+off>`.
    fn ldr_x16_literal(off: u32) -> u32 {
        0x5800_0010 | ((off / 4) << 5)
    }

    const BLR_X16: u32 = 0xD63F_0200;
    const BLR_X1: u32 = 0xD63F_0020;
    /// `ldr x1, [x0, #8]`.
    const LDR_X1_X0_8: u32 = 0xF940_0401;

    /// A phase where the site at JIT+0 calls the stub at JIT+0x100 (3 times), JIT+0x10 loads x16
    /// from a literal and calls it (5 times), JIT+0x20 calls python3.14 directly (2 times) and
    /// JIT+0x30 calls a register loaded from memory (7 times).
    fn sample() -> String {
        let stub = JIT + 0x100;
        format!(
            "a64count 1
phase 1 begin
block {JIT:x} 1 3
insn {JIT:x} {:08x} - 3
block {stub:x} 2 3
insn {stub:x} {LDR_X16_PC8:08x} - 3
insn {:x} {BR_X16:08x} {LDR_X16_PC8:08x} 3
block {:x} 2 5
insn {:x} {:08x} - 5
insn {:x} {BLR_X16:08x} {:08x} 5
block {:x} 1 2
insn {:x} {:08x} - 2
block {:x} 2 7
insn {:x} {BLR_X1:08x} {LDR_X1_X0_8:08x} 7
block 400100 10 100
block 7f1000000040 4 10
block 7f2000000040 3 1
phase 1 end 1078
exit 5000
",
            bl(JIT, stub),
            stub + 4,
            JIT + 0xC,
            JIT + 0xC,
            ldr_x16_literal(0x40),
            JIT + 0x10,
            ldr_x16_literal(0x40),
            JIT + 0x20,
            JIT + 0x20,
            bl(JIT + 0x20, 0x40_0100),
            JIT + 0x2C,
            JIT + 0x30,
        )
    }

    #[test]
    fn classifies_stub_literal_direct_and_loaded_calls() {
        let c = parse_counts(&sample()).unwrap();
        let maps = parse_maps(MAPS).unwrap();
        let r = analyze(&c.phases[0], &maps);
        assert_eq!(r.name, "calls");
        assert_eq!(c.exit_total, Some(5000));
        assert_eq!(r.calls["bl->stub"], KindCount { execs: 3, sites: 1 });
        assert_eq!(r.calls["ldr-literal+blr"], KindCount { execs: 5, sites: 1 });
        assert_eq!(r.calls["bl direct"], KindCount { execs: 2, sites: 1 });
        assert_eq!(r.calls["ldr [mem]+blr"], KindCount { execs: 7, sites: 1 });
        assert_eq!(r.calls["bl local"].execs, 0);
        assert_eq!((r.stub_execs, r.stub_insns), (3, 6));
        // 3 + 6 + 10 + 2 + 14 in JIT code.
        assert_eq!(r.by_region["jit"], 35);
        assert_eq!(r.by_region["python3.14"], 1000);
        assert_eq!(r.by_region["libc"], 40);
        assert_eq!(r.by_region["_cinderx.so"], 3);
        assert_eq!(r.by_region["other"], 0);
        assert_eq!(r.by_region.values().sum::<u64>(), r.total);
        assert_eq!(r.by_file["libc.so.6"], 40);
    }

    #[test]
    fn a_bl_to_jit_code_that_is_not_a_stub_is_local() {
        let text = format!(
            "a64count 1\nphase 1 begin\nblock {JIT:x} 1 4\ninsn {JIT:x} {:08x} - 4\nphase 1 end 4\n",
            bl(JIT, JIT + 0x80)
        );
        let r = analyze(
            &parse_counts(&text).unwrap().phases[0],
            &parse_maps(MAPS).unwrap(),
        );
        assert_eq!(r.calls["bl local"], KindCount { execs: 4, sites: 1 });
        assert_eq!(r.stub_execs, 0);
    }

    #[test]
    fn calls_outside_jit_code_are_not_counted() {
        let text = format!(
            "a64count 1\nphase 1 begin\nblock 400000 1 4\ninsn 400000 {:08x} - 4\nphase 1 end 4\n",
            bl(0x40_0000, JIT)
        );
        let r = analyze(
            &parse_counts(&text).unwrap().phases[0],
            &parse_maps(MAPS).unwrap(),
        );
        assert!(r.calls.values().all(|c| c.execs == 0));
    }

    #[test]
    fn malformed_counts_name_the_line() {
        let cases = [
            ("", "line 1: expected `a64count 1`"),
            ("a64count 2\n", "line 1: expected `a64count 1`"),
            (
                "a64count 1\nblock 10 1 1\n",
                "line 2: `block` outside a phase",
            ),
            (
                "a64count 1\nphase 1 begin\nblock 1x 1 1\n",
                "line 3: block address",
            ),
            (
                "a64count 1\nphase 1 begin\nblock 10 1\n",
                "line 3: expected `block",
            ),
            (
                "a64count 1\nphase 1 begin\ninsn 10 123 - 1\n",
                "line 3: word `123`",
            ),
            (
                "a64count 1\nphase 1 begin\nblock 10 2 3\n",
                "line 3: truncated: phase 1",
            ),
            (
                "a64count 1\nphase 1 begin\nblock 10 2 3\nphase 1 end 5\n",
                "line 4: phase 1 total 5 differs",
            ),
            (
                "a64count 1\nphase 1 end 0\n",
                "line 2: phase 1 ends but never began",
            ),
            (
                "a64count 1\nphase 1 begin\nphase 2 begin\n",
                "line 3: phase 2 begins inside",
            ),
            ("a64count 1\nfoo\n", "line 2: unknown record `foo`"),
            (
                "a64count 1\nphase 1 begin\nblock 10 99999999999 99999999999\nphase 1 end 0\n",
                "overflows",
            ),
        ];
        for (text, want) in cases {
            let e = parse_counts(text).unwrap_err();
            assert!(e.contains(want), "{text:?}: {e}");
        }
    }

    #[test]
    fn malformed_maps_name_the_line() {
        let cases = [
            (
                "00400000-00800000 r-xp 0 0 0 /x\n",
                "line 1: expected `# a64count phase",
            ),
            ("# a64count phase x y\n", "line 1: phase number"),
            (
                "# a64count phase 1 y\n00400000 r-xp\n",
                "line 2: expected `start-end`",
            ),
            (
                "# a64count phase 1 y\n00800000-00400000 r-xp\n",
                "line 2: empty or reversed",
            ),
            (
                "# a64count phase 1 y\nzz-00400000 r-xp\n",
                "line 2: mapping start",
            ),
            (
                "# a64count phase 1 y\n00400000-00800000\n",
                "line 2: expected a /proc/self/maps",
            ),
            (
                "# a64count phase 1 y\n00400000-00800000 r-xp 0 0 0 /x\n",
                "line 2: truncated: no `# a64count end 1` line",
            ),
            (
                "# a64count phase 1 y\n00400000-00800000 r-xp 0 0 0 /x\n# a64count end 2\n",
                "line 3: end line `# a64count end 2` does not close phase 1",
            ),
            (
                "# a64count phase 1 y\n# a64count end 1\n00400000-00800000 r-xp 0 0 0 /x\n",
                "line 3: text after the `# a64count end 1` line",
            ),
        ];
        for (text, want) in cases {
            let e = parse_maps(text).unwrap_err();
            assert!(e.contains(want), "{text:?}: {e}");
        }
    }

    #[test]
    fn directory_errors_name_the_file() {
        let dir = std::env::temp_dir().join(format!("a64call-counts-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        assert!(analyze_dir(&dir)
            .unwrap_err()
            .contains("no counts-<pid>.txt"));
        std::fs::write(dir.join("counts-7.txt"), sample()).unwrap();
        let e = analyze_dir(&dir).unwrap_err();
        assert!(e.contains("counts-7.txt: phase 1 has no maps file"), "{e}");
        std::fs::write(dir.join("maps-7-1.txt"), MAPS).unwrap();
        let r = analyze_dir(&dir).unwrap();
        assert_eq!(r[0].pid, 7);
        let j = render_json(&r);
        assert!(j.contains("\"bl->stub\":{\"execs\":3,\"sites\":1}"), "{j}");
        assert!(render_text(&r).contains("bl->stub 3 (1 sites)"));
        std::fs::write(dir.join("maps-7-1.txt"), "# a64count phase 1 x\nnonsense\n").unwrap();
        let e = analyze_dir(&dir).unwrap_err();
        assert!(e.contains("maps-7-1.txt: line 2:"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn open_phases_are_listed_not_analysed() {
        let text = "a64count 1\nphase 1 begin\nblock 10 2 3\nphase 1 open 6\n";
        let c = parse_counts(text).unwrap();
        assert!(c.phases[0].open);
        assert_eq!(c.exit_total, None);
    }
}
