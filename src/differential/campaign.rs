//! A check campaign: the programs of consecutive seeds under one profile, run through the
//! differential until one gives a finding, the seeds run out or the time budget is spent. The
//! driver of `a64call check`; the CLI only prints what it returns.
//!
//! Workers (`jobs` threads, each with its own engines) take the next batch of program indices
//! from one counter. A worker stops taking indices past the lowest one that gave a finding, so
//! every lower index is still run and the finding reported is the one at the lowest seed: the
//! same seed range gives the same programs and the same findings whatever the number of jobs.
//! The programs run are always a prefix of the seed range (a batch taken is finished, but for
//! the programs past the lowest finding).
//!
//! With an ELF engine, programs go in batches so one process serves many (a process costs
//! milliseconds). Under a time budget a batch is sized from the time programs have taken so far
//! and the time left, starting from one program, so one batch cannot overrun the budget by more
//! than about one program's time. A batch goes through the differential in chunks bounded in
//! programs and operations, and only its findings are kept from one chunk to the next, so the
//! memory a worker holds does not grow with the batch.

use super::{run_on_timed, Config, EngineCpu, Finding, Report};
use crate::differential::edges::EdgeCounts;
use crate::engine::{EngineError, EngineKind};
use crate::machine::window::SEEDS_PER_WINDOW;
use crate::model::gen;
use crate::model::profile::Profile;
use crate::model::program::Program;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The default number of programs given to one ELF-engine process ([`Plan::elf_batch`]): the
/// smallest on the plateau measured here (2026-12-03, quiet, `a64call check --iterations 1536
/// --jobs 1 --engines qemu --strategies movz-min,pool --elf-batch N`, qemu programs per
/// CPU-second): 24 → 515–538, 48 → 652, 64 → 676–725, 96 → 705, 128 → 723. A smaller batch
/// loses less when a program ends its process (the rest run again in a new one).
pub const DEFAULT_ELF_BATCH: u64 = 64;

/// Engines that run a sample of the programs beside the plan's own, and every program that
/// gave a finding again, so the finding is judged with them too.
#[derive(Clone, Copy)]
pub struct Confirm<'a> {
    /// The confirming engines.
    pub engines: &'a [EngineKind],
    /// Programs whose run of [`SEEDS_PER_WINDOW`] seeds (`seed / SEEDS_PER_WINDOW`, counted
    /// from the first seed's run) is a multiple of this run on them (1: every program; the
    /// first run always does). Whole runs, not every N-th program: a
    /// run shares one window of the fixed machine layout, so the confirming engines load its
    /// helper banks once for it.
    pub every: u64,
}

/// What to check.
pub struct Plan<'a> {
    /// The generator's profile.
    pub profile: &'a Profile,
    /// Strategies, oracles and planted bug.
    pub config: &'a Config,
    /// Engines, in order.
    pub engines: &'a [EngineKind],
    /// The first seed.
    pub first_seed: u64,
    /// Stop after this many programs.
    pub iterations: Option<u64>,
    /// Stop starting programs once this much time has passed.
    pub budget: Option<Duration>,
    /// Worker threads (at least one).
    pub jobs: usize,
    /// Engines confirming a sample and every finding.
    pub confirm: Option<Confirm<'a>>,
    /// Programs per ELF-engine process, at most (a process costs milliseconds to start).
    pub elf_batch: u64,
}

impl Plan<'_> {
    /// The plan's engines followed by the confirming ones not among them.
    fn all_engines(&self) -> Vec<EngineKind> {
        let mut all = self.engines.to_vec();
        all.extend(self.confirm.iter().flat_map(|c| c.engines));
        EngineKind::distinct(&all)
    }

    /// Does program `index` run on the confirming engines too?
    fn sampled(&self, index: u64) -> bool {
        // Runs counted from the first seed's, so the first run is always confirmed.
        let run = self.first_seed.wrapping_add(index) / SEEDS_PER_WINDOW
            - self.first_seed / SEEDS_PER_WINDOW;
        self.confirm
            .is_some_and(|c| run.is_multiple_of(c.every.max(1)))
    }

    /// The largest batch: [`Plan::elf_batch`] programs per ELF-engine process (of sampled
    /// programs, when only the confirming engines include one), one program otherwise.
    fn batch_cap(&self) -> u64 {
        let batch = self.elf_batch.max(1);
        let elf = |list: &[EngineKind]| list.iter().any(|e| e.is_elf());
        match self.confirm {
            _ if elf(self.engines) => batch,
            Some(c) if elf(c.engines) => batch * c.every.max(1),
            _ => 1,
        }
    }
}

