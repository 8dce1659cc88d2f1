//! A campaign's result does not depend on how many workers run it: the same seeds give the same
//! programs, tallies and finding with one, two or three jobs.

use a64call::differential::campaign::{self, Confirm, End, Plan};
use a64call::differential::Config;
use a64call::engine::EngineKind;
use a64call::model::profile::BuiltIn;
use a64call::planted::PlantedBug;
use a64call::Named;

/// Interp for every program, Unicorn for every fourth run of 16 seeds and for every finding.
const CONFIRM: Confirm = Confirm {
    engines: &[EngineKind::Unicorn],
    every: 4,
};

fn run(cfg: &Config, profile: BuiltIn, iterations: u64, jobs: usize) -> End {
    let prof = profile.profile();
    let plan = Plan {
        profile: &prof,
        config: cfg,
        engines: &[EngineKind::Interp],
        first_seed: 1,
        iterations: Some(iterations),
        budget: None,
        jobs,
        confirm: Some(CONFIRM),
        elf_batch: campaign::DEFAULT_ELF_BATCH,
    };
    campaign::run(&plan, |_| {}).unwrap()
}

#[test]
fn a_clean_campaign_tallies_the_same_whatever_the_jobs() {
    let cfg = Config::default();
    let tally = |jobs| match run(&cfg, BuiltIn::Default, 90, jobs) {
        End::Clean(t) => (
            t.programs,
            t.calls,
            t.edges,
            t.judged_on_unicorn,
            t.confirmed,
        ),
        End::Found { seed, finding, .. } => panic!("seed {seed}: {finding}"),
    };
    let one = tally(1);
    assert_eq!(one.0, 90);
    assert!(one.1 > 0, "no helper calls counted");
    assert_eq!(
        one.4, 31,
        "seeds 1-15 and 64-79 (runs 0 and 4 of 16 seeds) also ran on unicorn"
    );
    for jobs in [2, 3] {
        assert_eq!(tally(jobs), one, "{jobs} jobs");
    }
}

#[test]
fn the_finding_is_the_lowest_seed_whatever_the_jobs() {
    // A bug most programs show: every job count must report the first seed that shows it,
    // although later seeds also would.
    let bug = PlantedBug::StubWrongTarget;
    let cfg = Config {
        bug: Some(bug),
        static_check: false,
        ..Config::with_strategies(bug.hunted_with())
    };
    let found = |jobs| match run(&cfg, bug.profile(), 40, jobs) {
        End::Found { seed, finding, .. } => {
            // Judged again with unicorn beside interp: the strategy's fault on both engines.
            assert!(!finding.is_engine_disagreement(), "{finding}");
            (seed, finding.summary())
        }
        End::Clean(_) => panic!("{} not found with {jobs} jobs", bug.name()),
    };
    let one = found(1);
    for jobs in [2, 3] {
        assert_eq!(found(jobs), one, "{jobs} jobs");
    }
}
