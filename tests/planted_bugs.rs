//! Every planted bug is caught, and we know by which oracle.

use a64call::differential::hunt::hunt_bug;
use a64call::differential::Finding;
use a64call::engine::EngineKind;
use a64call::planted::PlantedBug;
use a64call::Named;
use std::time::Duration;

const MAX_PROGRAMS: u64 = 40;

fn hunt_on(bug: PlantedBug, static_check: bool, engine: EngineKind) -> (u64, Finding) {
    let limit = Duration::from_secs(600);
    let h = hunt_bug(bug, static_check, engine, 1, MAX_PROGRAMS, limit).unwrap();
    // Caught by the engine named, not by Unicorn standing in for it.
    assert_eq!(
        h.judged_on_unicorn,
        0,
        "{} on {}: runs judged on unicorn instead",
        bug.name(),
        engine.name()
    );
    match h.caught {
        Some((seed, f)) => (seed, f),
        None => panic!(
            "{} not caught on {} in {} programs (static check {static_check})",
            bug.name(),
            engine.name(),
            h.programs
        ),
    }
}

fn hunt(bug: PlantedBug, static_check: bool) -> (u64, Finding) {
    hunt_on(bug, static_check, EngineKind::Unicorn)
}

/// The engines every bug is hunted on: the interpreter, Unicorn, and qemu unless
/// A64CALL_SKIP_QEMU says to skip it explicitly (a missing qemu is then a failure, as in
/// tests/engine_qemu.rs).
fn engines() -> Vec<EngineKind> {
    if std::env::var_os("A64CALL_SKIP_QEMU").is_some() {
        eprintln!("qemu skipped: A64CALL_SKIP_QEMU is set");
        return vec![EngineKind::Interp, EngineKind::Unicorn];
    }
    if let Err(e) = EngineKind::Qemu.available() {
        panic!("{e} (set A64CALL_SKIP_QEMU=1 to skip the qemu runs explicitly)");
    }
    vec![EngineKind::Interp, EngineKind::Unicorn, EngineKind::Qemu]
}

#[test]
fn every_planted_bug_is_caught_by_the_full_pipeline() {
    for &bug in PlantedBug::all() {
        let (seed, f) = hunt(bug, true);
        eprintln!("{:24} seed {seed:3}: {}", bug.name(), f.summary());
        assert!(
            !f.is_engine_disagreement(),
            "{}: a strategy bug must not look like an engine bug",
            bug.name()
        );
    }
}

#[test]
fn the_dynamic_oracle_alone_catches_every_observable_bug_on_every_engine() {
    for engine in engines() {
        for &bug in PlantedBug::all()
            .iter()
            .filter(|b| b.observable_at_run_time())
        {
            let (seed, f) = hunt_on(bug, false, engine);
            let name = bug.name();
            eprintln!(
                "{name:24} {:8} seed {seed:3}: {}",
                engine.name(),
                f.summary()
            );
            assert!(matches!(f, Finding::Dynamic(_)), "{name}: {}", f.summary());
            assert!(
                !f.is_engine_disagreement(),
                "{name} on {}: a strategy bug must not look like an engine bug",
                engine.name()
            );
        }
    }
}

#[test]
fn the_static_oracle_alone_catches_every_statically_visible_bug() {
    use a64call::differential::{emit_all, Config};
    use a64call::model::gen::from_seed;
    for &bug in PlantedBug::all().iter().filter(|b| b.statically_visible()) {
        let prof = bug.profile().profile();
        let cfg = Config {
            bug: Some(bug),
            ..Config::with_strategies(vec![bug.strategy()])
        };
        let caught =
            (1..=MAX_PROGRAMS).find_map(|seed| match emit_all(&from_seed(seed, &prof), &cfg).1 {
                Some(f @ Finding::Static { .. }) => Some((seed, f)),
                _ => None,
            });
        let (seed, f) = caught.unwrap_or_else(|| panic!("static check missed {}", bug.name()));
        eprintln!("{:24} seed {seed:3}: {}", bug.name(), f.summary());
    }
}

#[test]
fn no_bug_means_no_finding_on_the_same_programs() {
    // The same hunts with no bug switched on: proves the findings above come from the bugs.
    use a64call::differential::{run_unicorn, Config};
    use a64call::model::gen::from_seed;
    for prof in [
        a64call::model::profile::BuiltIn::Far64,
        a64call::model::profile::BuiltIn::Default,
    ] {
        let p = prof.profile();
        for seed in 1..=10 {
            let r = run_unicorn(&from_seed(seed, &p), &Config::default()).unwrap();
            assert!(
                r.finding.is_none(),
                "{prof} seed {seed}: {}",
                r.finding.unwrap()
            );
        }
    }
}
