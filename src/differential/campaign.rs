//! A check campaign: the programs of consecutive seeds under one profile, run through the
//! differential until one gives a finding, the seeds run out or the time budget is spent. The
//! driver of `a64call check`; the CLI only prints what it returns.
//!
//! With an ELF engine, programs go in batches so one process serves many (a process costs
//! milliseconds). Under a time budget a batch is sized from the time programs have taken so far
//! and the time left, starting from one program, so one batch cannot overrun the budget by more
//! than about one program's time.

use super::{run_on, Config, Finding};
use crate::engine::{EngineError, EngineKind};
use crate::model::gen;
use crate::model::profile::Profile;
use crate::model::program::Program;
use crate::report::edges::EdgeCounts;
use std::time::{Duration, Instant};

/// The largest batch of programs given to one ELF-engine process.
pub const MAX_BATCH: u64 = 24;

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
}

/// How a campaign ended.
pub enum End {
    /// Every program ran without a finding.
    Clean {
        /// Programs run.
        programs: u64,
        /// Helper calls in the first run of each program (the reference strategy on the first
        /// engine).
        calls: u64,
        /// The range edges the emitted code met.
        edges: EdgeCounts,
    },
    /// A program gave a finding (the campaign stops at the first).
    Found {
        /// Its seed.
        seed: u64,
        /// The program.
        program: Box<Program>,
        /// What was found.
        finding: Box<Finding>,
    },
}

/// Programs to run next: at most `left` and `cap`, and under a `budget` no more than the time
/// left after `elapsed` allows at the mean time per program of the `done` so far (one when
/// nothing has run yet, none when the budget is spent).
fn batch_size(
    elapsed: Duration,
    budget: Option<Duration>,
    done: u64,
    left: Option<u64>,
    cap: u64,
) -> u64 {
    let k = left.map_or(cap, |l| l.min(cap));
    let Some(budget) = budget else { return k };
    let rest = budget.saturating_sub(elapsed).as_secs_f64();
    if rest <= 0.0 {
        return 0;
    }
    if done == 0 {
        return k.min(1);
    }
    let per = elapsed.as_secs_f64() / done as f64;
    k.min(((rest / per.max(1e-9)) as u64).max(1))
}

/// Run the campaign; `progress` is told the number of programs run after each batch.
pub fn run(plan: &Plan, mut progress: impl FnMut(u64)) -> Result<End, EngineError> {
    let start = Instant::now();
    let cap = if plan.engines.iter().any(|e| e.is_elf()) {
        MAX_BATCH
    } else {
        1
    };
    let (mut n, mut calls, mut edges) = (0u64, 0u64, EdgeCounts::default());
    loop {
        let left = plan.iterations.map(|it| it - n);
        let k = batch_size(start.elapsed(), plan.budget, n, left, cap);
        if k == 0 {
            break;
        }
        let seeds: Vec<u64> = (0..k)
            .map(|i| plan.first_seed.wrapping_add(n + i))
            .collect();
        let progs: Vec<Program> = seeds
            .iter()
            .map(|s| gen::from_seed(*s, plan.profile))
            .collect();
        let refs: Vec<&Program> = progs.iter().collect();
        let reports = run_on(&refs, plan.config, plan.engines)?;
        for ((report, program), seed) in reports.into_iter().zip(progs).zip(seeds) {
            let targets: Vec<u64> = program.helpers.iter().map(|h| h.addr).collect();
            for e in &report.emitted {
                edges.add(e, &targets);
            }
            calls += report
                .outcomes
                .first()
                .map_or(0, |o| o.2.calls.len() as u64);
            if let Some(finding) = report.finding {
                return Ok(End::Found {
                    seed,
                    program: Box::new(program),
                    finding: Box::new(finding),
                });
            }
        }
        n += k;
        progress(n);
    }
    Ok(End::Clean {
        programs: n,
        calls,
        edges,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_budget_sizes_batches_from_the_time_taken() {
        let secs = Duration::from_secs;
        let budget = Some(secs(3));
        // Nothing run yet: one program.
        assert_eq!(batch_size(secs(0), budget, 0, None, 24), 1);
        // 4 programs in 2 s, 1 s left: 2 more fit.
        assert_eq!(batch_size(secs(2), budget, 4, None, 24), 2);
        // Less than one program's time left: still one.
        assert_eq!(batch_size(secs(2), budget, 1, None, 24), 1);
        // The cap and the programs left bound it too.
        assert_eq!(batch_size(secs(2), budget, 400, None, 24), 24);
        assert_eq!(batch_size(secs(2), budget, 400, Some(5), 24), 5);
        // Spent, or no programs left: none.
        assert_eq!(batch_size(secs(4), budget, 4, None, 24), 0);
        assert_eq!(batch_size(secs(0), None, 4, Some(0), 24), 0);
        // No budget: the cap.
        assert_eq!(batch_size(secs(0), None, 0, None, 24), 24);
        assert_eq!(batch_size(secs(0), None, 0, Some(3), 1), 1);
    }
}