/// How a campaign ended.
pub enum End {
    /// Every program ran without a finding.
    Clean(Totals),
    /// A program gave a finding (the one at the lowest seed).
    Found {
        /// Its seed.
        seed: u64,
        /// The program.
        program: Box<Program>,
        /// What was found.
        finding: Box<Finding>,
    },
}

/// Programs to run next: at most `cap` and a `workers`-th of the `left` (rounded up), and under
/// a `budget` no more than the time
/// left after `elapsed` allows at the mean time per program of the `done` so far, shared by
/// `workers` (one when nothing has run yet, none when the budget is spent).
fn batch_size(
    elapsed: Duration,
    budget: Option<Duration>,
    done: u64,
    left: Option<u64>,
    cap: u64,
    workers: usize,
) -> u64 {
    // The programs left shared by the workers, so a short run keeps every worker busy.
    let k = left.map_or(cap, |l| l.min(cap).min(l.div_ceil(workers.max(1) as u64)));
    let Some(budget) = budget else { return k };
    let rest = budget.saturating_sub(elapsed).as_secs_f64();
    if rest <= 0.0 {
        return 0;
    }
    if done == 0 {
        return k.min(1);
    }
    let per = elapsed.as_secs_f64() * workers.max(1) as f64 / done as f64;
    k.min(((rest / per.max(1e-9)) as u64).max(1))
}

/// What the workers saw, summed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Totals {
    /// Programs run.
    pub programs: u64,
    /// Helper calls in the first run of each program (the reference strategy on the first
    /// engine).
    pub calls: u64,
    /// The range edges the emitted code met.
    pub edges: EdgeCounts,
    /// Runs an engine could not make, judged on Unicorn instead
    /// ([`super::Report::judged_on_unicorn`]).
    pub judged_on_unicorn: u64,
    /// Programs that also ran on the confirming engines.
    pub confirmed: u64,
    /// CPU time each engine spent, in all workers.
    pub engine_cpu: Vec<EngineCpu>,
}

impl Totals {
    fn merge(&mut self, o: Totals) {
        self.programs += o.programs;
        self.calls += o.calls;
        self.judged_on_unicorn += o.judged_on_unicorn;
        self.confirmed += o.confirmed;
        for c in o.engine_cpu {
            EngineCpu::add_to(&mut self.engine_cpu, c);
        }
        self.edges.merge(&o.edges);
    }
}

/// The finding at the lowest program index so far.
type First = Option<(u64, Program, Finding)>;

/// What the workers share.
struct Shared<'p, 'a> {
    plan: &'p Plan<'a>,
    start: Instant,
    /// The next program index to hand out.
    next: AtomicU64,
    /// Programs finished.
    done: AtomicU64,
    /// Set when a worker failed: the others stop.
    failed: AtomicBool,
    first: Mutex<First>,
}

impl Shared<'_, '_> {
    /// The index of the lowest finding so far.
    fn first_found(&self) -> Option<u64> {
        self.first
            .lock()
            .expect("no worker panics holding it")
            .as_ref()
            .map(|f| f.0)
    }

    /// Keep `finding` if it is the lowest so far.
    fn offer(&self, index: u64, program: Program, finding: Finding) {
        let mut first = self.first.lock().expect("no worker panics holding it");
        if first.as_ref().is_none_or(|f| index < f.0) {
            *first = Some((index, program, finding));
        }
    }

