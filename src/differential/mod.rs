//! One differential execution: emit a program under every strategy, check the bytes statically,
//! run each on every engine, and judge the outcomes. Used by the CLI, the tests, the benches and
//! the fuzz targets, so each of those is a few lines over this. [`campaign`] runs consecutive
//! seeds under a time budget (`a64call check`); [`repro`] writes a finding's program as a repro
//! file; [`relocation`] runs position-independent code at a second address; [`edges`] counts
//! the range edges a campaign's code met; [`cputime`] reads the CPU time engines spend; [`hunt`]
//! hunts each planted bug ([`crate::planted`]) with random programs.

pub mod campaign;
pub mod cputime;
pub mod edges;
pub mod hunt;
pub mod relocation;
pub mod repro;

use crate::asm::buffer::EmitError;
use crate::emit::strategy::StrategyId;
use crate::emit::strategy::{self, Strategy};
use crate::emit::{emit, Emitted};
use crate::engine::{
    interp, unicorn, ElfEngine, Engine, EngineError, EngineKind, Exit, InterpEngine, Outcome,
    UnicornEngine,
};
use crate::machine::runtime::Image;
use crate::model::program::Program;
use crate::oracle::check::{self, CheckError};
use crate::oracle::dynamic::{self as oracle, Divergence, Run, RunOn};
use crate::oracle::reference::{self, Expected};
use crate::planted::PlantedBug;
use crate::Named;

/// What to run.
#[derive(Clone)]
pub struct Config {
    /// Strategies to emit. Each is judged against the program's reference evaluation
    /// ([`crate::oracle::reference`]); across strategies, the others are compared with the first.
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
        /// The strategy.
        strategy: StrategyId,
        /// Why.
        error: EmitError,
    },
    /// The static oracle rejected a strategy's bytes.
    Static {
        /// The strategy.
        strategy: StrategyId,
        /// Why.
        error: CheckError,
        /// Capstone disassembly around the problem.
        listing: String,
    },
    /// The dynamic oracle found a difference.
    Dynamic(Divergence),
    /// a64call cannot run the program at all: a strategy found it cannot be placed in the
    /// machine's memory ([`EmitError::is_unsupported`]), or a correct run may execute more
    /// instructions than the engines' limit ([`Expected::insns_bound`]). Not a finding
    /// against any strategy, and no verdict on the program.
    Unsupported {
        /// Why, in words.
        why: String,
    },
}

impl Finding {
    /// The heading a report prints the finding under, in capitals so logs can be searched
    /// for it: what was found, not merely that two runs differ.
    pub fn heading(&self) -> &'static str {
        match self {
            Finding::Emit { .. } => "EMISSION FAILED",
            Finding::Static { .. } => "STATIC CHECK FAILED",
            Finding::Unsupported { .. } => "UNSUPPORTED",
            Finding::Dynamic(d) => match d.kind {
                oracle::Kind::Invariant => "INVARIANT VIOLATED",
                oracle::Kind::StrategyDivergence => "STRATEGY DIVERGENCE",
                oracle::Kind::EngineDisagreement => "ENGINE DISAGREEMENT",
                oracle::Kind::WrongResult => "WRONG RESULT",
            },
        }
    }

    /// One-line summary.
    pub fn summary(&self) -> String {
        match self {
            Finding::Emit { strategy, error } => format!("emission failed for {strategy}: {error}"),
            Finding::Unsupported { why } => {
                format!("unsupported: a64call cannot run this program ({why})")
            }
            Finding::Static {
                strategy, error, ..
            } => format!("static check failed for {strategy}: {error}"),
            Finding::Dynamic(d) => {
                let runs: Vec<String> = d.runs.iter().map(|(s, e)| format!("{s}@{e}")).collect();
                format!("{}: {} [{}]", d.kind.label(), d.what, runs.join(" vs "))
            }
        }
    }

    /// A failed emission: [`Finding::Unsupported`] when a64call cannot run the program at
    /// all, else [`Finding::Emit`].
    fn emission(strategy: StrategyId, error: EmitError) -> Finding {
        if error.is_unsupported() {
            Finding::Unsupported {
                why: format!("{strategy}: {error}"),
            }
        } else {
            Finding::Emit { strategy, error }
        }
    }

    /// Is this the verdict that a64call cannot run the program (not a finding against code)?
    pub fn is_unsupported(&self) -> bool {
        matches!(self, Finding::Unsupported { .. })
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
    /// (index into `emitted`, engine, outcome) for every run.
    pub outcomes: Vec<(usize, EngineKind, Outcome)>,
    /// Runs an engine did not make ([`Exit::Unsupported`]: an instruction outside the
    /// interpreter's subset, or an `svc` word the ELF engine will not run), each with why; the
    /// image was judged on Unicorn instead (rerun there when Unicorn was not among the engines).
    pub judged_on_unicorn: Vec<String>,
    /// The first finding, if any.
    pub finding: Option<Finding>,
}

