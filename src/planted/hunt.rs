//! Hunting a planted bug: random programs from the bug's profile, the bug's strategy beside a
//! correct reference, on one engine, until a finding or a budget runs out.

use super::PlantedBug;
use crate::differential::{run_on, Config, Finding};
use crate::engine::{EngineError, EngineKind};

/// The result of hunting one planted bug with random programs.
#[derive(Debug)]
pub struct Hunt {
    /// The bug.
    pub bug: PlantedBug,
    /// The engine the programs ran on.
    pub engine: EngineKind,
    /// Programs tried (including the one that caught it).
    pub programs: u64,
    /// Seed of the catching program, and what caught it.
    pub caught: Option<(u64, Finding)>,
    /// Wall-clock time spent.
    pub elapsed: std::time::Duration,
    /// Runs the engine could not make, judged on Unicorn instead
    /// ([`crate::differential::Report::judged_on_unicorn`]).
    pub judged_on_unicorn: u64,
}

/// Generate programs from the bug's profile (seeds `first_seed..`) and run the bug's strategy
/// beside a correct reference on `engine` until a finding, `max_programs` or `time_limit`.
pub fn hunt_bug(
    bug: PlantedBug,
    static_check: bool,
    engine: EngineKind,
    first_seed: u64,
    max_programs: u64,
    time_limit: std::time::Duration,
) -> Result<Hunt, EngineError> {
    let start = std::time::Instant::now();
    let profile = bug.profile().profile();
    let strategies = bug.hunted_with();
    let cfg = Config {
        strategies,
        bug: Some(bug),
        static_check,
        dynamic: true,
    };
    let (mut programs, mut judged_on_unicorn) = (0, 0);
    while programs < max_programs && start.elapsed() < time_limit {
        let seed = first_seed + programs;
        let p = crate::model::gen::from_seed(seed, &profile);
        programs += 1;
        let report = run_on(&[&p], &cfg, &[engine])?
            .pop()
            .expect("one report per program");
        judged_on_unicorn += report.judged_on_unicorn.len() as u64;
        if let Some(f) = report.finding {
            return Ok(Hunt {
                bug,
                engine,
                programs,
                caught: Some((seed, f)),
                elapsed: start.elapsed(),
                judged_on_unicorn,
            });
        }
    }
    Ok(Hunt {
        bug,
        engine,
        programs,
        caught: None,
        elapsed: start.elapsed(),
        judged_on_unicorn,
    })
}