    /// The next batch of program indices, or none when the work is over.
    fn take(&self, cap: u64) -> Option<std::ops::Range<u64>> {
        let plan = self.plan;
        let done = self.done.load(Ordering::SeqCst);
        let left = plan
            .iterations
            .map(|it| it.saturating_sub(self.next.load(Ordering::SeqCst)));
        let k = batch_size(
            self.start.elapsed(),
            plan.budget,
            done,
            left,
            cap,
            plan.jobs,
        );
        if k == 0 || self.failed.load(Ordering::SeqCst) {
            return None;
        }
        let first = self.next.fetch_add(k, Ordering::SeqCst);
        let end = plan.iterations.map_or(first + k, |it| (first + k).min(it));
        let past_finding = self.first_found().is_some_and(|f| first > f);
        (first < end && !past_finding).then_some(first..end)
    }
}

/// The most operations ([`Program::op_count`]) one call of the differential is given: the
/// programs of a batch go through it in chunks, so the emitted code, images and outcomes held at
/// once stay bounded whatever the profile (one `big` program can hold a few hundred thousand
/// operations; a program over this goes alone).
const CHUNK_OPS: usize = 1 << 18;

/// Programs one call of the differential is given on `engines`, at most: [`Plan::elf_batch`]
/// per ELF-engine process, else [`NON_ELF_CHUNK`].
fn chunk_cap(plan: &Plan, engines: &[EngineKind]) -> usize {
    if engines.iter().any(|e| e.is_elf()) {
        plan.elf_batch.max(1) as usize
    } else {
        NON_ELF_CHUNK
    }
}

/// Programs per call of the differential when no engine is an ELF engine: those keep one
/// engine per thread, so a small chunk costs nothing and holds little.
const NON_ELF_CHUNK: usize = 16;

/// `idx` cut into chunks of at most `cap` programs and, but for a chunk of one,
/// [`CHUNK_OPS`] operations, each program generated with its index as its chunk is taken (so
/// only one chunk's programs, and the first of the next, exist at a time).
struct Chunks<'p, 'a> {
    plan: &'p Plan<'a>,
    idx: std::vec::IntoIter<u64>,
    cap: usize,
    /// The program generated that did not fit the last chunk: the next one's first.
    next: Option<(u64, Program)>,
}

impl Chunks<'_, '_> {
    fn generate(&mut self) -> Option<(u64, Program)> {
        let plan = self.plan;
        self.next.take().or_else(|| {
            let i = self.idx.next()?;
            Some((
                i,
                gen::from_seed(plan.first_seed.wrapping_add(i), plan.profile),
            ))
        })
    }
}

impl Iterator for Chunks<'_, '_> {
    type Item = Vec<(u64, Program)>;

    fn next(&mut self) -> Option<Self::Item> {
        let first = self.generate()?;
        let mut ops = first.1.op_count();
        let mut chunk = vec![first];
        while chunk.len() < self.cap {
            let Some(p) = self.generate() else { break };
            ops += p.1.op_count();
            if ops > CHUNK_OPS {
                self.next = Some(p);
                break;
            }
            chunk.push(p);
        }
        Some(chunk)
    }
}

/// One program's report into `tally` (edges, calls, reruns on Unicorn, confirmation).
fn tally_report(tally: &mut Totals, program: &Program, report: &Report, confirmed: bool) {
    let targets: Vec<u64> = program.helpers.iter().map(|h| h.addr).collect();
    for e in &report.emitted {
        tally.edges.add(e, &targets);
    }
    tally.judged_on_unicorn += report.judged_on_unicorn.len() as u64;
    tally.confirmed += u64::from(confirmed);
    tally.calls += report
        .outcomes
        .first()
        .map_or(0, |o| o.2.calls.len() as u64);
}

