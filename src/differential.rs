//! One differential execution: emit a program under every strategy, check the bytes statically,
//! run each on every engine, and judge the outcomes. Used by the CLI, the tests, the benches and
//! the fuzz targets, so each of those is a few lines over this.

use crate::asm::buffer::EmitError;
use crate::emit::strategy::{self, Strategy};
use crate::emit::{emit, EmitOptions, Emitted};
use crate::engine::{Engine, EngineError, Outcome};
use crate::machine::runtime::Image;
use crate::model::program::Program;
use crate::model::text;
use crate::oracle::check::{self, CheckError};
use crate::oracle::dynamic::{self as oracle, Divergence, Run};
use crate::planted::PlantedBug;
use std::path::{Path, PathBuf};

/// What to run.
#[derive(Clone)]
pub struct Config {
    /// Strategies to emit; the first is the reference the others are compared with.
    pub strategies: Vec<&'static dyn Strategy>,
    /// Planted bug (tests only).
    pub bug: Option<PlantedBug>,
    /// Run the capstone static check.
    pub static_check: bool,
    /// Run the engines and the dynamic oracle.
    pub dynamic: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            strategies: strategy::all(),
            bug: None,
            static_check: true,
            dynamic: true,
        }
    }
}

impl Config {
    /// The default config with the given strategies.
    pub fn with_strategies(strategies: Vec<&'static dyn Strategy>) -> Self {
        Config {
            strategies,
            ..Config::default()
        }
    }
}

/// A reason the program fails the differential.
#[derive(Clone, Debug)]
pub enum Finding {
    /// A strategy could not emit the program.
    Emit {
        /// Strategy name.
        strategy: String,
        /// Why.
        error: EmitError,
    },
    /// The static oracle rejected a strategy's bytes.
    Static {
        /// Strategy name.
        strategy: String,
        /// Why.
        error: CheckError,
        /// Capstone disassembly around the problem.
        listing: String,
    },
    /// The dynamic oracle found a difference.
    Dynamic(Divergence),
}

impl Finding {
    /// One-line summary.
    pub fn summary(&self) -> String {
        match self {
            Finding::Emit { strategy, error } => format!("emission failed for {strategy}: {error}"),
            Finding::Static {
                strategy, error, ..
            } => format!("static check failed for {strategy}: {error}"),
            Finding::Dynamic(d) => {
                let runs: Vec<String> = d.runs.iter().map(|(s, e)| format!("{s}@{e}")).collect();
                format!("{}: {} [{}]", d.kind.label(), d.what, runs.join(" vs "))
            }
        }
    }

    /// Is this an engine disagreement (a bug in an emulator or the harness, not a strategy)?
    pub fn is_engine_disagreement(&self) -> bool {
        matches!(self, Finding::Dynamic(d) if d.kind == oracle::Kind::EngineDisagreement)
    }
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Finding::Static { listing, .. } => write!(f, "{}\n{listing}", self.summary()),
            Finding::Dynamic(d) => write!(f, "{d}"),
            _ => write!(f, "{}", self.summary()),
        }
    }
}