/// Emit `program` under every configured strategy and run the static check.
pub fn emit_all(program: &Program, cfg: &Config) -> (Vec<Emitted>, Option<Finding>) {
    let mut out = Vec::new();
    for s in &cfg.strategies {
        let opts = cfg.bug.map(|b| b.emit_options(*s)).unwrap_or_default();
        // A program whose code cannot be placed is unsupported before any check judges it.
        let placed = |e: Emitted| {
            let len = e.code.bytes.len() as u64;
            Image::check_placement(program, len, program.code_base).map(|()| e)
        };
        match emit(program, *s, &opts).and_then(placed) {
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
                                strategy: s.id(),
                                error,
                                listing,
                            }),
                        );
                    }
                }
                out.push(e)
            }
            Err(error) => return (out, Some(Finding::emission(s.id(), error))),
        }
    }
    (out, None)
}

/// CPU time one engine spent on the runs of one or more calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EngineCpu {
    /// The engine.
    pub engine: EngineKind,
    /// Programs whose images it ran.
    pub programs: u64,
    /// Images it ran.
    pub runs: u64,
    /// CPU time of the calling thread during its runs, plus that of the processes it started
    /// ([`Engine::take_child_cpu`]).
    pub cpu: std::time::Duration,
}

impl EngineCpu {
    /// Add `c` to the entry of its engine in `list` (a new entry when there is none).
    pub fn add_to(list: &mut Vec<EngineCpu>, c: EngineCpu) {
        match list.iter_mut().find(|x| x.engine == c.engine) {
            Some(x) => {
                x.programs += c.programs;
                x.runs += c.runs;
                x.cpu += c.cpu;
            }
            None => list.push(c),
        }
    }
}

/// Run the differential for several programs, giving each engine all their images as one batch
/// (one process for the ELF engine).
pub fn run_programs(
    programs: &[&Program],
    cfg: &Config,
    engines: &mut [&mut dyn Engine],
) -> Result<Vec<Report>, EngineError> {
    run_programs_timed(programs, cfg, engines).map(|r| r.0)
}