/// The programs of `range` through the differential, chunk by chunk ([`Chunks`]): sampled ones
/// on every engine, the rest on the plan's; a finding made without the confirming engines is
/// made again with them, and their finding reported (the first one when they find nothing).
/// Each report goes into `tally` as soon as it is made and a finding is offered to `sh` at
/// once, so memory holds one chunk at a time; a chunk starting past the lowest finding so far
/// (any worker's) is skipped, so a finding is reported without waiting for the rest of a batch.
fn run_range(
    sh: &Shared,
    range: std::ops::Range<u64>,
    tally: &mut Totals,
) -> Result<(), EngineError> {
    let plan = sh.plan;
    let all = plan.all_engines();
    let run = |progs: &[&Program], engines: &[EngineKind], tally: &mut Totals| {
        let (reports, spent) = run_on_timed(progs, plan.config, engines)?;
        for c in spent {
            EngineCpu::add_to(&mut tally.engine_cpu, c);
        }
        Ok::<_, EngineError>(reports)
    };
    for sampled in [true, false] {
        let idx: Vec<u64> = range
            .clone()
            .filter(|&i| plan.sampled(i) == sampled)
            .collect();
        let engines = if sampled { &all[..] } else { plan.engines };
        let chunks = Chunks {
            plan,
            idx: idx.into_iter(),
            cap: chunk_cap(plan, engines),
            next: None,
        };
        for chunk in chunks {
            if sh.first_found().is_some_and(|f| chunk[0].0 > f) {
                break;
            }
            let progs: Vec<&Program> = chunk.iter().map(|(_, p)| p).collect();
            let reports = run(&progs, engines, tally)?;
            for ((i, p), mut r) in chunk.into_iter().zip(reports) {
                let mut confirmed = sampled && plan.confirm.is_some();
                if r.finding.is_some() && !confirmed && plan.confirm.is_some() {
                    let mut again = run(&[&p], &all, tally)?.pop().expect("one report");
                    again.finding = again.finding.or(r.finding.take());
                    r = again;
                    confirmed = true;
                }
                tally_report(tally, &p, &r, confirmed);
                if let Some(f) = r.finding {
                    sh.offer(i, p, f);
                }
            }
        }
    }
    Ok(())
}

/// One worker: batches until none is left, tallying clean programs and offering findings.
fn worker(sh: &Shared, progress: &(dyn Fn(u64) + Sync)) -> Result<Totals, EngineError> {
    let mut tally = Totals::default();
    while let Some(range) = sh.take(sh.plan.batch_cap()) {
        run_range(sh, range.clone(), &mut tally).inspect_err(|_| {
            sh.failed.store(true, Ordering::SeqCst);
        })?;
        let n = range.end - range.start;
        tally.programs += n;
        progress(sh.done.fetch_add(n, Ordering::SeqCst) + n);
    }
    Ok(tally)
}

