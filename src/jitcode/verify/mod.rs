//! `a64call verify`: an oracle for real JIT code (a CinderX code dump), independent of the
//! emitter that produced it.
//!
//! Inputs: the dump ([`dump`]), the guest's `/proc/self/maps` and CinderX's perf map
//! ([`maps`]), and the ELF files mapped executable into the guest ([`symbols`], [`ehframe`]).
//! Per function of the dump, after walking it from its entries ([`reach`]) and tracking the
//! registers its calls go through ([`flow`]):
//!
//! 1. every literal load reads naturally aligned bytes (8 for `ldr xN`) inside the function,
//!    in words no path reaches (its pool: the data after the code, and any island); so does
//!    every relaxed literal load `adrp; ldr xN, [xM, #off]` of a placed function
//!    ([`flow`]'s F2a);
//! 2. no pool or stub word is reached as code (on a fall-through path or a branch target), every
//!    reached word is an instruction capstone decodes (and not `udf`, which is padding), and no path (in particular no call's
//!    return) runs past the function's end;
//! 3. every site with a known target (literal value, stub `.quad`, `movz`/`movk`, `adrp`, `bl`
//!    or `b` out of the function) is the entry of a known function: a symbol or FDE start of a
//!    mapped file, an entry of a dump function, or JIT code the perf map names. Anything else is
//!    reported as unresolved with the reason, never accepted.
//!
//! Violations make the exit status 1; unreadable or malformed inputs are errors (status 2).

pub mod dump;
pub mod ehframe;
pub mod flow;
pub mod maps;
pub mod reach;
pub mod report;
pub mod symbols;
#[cfg(test)]
mod testelf;
#[cfg(test)]
mod tests;

use dump::DumpFn;
use flow::{Site, Target};
use report::{FunctionReport, Report, SiteReport, Violation};
use std::path::{Path, PathBuf};
use symbols::{AddressSpace, Image, Resolution, Source};

/// What to verify.
#[derive(Clone, Debug, Default)]
pub struct Inputs {
    /// The code dump (`_cinderx.dump_elf`).
    pub dump: PathBuf,
    /// The guest's `/proc/self/maps`, captured after compiling.
    pub maps: PathBuf,
    /// CinderX's perf map (`/tmp/perf-PID.map`); without it pc-relative targets leaving a
    /// function cannot be placed and are reported.
    pub perf_map: Option<PathBuf>,
    /// ELF files for mapped paths, as `PATH` (matched by file name) or `MAPPED_NAME=PATH`.
    /// Mapped files not named here are read from the path the maps give, when it exists.
    pub elfs: Vec<String>,
    /// Rules whose violations are reported as allowed instead (they do not fail the run).
    pub allow: Vec<String>,
}

/// Every rule a violation can break.
pub const RULES: [&str; 8] = [
    "literal-outside-function",
    "literal-misaligned",
    "constant-misaligned",
    "pool-word-on-path",
    "data-on-path",
    "falls-off-end",
    "unresolved-target",
    "unplaced-target",
];