/// [`run_programs`], with the CPU time each engine spent.
pub fn run_programs_timed(
    programs: &[&Program],
    cfg: &Config,
    engines: &mut [&mut dyn Engine],
) -> Result<(Vec<Report>, Vec<EngineCpu>), EngineError> {
    use crate::differential::cputime::thread_cpu;
    if cfg.dynamic && engines.is_empty() {
        return Err(EngineError {
            engine: None,
            message: "no engine selected: nothing would run".into(),
        });
    }
    let pend: Vec<Prepared> = programs.iter().map(|p| prepare(p, cfg)).collect();
    let all: Vec<&Image> = pend.iter().flat_map(|p| p.images.iter()).collect();
    let ran = pend.iter().filter(|p| !p.images.is_empty()).count() as u64;
    let mut cpu = Vec::new();
    // One batch per engine; each program then takes its images' results, in order, from each.
    let mut per_engine: Vec<(EngineKind, std::vec::IntoIter<Result<Outcome, EngineError>>)> =
        Vec::new();
    for e in engines.iter_mut() {
        let t0 = thread_cpu();
        let results = e.run_batch(&all);
        let spent = thread_cpu().saturating_sub(t0) + e.take_child_cpu();
        let c = EngineCpu {
            engine: e.kind(),
            programs: ran,
            runs: all.len() as u64,
            cpu: spent,
        };
        EngineCpu::add_to(&mut cpu, c);
        per_engine.push((e.kind(), results.into_iter()));
    }
    let has_unicorn = engines.iter().any(|e| e.kind() == EngineKind::Unicorn);
    let mut reports = Vec::with_capacity(pend.len());
    for p in pend {
        let mut outcomes = Vec::new();
        let mut moved = Vec::new();
        let mut reran = false;
        for (name, results) in per_engine.iter_mut() {
            for i in 0..p.images.len() {
                let o = results
                    .next()
                    .expect("run_batch returns one result per image")?;
                let Exit::Unsupported(why) = &o.exit else {
                    outcomes.push((i, *name, o));
                    continue;
                };
                moved.push(format!(
                    "{} on {}: {why}",
                    p.emitted[i].strategy,
                    name.name()
                ));
                if !has_unicorn {
                    outcomes.push((i, EngineKind::Unicorn, rerun(&p.images[i], &mut cpu)?));
                    reran = true;
                }
            }
        }
        if reran {
            // The program counts once for Unicorn, whatever number of its images it reran.
            let c = EngineCpu {
                engine: EngineKind::Unicorn,
                programs: 1,
                runs: 0,
                cpu: std::time::Duration::ZERO,
            };
            EngineCpu::add_to(&mut cpu, c);
        }
        reports.push(judged(p, outcomes, moved));
    }
    Ok((reports, cpu))
}

/// Run `image` on this thread's Unicorn engine (an image another engine did not run), adding
/// the run and its CPU time to Unicorn's entry of `cpu`.
fn rerun(image: &Image, cpu: &mut Vec<EngineCpu>) -> Result<Outcome, EngineError> {
    let t0 = crate::differential::cputime::thread_cpu();
    let u = unicorn::with_thread_engine(|u| u.run(image))??;
    let c = EngineCpu {
        engine: EngineKind::Unicorn,
        programs: 0,
        runs: 1,
        cpu: crate::differential::cputime::thread_cpu().saturating_sub(t0),
    };
    EngineCpu::add_to(cpu, c);
    Ok(u)
}

/// One program emitted under every strategy, with its images (none when emission already
/// produced a finding or the run is static only).
struct Prepared {
    emitted: Vec<Emitted>,
    images: Vec<Image>,
    finding: Option<Finding>,
    /// What the program must do (computed when it will run).
    expected: Option<Expected>,
}

fn prepare(program: &Program, cfg: &Config) -> Prepared {
    let (emitted, mut finding) = emit_all(program, cfg);
    let mut images = Vec::new();
    if finding.is_none() && cfg.dynamic {
        for e in &emitted {
            match Image::build(program, e, program.code_base) {
                Ok(i) => images.push(i),
                Err(error) => {
                    finding = Some(Finding::emission(e.strategy, error));
                    images.clear();
                    break;
                }
            }
        }
    }
    let mut expected = (!images.is_empty()).then(|| reference::evaluate(program));
    if let Some(why) = expected.as_ref().and_then(|x| too_long(program, x)) {
        finding = Some(Finding::Unsupported { why });
        images.clear();
        expected = None;
    }
    Prepared {
        emitted,
        images,
        finding,
        expected,
    }
}

/// Why `program` cannot be judged when a correct run of it may execute more instructions than
/// the engines' limit (Unicorn and the interpreter stop there; the ELF engine stops at a time
/// limit instead), so a run stopped as runaway would say nothing about the code: `None` when
/// the bound on a correct run ([`Expected::insns_bound`]) is under the limit.
fn too_long(program: &Program, expected: &Expected) -> Option<String> {
    let bound = expected.insns_bound(program);
    (bound >= crate::layout::DEFAULT_INSN_LIMIT).then(|| {
        format!(
            "a correct run may execute up to {bound} instructions ({} operations executed, {} \
             calls), not under the engines' limit of {}",
            expected.steps,
            expected.calls.len(),
            crate::layout::DEFAULT_INSN_LIMIT
        )
    })
}