/// Everything one differential execution produced.
pub struct Report {
    /// One emission per strategy that emitted, in config order.
    pub emitted: Vec<Emitted>,
    /// (index into `emitted`, engine name, outcome) for every run.
    pub outcomes: Vec<(usize, &'static str, Outcome)>,
    /// The first finding, if any.
    pub finding: Option<Finding>,
}

/// Emit `program` under every configured strategy and run the static check.
pub fn emit_all(program: &Program, cfg: &Config) -> (Vec<Emitted>, Option<Finding>) {
    let opts = EmitOptions { bug: cfg.bug };
    let mut out = Vec::new();
    for s in &cfg.strategies {
        match emit(program, *s, &opts) {
            Ok(e) => {
                if cfg.static_check {
                    if let Err(error) = check::check(&e) {
                        let listing = check::disassemble(
                            &e,
                            error.offset.saturating_sub(24)..error.offset + 24,
                        );
                        return (
                            out,
                            Some(Finding::Static {
                                strategy: s.name().into(),
                                error,
                                listing,
                            }),
                        );
                    }
                }
                out.push(e)
            }
            Err(error) => {
                return (
                    out,
                    Some(Finding::Emit {
                        strategy: s.name().into(),
                        error,
                    }),
                )
            }
        }
    }
    (out, None)
}

/// Run the whole differential on the given engines.
pub fn run_program(
    program: &Program,
    cfg: &Config,
    engines: &mut [&mut dyn Engine],
) -> Result<Report, EngineError> {
    Ok(run_programs(&[program], cfg, engines)?
        .pop()
        .expect("one report per program"))
}

/// Run the differential for several programs, giving each engine all their images as one batch
/// (one process for the ELF engine).
pub fn run_programs(
    programs: &[&Program],
    cfg: &Config,
    engines: &mut [&mut dyn Engine],
) -> Result<Vec<Report>, EngineError> {
    if cfg.dynamic && engines.is_empty() {
        return Err(EngineError {
            engine: "none",
            message: "no engine selected: nothing would run".into(),
        });
    }
    struct Pending {
        emitted: Vec<Emitted>,
        images: Vec<Image>,
        finding: Option<Finding>,
    }
    let mut pend = Vec::with_capacity(programs.len());
    for program in programs {
        let (emitted, mut finding) = emit_all(program, cfg);
        let mut images = Vec::new();
        if finding.is_none() && cfg.dynamic {
            for e in &emitted {
                match Image::build(program, e, program.code_base) {
                    Ok(i) => images.push(i),
                    Err(error) => {
                        finding = Some(Finding::Emit {
                            strategy: e.strategy.into(),
                            error,
                        });
                        images.clear();
                        break;
                    }
                }
            }
        }
        pend.push(Pending {
            emitted,
            images,
            finding,
        });
    }
    let all: Vec<&Image> = pend.iter().flat_map(|p| p.images.iter()).collect();
    // One batch per engine; each program then takes its images' results, in order, from each.
    let mut per_engine: Vec<(
        &'static str,
        std::vec::IntoIter<Result<Outcome, EngineError>>,
    )> = engines
        .iter_mut()
        .map(|e| (e.name(), e.run_batch(&all).into_iter()))
        .collect();
    let mut reports = Vec::with_capacity(pend.len());
    for p in pend {
        let mut outcomes = Vec::new();
        for (name, results) in per_engine.iter_mut() {
            for i in 0..p.images.len() {
                let o = results
                    .next()
                    .expect("run_batch returns one result per image")?;
                outcomes.push((i, *name, o));
            }
        }
        let finding = match p.finding {
            Some(f) => Some(f),
            None if outcomes.is_empty() => None,
            None => {
                let runs: Vec<Run> = outcomes
                    .iter()
                    .map(|(i, eng, o)| Run {
                        strategy: p.emitted[*i].strategy,
                        engine: eng,
                        emitted: &p.emitted[*i],
                        outcome: o,
                    })
                    .collect();
                oracle::judge(&runs).err().map(Finding::Dynamic)
            }
        };
        reports.push(Report {
            emitted: p.emitted,
            outcomes,
            finding,
        });
    }
    Ok(reports)
}

/// Engines the CLI and the gate can select by name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EngineChoice {
    /// [`crate::engine::UnicornEngine`], reused per thread.
    Unicorn,
    /// [`crate::engine::ElfEngine`]: qemu-aarch64 on x86 hosts, direct execution on aarch64.
    Qemu,
    /// Native execution: the ELF engine run directly on an aarch64 Linux host (it maps the pages,
    /// writes code and helpers, flushes the caches, remaps them read-execute and calls the
    /// function in the child process). Absent elsewhere.
    Native,
}

impl EngineChoice {
    /// Parse a comma-separated list (`unicorn`, `qemu`).
    pub fn parse_list(s: &[String]) -> Result<Vec<EngineChoice>, String> {
        s.iter()
            .map(|n| match n.as_str() {
                "unicorn" => Ok(EngineChoice::Unicorn),
                "qemu" | "elf" => Ok(EngineChoice::Qemu),
                "native" => Ok(EngineChoice::Native),
                other => Err(format!(
                    "unknown engine `{other}` (known: unicorn, qemu, native)"
                )),
            })
            .collect()
    }
}

/// Run programs on the chosen engines (Unicorn is always this thread's reused engine).
pub fn run_on(
    programs: &[&Program],
    cfg: &Config,
    engines: &[EngineChoice],
) -> Result<Vec<Report>, EngineError> {
    if engines.contains(&EngineChoice::Native)
        && !cfg!(all(target_arch = "aarch64", target_os = "linux"))
    {
        return Err(EngineError {
            engine: "native",
            message: format!(
                "the native engine runs only on aarch64 Linux hosts; this host is {} (use qemu)",
                std::env::consts::ARCH
            ),
        });
    }
    let mut elf = if engines.iter().any(|e| *e != EngineChoice::Unicorn) {
        Some(crate::engine::ElfEngine::new()?)
    } else {
        None
    };
    crate::engine::unicorn::with_thread_engine(|u| {
        let mut list: Vec<&mut dyn Engine> = Vec::new();
        let (mut u_opt, mut q_opt) = (Some(u), elf.as_mut());
        for e in engines {
            match e {
                EngineChoice::Unicorn => list.extend(u_opt.take().map(|u| u as &mut dyn Engine)),
                EngineChoice::Qemu | EngineChoice::Native => {
                    list.extend(q_opt.take().map(|q| q as &mut dyn Engine))
                }
            }
        }
        run_programs(programs, cfg, &mut list)
    })?
}

/// Run the differential on this thread's Unicorn engine.
pub fn run_unicorn(program: &Program, cfg: &Config) -> Result<Report, EngineError> {
    Ok(run_on(&[program], cfg, &[EngineChoice::Unicorn])?
        .pop()
        .expect("one report"))
}

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