fn read(path: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

fn read_text(path: &Path) -> Result<String, String> {
    String::from_utf8(read(path)?).map_err(|_| format!("{}: not UTF-8 text", path.display()))
}

/// Everything the inputs say.
pub struct Loaded {
    /// The dump's functions.
    pub funcs: Vec<DumpFn>,
    /// Each function's real address, when the perf map places it.
    pub placed: Vec<Option<u64>>,
    /// The guest's address space.
    pub space: AddressSpace,
    /// What could not be placed or loaded.
    pub notes: Vec<String>,
}

/// Load every input: the dump's functions, each one's real address (if the perf map places
/// it), the address space, and notes on what could not be placed or loaded.
pub fn load(inp: &Inputs) -> Result<Loaded, String> {
    let funcs = dump::parse(&read(&inp.dump)?)
        .and_then(|f| {
            if f.is_empty() {
                Err("no functions".into())
            } else {
                Ok(f)
            }
        })
        .map_err(|e| format!("{}: {e}", inp.dump.display()))?;
    let maps = maps::parse_maps(&read_text(&inp.maps)?)
        .map_err(|e| format!("{}: {e}", inp.maps.display()))?;
    let perf = match &inp.perf_map {
        Some(p) => {
            maps::parse_perf_map(&read_text(p)?).map_err(|e| format!("{}: {e}", p.display()))?
        }
        None => Vec::new(),
    };
    let mut notes = Vec::new();
    let mut space = AddressSpace {
        images: load_images(&maps, &inp.elfs, &mut notes)?,
        maps,
        ..Default::default()
    };
    let mut placed = Vec::new();
    for f in &funcs {
        let base = place(f, &perf, inp.perf_map.is_some(), &mut notes);
        for &e in f.entries.iter().filter(|_| base.is_some()) {
            let name = if e == 0 {
                format!("jit:{}", f.name)
            } else {
                format!("jit:{}+{e:#x}", f.name)
            };
            space
                .jit
                .insert(base.unwrap() + u64::from(e), (Source::Dump, name));
        }
        placed.push(base);
    }
    for p in &perf {
        space
            .jit
            .entry(p.addr)
            .or_insert((Source::PerfMap, p.name.clone()));
    }
    if inp.perf_map.is_none() {
        notes.push("no perf map given: no function is placed, so pc-relative targets leaving a function cannot be resolved".into());
    }
    Ok(Loaded {
        funcs,
        placed,
        space,
        notes,
    })
}

/// A dumped function's real address: the one perf-map entry of its name and size (or, for a
/// function near 1 MiB whose dump holds trailing data, the one entry of its name and no larger
/// size); `None`, with a note, when the perf map does not place it.
fn place(
    f: &dump::DumpFn,
    perf: &[maps::PerfSymbol],
    have_perf_map: bool,
    notes: &mut Vec<String>,
) -> Option<u64> {
    let want = format!("{}{}", maps::JIT_PREFIX, f.name);
    let size = f.bytes.len() as u64;
    let mut c: Vec<_> = perf
        .iter()
        .filter(|p| p.name == want && p.size == size)
        .collect();
    if c.is_empty() {
        // The perf map lists a function's code sections, not trailing data asmjit adds for
        // functions near 1 MiB (an address table): one entry of its name, no larger than
        // the dump's, still places it.
        let named: Vec<_> = perf.iter().filter(|p| p.name == want).collect();
        if let [one] = named.as_slice() {
            if one.size < size {
                notes.push(format!(
                    "{}: placed by its one perf-map entry ({} bytes of the dump's {})",
                    f.name, one.size, size
                ));
                c = named;
            }
        }
    }
    match c.as_slice() {
        [one] => Some(one.addr),
        [] if have_perf_map => {
            notes.push(format!(
                "{}: not in the perf map (with {} bytes); not placed",
                f.name,
                f.bytes.len()
            ));
            None
        }
        [] => None,
        _ => {
            notes.push(format!(
                "{}: {} perf-map entries of its size; not placed",
                f.name,
                c.len()
            ));
            None
        }
    }
}

/// Load the ELF file of every path mapped executable.
fn load_images(
    maps: &[maps::Mapping],
    elfs: &[String],
    notes: &mut Vec<String>,
) -> Result<Vec<Image>, String> {
    let given: Vec<(String, PathBuf)> = elfs
        .iter()
        .map(|s| match s.split_once('=') {
            Some((n, p)) => (n.to_string(), PathBuf::from(p)),
            None => {
                let p = PathBuf::from(s);
                (
                    p.file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default(),
                    p,
                )
            }
        })
        .collect();
    let mut paths: Vec<&str> = maps
        .iter()
        .filter(|m| m.exec() && m.file_backed())
        .map(|m| m.path.as_str())
        .collect();
    paths.dedup();
    paths.sort();
    paths.dedup();
    for (n, p) in &given {
        if !paths.iter().any(|m| m.rsplit('/').next() == Some(n)) {
            return Err(format!(
                "--elf {}: no executable mapping in the maps is named {n}",
                p.display()
            ));
        }
    }
    let mut out = Vec::new();
    for path in paths {
        let short = path.rsplit('/').next().unwrap_or(path);
        let named = given
            .iter()
            .find(|(n, _)| n == short)
            .map(|(_, p)| p.clone());
        let file = named.clone().unwrap_or_else(|| PathBuf::from(path));
        let placed = match std::fs::read(&file) {
            // A file named with --elf that cannot be read is bad input, not a finding.
            Err(e) if named.is_some() => return Err(format!("--elf {}: {e}", file.display())),
            Err(e) => {
                notes.push(format!(
                    "{path}: symbols unavailable ({}: {e})",
                    file.display()
                ));
                Err(format!("{} could not be read", file.display()))
            }
            Ok(data) => {
                let elf =
                    symbols::elf_entries(&data).map_err(|e| format!("{}: {e}", file.display()))?;
                let execs: Vec<&maps::Mapping> =
                    maps.iter().filter(|m| m.exec() && m.path == path).collect();
                let bias = symbols::load_bias(&elf, &execs)
                    .map_err(|e| format!("{} mapped as {path}: {e}", file.display()))?;
                Ok((bias, elf))
            }
        };
        out.push(Image {
            path: path.to_string(),
            placed,
        });
    }
    Ok(out)
}

/// Verify one function placed at `base` (its real address, if known).
pub fn verify_function(f: &DumpFn, base: Option<u64>, space: &AddressSpace) -> FunctionReport {
    let words = reach::words(&f.bytes);
    let entries: Vec<usize> = f.entries.iter().map(|&e| e as usize / 4).collect();
    let mut walk = reach::walk(&words, &entries);
    let at = base.unwrap_or(f.addr);
    let mut v = Vec::new();
    let flow::Analysis { sites, reads } = flow::analyse(&words, &f.bytes, &walk, base);
    // Relaxed literal loads (flow F2a) are literal reads like any other: checked and counted
    // as pool words.
    walk.reads.extend(reads);
    walk.reads.sort_by_key(|r| r.at);
    let called: Vec<i64> = sites.iter().filter_map(|s| s.literal).collect();
    check_literals(&walk, f.bytes.len(), at, &called, &mut v);
    for (i, &w) in words.iter().enumerate() {
        if !walk.code[i] {
            continue;
        }
        let why = if w & 0xFFFF_0000 == 0 {
            "is permanently undefined (udf): padding or data"
        } else if crate::oracle::check::decode_word(w, at + 4 * i as u64).is_none() {
            "decodes to no instruction"
        } else {
            continue;
        };
        v.push(Violation::new(
            i,
            "data-on-path",
            format!("word {w:#010x} is reached as code but {why}"),
        ));
    }
    for &i in &walk.falls_off {
        let what = if flow::falls_through(words[i])
            && matches!(
                reach::flow(words[i]),
                reach::Flow::Call(_) | reach::Flow::CallReg(_)
            ) {
            "the return address of this call is past the function's end"
        } else {
            "control falls through past the function's end"
        };
        v.push(Violation::new(i, "falls-off-end", what.into()));
    }
    let reports = sites
        .iter()
        .map(|s| site_report(s, space, &mut v))
        .collect();
    v.sort_by_key(|x| x.offset);
    let pool = walk.pool_words();
    FunctionReport::new(f, base, &walk, &pool, reports, v)
}

/// Check 1 and the pool half of check 2 for every literal load. A misaligned literal is
/// `literal-misaligned` when a call or branch goes through it (`called` holds those offsets),
/// else `constant-misaligned` (CinderX's own constant pool, see the README).
fn check_literals(walk: &reach::Walk, len: usize, at: u64, called: &[i64], v: &mut Vec<Violation>) {
    for r in &walk.reads {
        let (t, size) = (r.target, i64::from(r.size));
        let rel = if t >= 0 {
            format!("+{t:#x}")
        } else {
            format!("-{:#x}", -t)
        };
        if t < 0 || t + size > len as i64 {
            v.push(Violation::new(
                r.at,
                "literal-outside-function",
                format!(
                    "literal load reads {size} bytes at {rel}, outside the function's {len} bytes"
                ),
            ));
            continue;
        }
        let addr = at.wrapping_add(t as u64);
        if !addr.is_multiple_of(size as u64) {
            let rule = if called.contains(&t) {
                "literal-misaligned"
            } else {
                "constant-misaligned"
            };
            v.push(Violation::new(
                r.at,
                rule,
                format!(
                    "literal load reads {size} bytes at {rel} ({addr:#x}), not {size}-byte aligned"
                ),
            ));
        }
        if let Some(w) = (t / 4..(t + size + 3) / 4).find(|&w| walk.code[w as usize]) {
            v.push(Violation::new(
                r.at,
                "pool-word-on-path",
                format!(
                    "literal load reads {rel}, but word +{:#x} is reached as code",
                    4 * w
                ),
            ));
        }
    }
}

fn site_report(s: &Site, space: &AddressSpace, v: &mut Vec<Violation>) -> SiteReport {
    let (target, resolved) = match s.target {
        Target::Addr(a) => match space.resolve(a) {
            Resolution::Entry { source, name } => (Some(a), Some((source, name))),
            Resolution::Unresolved(why) => {
                v.push(Violation::new(
                    s.at,
                    "unresolved-target",
                    format!("{} to {why}", s.kind.name()),
                ));
                (Some(a), None)
            }
        },
        Target::Unplaced => {
            let why = "a pc-relative target the function's unknown real address would place (no perf map entry)";
            v.push(Violation::new(
                s.at,
                "unplaced-target",
                format!("{}: {why}", s.kind.name()),
            ));
            (None, None)
        }
        Target::None => (None, None),
    };
    SiteReport::new(s, target, resolved)
}

/// Verify every function of the inputs.
pub fn run(inp: &Inputs) -> Result<Report, String> {
    if let Some(r) = inp.allow.iter().find(|r| !RULES.contains(&r.as_str())) {
        return Err(format!(
            "--allow {r}: unknown rule (known: {})",
            RULES.join(", ")
        ));
    }
    let Loaded {
        funcs,
        placed,
        space,
        notes,
    } = load(inp)?;
    let mut functions: Vec<FunctionReport> = funcs
        .iter()
        .zip(&placed)
        .map(|(f, &b)| verify_function(f, b, &space))
        .collect();
    let mut notes = notes;
    for f in &mut functions {
        // Code only an unrecorded entry reaches (a generator's resume points: CinderX keeps
        // them outside the code and the dump) is data to the walk, so it goes unverified.
        if f.unreferenced_words > 64 && f.unreferenced_words > f.code_words / 4 {
            notes.push(format!(
                "{}: {} of {} words are reached from no entry the dump records (generator resume \
                 points?); any calls there are not verified",
                f.name,
                f.unreferenced_words,
                f.size / 4
            ));
        }
        let (allowed, kept) = f
            .violations
            .drain(..)
            .partition(|v| inp.allow.iter().any(|a| a == v.rule));
        (f.allowed, f.violations) = (allowed, kept);
    }
    Ok(Report::new(
        inp.dump.display().to_string(),
        functions,
        notes,
    ))
}