/// The report of a prepared program with its outcomes: the emission finding, or the dynamic
/// oracle's judgement of the outcomes.
fn judged(
    p: Prepared,
    outcomes: Vec<(usize, EngineKind, Outcome)>,
    judged_on_unicorn: Vec<String>,
) -> Report {
    let finding = match (p.finding, &p.expected) {
        (Some(f), _) => Some(f),
        (None, Some(expected)) if !outcomes.is_empty() => {
            let runs: Vec<Run> = outcomes
                .iter()
                .map(|(i, eng, o)| Run {
                    strategy: p.emitted[*i].strategy,
                    on: RunOn::emitted(*eng),
                    emitted: &p.emitted[*i],
                    outcome: o,
                })
                .collect();
            oracle::judge(&runs, expected).err().map(Finding::Dynamic)
        }
        (None, _) => None,
    };
    Report {
        emitted: p.emitted,
        outcomes,
        judged_on_unicorn,
        finding,
    }
}

/// Run programs on the chosen engines, in their order, each once (the interpreter and Unicorn
/// are this thread's reused engines; qemu and native are ELF engines made here).
pub fn run_on(
    programs: &[&Program],
    cfg: &Config,
    engines: &[EngineKind],
) -> Result<Vec<Report>, EngineError> {
    run_on_timed(programs, cfg, engines).map(|r| r.0)
}

/// [`run_on`], with the CPU time each engine spent.
pub fn run_on_timed(
    programs: &[&Program],
    cfg: &Config,
    engines: &[EngineKind],
) -> Result<(Vec<Report>, Vec<EngineCpu>), EngineError> {
    let kinds = EngineKind::distinct(engines);
    let mut elfs = kinds
        .iter()
        .filter_map(|k| k.elf())
        .map(ElfEngine::for_kind)
        .collect::<Result<Vec<_>, _>>()?;
    with_thread_engines(&kinds, |mut interp, mut unicorn| {
        let mut elfs = elfs.iter_mut();
        let mut list: Vec<&mut dyn Engine> = Vec::new();
        for k in &kinds {
            match k {
                EngineKind::Interp => list.extend(interp.take().map(|e| e as &mut dyn Engine)),
                EngineKind::Unicorn => list.extend(unicorn.take().map(|u| u as &mut dyn Engine)),
                EngineKind::Qemu | EngineKind::Native => {
                    list.extend(elfs.next().map(|e| e as &mut dyn Engine))
                }
            }
        }
        run_programs_timed(programs, cfg, &mut list)
    })?
}

/// Call `f` with this thread's interpreter and Unicorn engine, each only when `kinds` names it
/// (a Unicorn engine not borrowed here stays free for [`run_programs`]' reruns).
fn with_thread_engines<R>(
    kinds: &[EngineKind],
    f: impl FnOnce(Option<&mut InterpEngine>, Option<&mut UnicornEngine>) -> R,
) -> Result<R, EngineError> {
    let with_unicorn = |i: Option<&mut InterpEngine>| {
        if kinds.contains(&EngineKind::Unicorn) {
            unicorn::with_thread_engine(|u| f(i, Some(u)))
        } else {
            Ok(f(i, None))
        }
    };
    if kinds.contains(&EngineKind::Interp) {
        interp::with_thread_engine(|i| with_unicorn(Some(i)))
    } else {
        with_unicorn(None)
    }
}

/// Run the differential on this thread's Unicorn engine.
pub fn run_unicorn(program: &Program, cfg: &Config) -> Result<Report, EngineError> {
    Ok(run_on(&[program], cfg, &[EngineKind::Unicorn])?
        .pop()
        .expect("one report"))
}