/// CPU time used so far by this process and its waited-for children (the qemu processes of the
/// ELF engine), in seconds: user + system from /proc/self/stat, in 100 Hz clock ticks.
pub fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let rest = stat.rsplit_once(')')?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let mut ticks = 0.0;
    for i in 11..=14 {
        ticks += f.get(i)?.parse::<f64>().ok()?;
    }
    Some(ticks / 100.0)
}

/// The result of hunting one planted bug with random programs.
#[derive(Debug)]
pub struct Hunt {
    /// The bug.
    pub bug: PlantedBug,
    /// Programs tried (including the one that caught it).
    pub programs: u64,
    /// Seed of the catching program, and what caught it.
    pub caught: Option<(u64, Finding)>,
    /// Wall-clock time spent.
    pub elapsed: std::time::Duration,
}

/// Generate programs from the bug's profile (seeds `first_seed..`) and run the bug's strategy
/// beside a correct reference until a finding, `max_programs` or `time_limit`.
pub fn hunt_bug(
    bug: PlantedBug,
    static_check: bool,
    first_seed: u64,
    max_programs: u64,
    time_limit: std::time::Duration,
) -> Result<Hunt, EngineError> {
    let start = std::time::Instant::now();
    let profile =
        crate::model::gen::Profile::named(bug.profile()).expect("bug profiles are built in");
    let reference = if bug.strategy() == "movz-min" {
        "pool"
    } else {
        "movz-min"
    };
    let strategies = [reference, bug.strategy()]
        .iter()
        .map(|n| strategy::by_name(n).expect("known"))
        .collect();
    let cfg = Config {
        strategies,
        bug: Some(bug),
        static_check,
        dynamic: true,
    };
    let mut programs = 0;
    while programs < max_programs && start.elapsed() < time_limit {
        let seed = first_seed + programs;
        let p = crate::model::gen::from_seed(seed, &profile);
        programs += 1;
        if let Some(f) = run_unicorn(&p, &cfg)?.finding {
            return Ok(Hunt {
                bug,
                programs,
                caught: Some((seed, f)),
                elapsed: start.elapsed(),
            });
        }
    }
    Ok(Hunt {
        bug,
        programs,
        caught: None,
        elapsed: start.elapsed(),
    })
}

/// A second code address for `program`'s code of `len` bytes: the first of a few fixed
/// displacements (not a multiple of 4 GiB, so page offsets and distances change) that keeps the
/// code inside the user range and off every helper page.
pub fn relocation_base(program: &Program, len: u64) -> Option<u64> {
    let page = crate::machine::layout::HELPER_PAGE;
    let deltas: [i64; 6] = [
        0x1_2345_0000,
        -0x1_2345_0000,
        0x45_6789_0000,
        -0x45_6789_0000,
        0x7654_0000,
        -0x7654_0000,
    ];
    deltas
        .iter()
        .map(|d| program.code_base.wrapping_add(*d as u64))
        .find(|&b| {
            let end = crate::machine::layout::align_up(b + len, page);
            b >= crate::machine::layout::USER_MIN
                && end <= crate::machine::layout::USER_MAX
                && program.helpers.iter().all(|h| {
                    let hp = h.addr & !(page - 1);
                    hp + page <= (b & !(page - 1)) || hp >= end
                })
        })
}

/// Emit `program` under each strategy, run it at its own address and, copied, at a second
/// address; position-independent strategies must behave the same (call sites mapped by offset),
/// position-dependent ones must refuse the copy. Returns the first finding.
pub fn check_relocation(program: &Program, cfg: &Config) -> Result<Option<Finding>, EngineError> {
    let (emitted, finding) = emit_all(program, cfg);
    if finding.is_some() {
        return Ok(finding);
    }
    let mut pairs = Vec::new();
    for e in &emitted {
        let moved = match e.relocated(0) {
            Err(_) => continue, // refused, as it must be: the caller re-emits
            Ok(_) => {
                let Some(base) = relocation_base(program, e.code.bytes.len() as u64) else {
                    continue;
                };
                e.relocated(base).expect("position independent")
            }
        };
        pairs.push((e, moved));
    }
    crate::engine::unicorn::with_thread_engine(|u| -> Result<Option<Finding>, EngineError> {
        for (orig, moved) in &pairs {
            let mut outs = Vec::new();
            for e in [*orig, moved] {
                let img = Image::build(program, e, e.code.base).map_err(|er| EngineError {
                    engine: "relocation",
                    message: er.to_string(),
                })?;
                outs.push(u.run(&img)?);
            }
            let a = Run {
                strategy: orig.strategy,
                engine: "unicorn",
                emitted: orig,
                outcome: &outs[0],
            };
            let b = Run {
                strategy: orig.strategy,
                engine: "unicorn (moved)",
                emitted: moved,
                outcome: &outs[1],
            };
            if let Err(d) = oracle::check_run(&b).and_then(|_| oracle::compare(&a, &b, false)) {
                return Ok(Some(Finding::Dynamic(d)));
            }
        }
        Ok(None)
    })?
}