/// Run the campaign on `plan.jobs` threads; `progress` is told the number of programs run
/// after each batch.
pub fn run(plan: &Plan, progress: impl Fn(u64) + Sync) -> Result<End, EngineError> {
    let sh = Shared {
        plan,
        start: Instant::now(),
        next: AtomicU64::new(0),
        done: AtomicU64::new(0),
        failed: AtomicBool::new(false),
        first: Mutex::new(None),
    };
    let results: Vec<Result<Totals, EngineError>> = std::thread::scope(|s| {
        let mut workers = Vec::new();
        let mut refused = None;
        for _ in 0..plan.jobs.max(1) {
            match std::thread::Builder::new().spawn_scoped(s, || worker(&sh, &progress)) {
                Ok(w) => workers.push(w),
                Err(e) => {
                    // The workers already running stop at their next batch.
                    sh.failed.store(true, Ordering::SeqCst);
                    refused = Some(EngineError {
                        engine: None,
                        message: format!(
                            "could not start worker thread {} of {} ({e}): give a smaller --jobs",
                            workers.len() + 1,
                            plan.jobs
                        ),
                    });
                    break;
                }
            }
        }
        let mut results: Vec<_> = workers
            .into_iter()
            .map(|w| w.join().expect("a campaign worker panicked"))
            .collect();
        results.extend(refused.map(Err));
        results
    });
    let mut tally = Totals::default();
    for r in results {
        tally.merge(r?);
    }
    if let Some((index, program, finding)) = sh.first.into_inner().expect("workers are done") {
        return Ok(End::Found {
            seed: plan.first_seed.wrapping_add(index),
            program: Box::new(program),
            finding: Box::new(finding),
        });
    }
    Ok(End::Clean(tally))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_budget_sizes_batches_from_the_time_taken() {
        let secs = Duration::from_secs;
        let budget = Some(secs(3));
        // Nothing run yet: one program.
        assert_eq!(batch_size(secs(0), budget, 0, None, 24, 1), 1);
        // 4 programs in 2 s, 1 s left: 2 more fit.
        assert_eq!(batch_size(secs(2), budget, 4, None, 24, 1), 2);
        // The same pace shared by two workers: each program takes a worker 1 s, so 1 fits.
        assert_eq!(batch_size(secs(2), budget, 4, None, 24, 2), 1);
        // Less than one program's time left: still one.
        assert_eq!(batch_size(secs(2), budget, 1, None, 24, 1), 1);
        // The cap and the programs left bound it too.
        assert_eq!(batch_size(secs(2), budget, 400, None, 24, 1), 24);
        assert_eq!(batch_size(secs(2), budget, 400, Some(5), 24, 1), 5);
        // Spent, or no programs left: none.
        assert_eq!(batch_size(secs(4), budget, 4, None, 24, 1), 0);
        assert_eq!(batch_size(secs(0), None, 4, Some(0), 24, 1), 0);
        // No budget: the cap.
        assert_eq!(batch_size(secs(0), None, 0, None, 24, 1), 24);
        assert_eq!(batch_size(secs(0), None, 0, Some(3), 1, 1), 1);
        // Few programs left: shared by the workers.
        assert_eq!(batch_size(secs(0), None, 0, Some(8), 1024, 2), 4);
        assert_eq!(batch_size(secs(0), None, 0, Some(9), 1024, 2), 5);
        assert_eq!(batch_size(secs(0), None, 0, Some(5000), 1024, 2), 1024);
    }

    /// Chunks keep the indices in order and all of them, hold at most `cap` programs, and hold
    /// more than [`CHUNK_OPS`] operations only as a chunk of one.
    #[test]
    fn chunks_are_bounded_in_programs_and_operations() {
        use crate::model::profile::BuiltIn;
        let config = Config::default();
        let cut = |profile: &Profile, cap: usize, idx: Vec<u64>| -> Vec<Vec<(u64, usize)>> {
            let plan = Plan {
                profile,
                config: &config,
                engines: &[EngineKind::Interp],
                first_seed: 1,
                iterations: None,
                budget: None,
                jobs: 1,
                confirm: None,
                elf_batch: 1,
            };
            let chunks = Chunks {
                plan: &plan,
                idx: idx.into_iter(),
                cap,
                next: None,
            };
            chunks
                .map(|c| c.iter().map(|(i, p)| (*i, p.op_count())).collect())
                .collect()
        };
        let small = cut(&BuiltIn::Default.profile(), 16, (0..40).collect());
        let lens: Vec<usize> = small.iter().map(Vec::len).collect();
        assert_eq!(lens, [16, 16, 8]);
        let order: Vec<u64> = small.iter().flatten().map(|c| c.0).collect();
        assert_eq!(order, (0..40).collect::<Vec<_>>());
        let big = cut(&BuiltIn::Big.profile(), 16, vec![0, 1, 2, 3, 4, 5, 6, 7, 9]);
        assert!(big.len() > 1, "big programs are split by operations");
        for c in &big {
            let ops: usize = c.iter().map(|p| p.1).sum();
            assert!(c.len() == 1 || ops <= CHUNK_OPS, "{c:?}");
        }
        let order: Vec<u64> = big.iter().flatten().map(|c| c.0).collect();
        assert_eq!(order, [0, 1, 2, 3, 4, 5, 6, 7, 9]);
    }
}
