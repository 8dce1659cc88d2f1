//! Everything the cargo-fuzz targets do, as library code so it is unit-tested here and each
//! target in `fuzz/` is a few lines: turn the fuzzer's bytes into programs ([`programs`]), run one
//! check ([`run`]), and on a finding return a readable test case (the finding plus the program
//! text, which `a64call repro` also writes as a repro file).
//!
//! The first input byte picks the profile (and, for `strategies`, the strategy under test: see
//! [`strategies_for`]); the rest feeds the generator. A planted bug can be switched on for a whole
//! fuzz run with `A64CALL_PLANT=<name>` (tests of the oracles only); it also switches the profile
//! to the one that exercises the bug and the strategies to the ones that hunt it.

use crate::differential::{self, Config, Finding};
use crate::emit::strategy::{self, Strategy};
use crate::engine::EngineKind;
use crate::machine::window::{Window, WINDOWS};
use crate::model::gen;
use crate::model::profile::{BuiltIn, Profile};
use crate::model::program::Program;
use crate::model::text;
use crate::planted::PlantedBug;
use crate::Named;
use arbitrary::Unstructured;
use std::sync::OnceLock;

/// The fuzz targets.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, strum::VariantArray, strum::IntoStaticStr, strum::EnumString,
)]
pub enum Target {
    /// One strategy, picked by the input, beside a correct one on the interpreter (Unicorn beside
    /// it on one input in [`CONFIRM_EVERY`] and on every finding), static and dynamic oracles.
    #[strum(to_string = "strategies")]
    Strategies,
    /// Unicorn against the ELF engine, several programs per qemu process.
    #[strum(to_string = "engines")]
    Engines,
    /// Position-independent code copied to a second address.
    #[strum(to_string = "relocation")]
    Relocation,
    /// Capstone check of everything emitted, including functions over 1 MiB.
    #[strum(to_string = "encoding")]
    Encoding,
}

impl crate::Named for Target {
    const WHAT: &'static str = "fuzz target";
}

const PROFILES: [BuiltIn; 5] = [
    BuiltIn::Tiny,
    BuiltIn::Default,
    BuiltIn::Nested,
    BuiltIn::Far64,
    BuiltIn::Cinderx,
];
/// The strategies a `strategies` input runs, from its first byte `selector` (whose value modulo
/// the number of profiles picks the profile): the strategy `strategy::all()[(selector / profiles)
/// % strategies]` and, beside it, [`strategy::reference_beside`] it, which is what a planted bug
/// in that strategy is hunted with. Each is judged against the program's reference evaluation
/// and the two against each other. Two strategies per input instead of all of them keep an
/// input cheap (the target's executions per second are its reach); the fuzzer still covers every
/// strategy on every profile, since every pair of (profile, strategy) is one selector value.
pub fn strategies_for(selector: u8) -> Vec<&'static dyn Strategy> {
    let all = strategy::all();
    let under_test = all[(selector as usize / PROFILES.len()) % all.len()];
    vec![strategy::reference_beside(under_test), under_test]
}

/// Programs per input of the `engines` target (one qemu process each).
pub const ENGINE_BATCH: usize = 8;

/// One `strategies` input in this many (by a hash of its bytes) also runs on Unicorn. Unicorn
/// translates each program's new code, so a fuzz input on it costs about eight on the
/// interpreter (2.7 ms against 0.34 ms per input of a grown corpus, uninstrumented, 2026-12-04):
/// at one in 16 the sample took half the target's time. Unicorn against the interpreter is also
/// what `check` samples (one window's run in 16) and the 10^6-program comparison covered, and
/// the `engines` target fuzzes Unicorn against qemu.
pub const CONFIRM_EVERY: u64 = 64;

/// Does this input of the `strategies` target also run on Unicorn?
fn confirmed_input(data: &[u8]) -> bool {
    use std::hash::{DefaultHasher, Hasher};
    let mut h = DefaultHasher::new();
    h.write(data);
    h.finish().is_multiple_of(CONFIRM_EVERY)
}

/// The `strategies` target's differential: on the interpreter, with Unicorn beside it when the
/// input is sampled, and again with Unicorn when the interpreter alone found something (its
/// finding reported when Unicorn's run finds nothing).
fn strategies_finding(
    data: &[u8],
    prog: &Program,
    cfg: &Config,
) -> Result<Option<Finding>, String> {
    const BOTH: [EngineKind; 2] = [EngineKind::Interp, EngineKind::Unicorn];
    let engines: &[EngineKind] = if confirmed_input(data) {
        &BOTH
    } else {
        &BOTH[..1]
    };
    let run = |engines: &[EngineKind]| {
        differential::run_on(&[prog], cfg, engines)
            .map(|mut r| r.pop().expect("one report").finding)
            .map_err(|e| e.to_string())
    };
    match run(engines)? {
        Some(f) if engines.len() == 1 => Ok(Some(run(&BOTH)?.unwrap_or(f))),
        other => Ok(other),
    }
}

/// The planted bug named by `A64CALL_PLANT`, read once. An unknown name stops the fuzzer with
/// the error (exit 2), not a crash report.
pub fn planted() -> Option<PlantedBug> {
    static BUG: OnceLock<Option<PlantedBug>> = OnceLock::new();
    *BUG.get_or_init(|| {
        PlantedBug::from_env().unwrap_or_else(|e| {
            eprintln!("a64call fuzzing: {e}");
            std::process::exit(2)
        })
    })
}

fn profile_for(target: Target, selector: u8, bug: Option<PlantedBug>) -> Profile {
    if let Some(b) = bug {
        return b.profile().profile();
    }
    if target == Target::Encoding && selector == 0xFF {
        return BuiltIn::Huge.profile();
    }
    PROFILES[selector as usize % PROFILES.len()].profile()
}

/// The programs an input makes for `target` (one, or [`ENGINE_BATCH`] for `engines`).
pub fn programs(target: Target, data: &[u8]) -> Vec<Program> {
    let bug = planted();
    let (sel, rest) = data.split_first().map(|(s, r)| (*s, r)).unwrap_or((0, &[]));
    let prof = profile_for(target, sel, bug);
    let mut u = Unstructured::new(rest);
    if target != Target::Engines {
        return vec![gen::generate(&mut u, &prof).expect("generation never fails")];
    }
    // One window for the whole batch, as `check` runs a window's seeds together: the ELF
    // engine then maps its helper banks once for the batch instead of once per program.
    let n = u.int_in_range(0..=WINDOWS - 1).unwrap_or(0);
    let window = Window::new(n).expect("a window number");
    (0..ENGINE_BATCH)
        .map(|_| gen::generate_in(&mut u, &prof, Some(window)).expect("generation never fails"))
        .collect()
}

/// The configuration `target` runs an input with (`data`: the input, whose first byte picks the
/// `strategies` target's pair).
fn config(target: Target, data: &[u8]) -> Config {
    let bug = planted();
    let mut cfg = Config {
        bug,
        ..Config::default()
    };
    match (target, bug) {
        (Target::Strategies, None) => {
            cfg.strategies = strategies_for(data.first().copied().unwrap_or(0));
        }
        (Target::Engines, None) => {
            cfg.strategies = vec![
                strategy::reference(),
                &strategy::LiteralPool,
                &strategy::StubOrBl,
            ];
        }
        (_, Some(b)) => {
            cfg.strategies = b.hunted_with();
        }
        _ => {}
    }
    if target == Target::Encoding {
        cfg.dynamic = false;
    }
    cfg
}

/// For functions over 1 MiB the encoding target checks the strategies whose emission depends on
/// the function's size (the literal pools with their islands) rather than all of them: one huge
/// program under every strategy takes about 2 s, which would starve the fuzzer.
const HUGE_STRATEGIES: [&dyn Strategy; 2] = [&strategy::LiteralPool, &strategy::PoolOrBl];

/// A finding as a readable test case: what was found, and the program in text form.
pub fn describe(target: Target, program: &Program, finding: &Finding) -> String {
    format!(
        "a64call fuzz target `{}` found: {}\n{finding}\n--- test case (save as a .a64 file; `a64call run` replays it) ---\n{}",
        target.name(),
        finding.summary(),
        text::print(program)
    )
}

/// Run `target` on one fuzz input. `Err` holds a readable test case.
pub fn run(target: Target, data: &[u8]) -> Result<(), String> {
    let progs = programs(target, data);
    let mut cfg = config(target, data);
    if target == Target::Encoding && cfg.bug.is_none() && progs[0].call_sites() > 50_000 {
        cfg.strategies = HUGE_STRATEGIES.to_vec();
    }
    let found: Vec<(usize, Finding)> = match target {
        Target::Strategies => strategies_finding(data, &progs[0], &cfg)?
            .into_iter()
            .map(|f| (0, f))
            .collect(),
        Target::Encoding => {
            let r = differential::run_unicorn(&progs[0], &cfg).map_err(|e| e.to_string())?;
            r.finding.into_iter().map(|f| (0, f)).collect()
        }
        Target::Engines => {
            let refs: Vec<&Program> = progs.iter().collect();
            let reports =
                differential::run_on(&refs, &cfg, &[EngineKind::Unicorn, EngineKind::Qemu])
                    .map_err(|e| e.to_string())?;
            reports
                .into_iter()
                .enumerate()
                .filter_map(|(i, r)| r.finding.map(|f| (i, f)))
                .collect()
        }
        Target::Relocation => differential::relocation::check_relocation(&progs[0], &cfg)
            .map_err(|e| e.to_string())?
            .into_iter()
            .map(|f| (0, f))
            .collect(),
    };
    match found.into_iter().next() {
        None => Ok(()),
        Some((i, f)) => Err(describe(target, &progs[i], &f)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inputs_of_any_length_make_valid_programs_for_every_target() {
        for &t in Target::all() {
            for len in [0usize, 1, 2, 7, 100, 3000] {
                let data = gen::seed_bytes(len as u64, len);
                for p in programs(t, &data) {
                    p.validate().unwrap();
                }
            }
        }
    }

    /// The (profile, strategy under test) a `strategies` input with first byte `sel` runs.
    fn profile_and_strategy(sel: u8) -> (&'static str, strategy::StrategyId) {
        let profile = profile_for(Target::Strategies, sel, None);
        (profile.name, strategies_for(sel)[1].id())
    }

    #[test]
    fn strategies_inputs_reach_every_strategy_on_every_profile_beside_a_correct_one() {
        let mut seen = std::collections::BTreeSet::new();
        for sel in 0..=u8::MAX {
            let pair = strategies_for(sel);
            let under_test = pair[1];
            assert_eq!(pair[0].id(), strategy::reference_beside(under_test).id());
            assert_ne!(pair[0].id(), under_test.id());
            seen.insert(profile_and_strategy(sel));
        }
        assert_eq!(seen.len(), PROFILES.len() * strategy::all().len());
    }

    /// The committed seeds start the fuzzer on every (profile, strategy) pair, not only on the
    /// pairs libFuzzer happens to reach by mutating the first byte.
    #[test]
    fn the_strategies_seeds_reach_every_strategy_on_every_profile() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/corpus/fuzz/strategies");
        let mut seen = std::collections::BTreeSet::new();
        for entry in std::fs::read_dir(dir).unwrap() {
            let data = std::fs::read(entry.unwrap().path()).unwrap();
            seen.insert(profile_and_strategy(data.first().copied().unwrap_or(0)));
        }
        assert_eq!(seen.len(), PROFILES.len() * strategy::all().len());
    }

    #[test]
    fn an_engines_batch_shares_one_window() {
        for seed in 0..20 {
            let data = gen::seed_bytes(seed, 3000);
            let progs = programs(Target::Engines, &data);
            assert_eq!(progs.len(), ENGINE_BATCH);
            assert!(progs.iter().all(|p| p.code_base == progs[0].code_base));
        }
    }

    #[test]
    fn the_same_input_makes_the_same_programs() {
        let data = gen::seed_bytes(9, 500);
        assert_eq!(
            programs(Target::Engines, &data),
            programs(Target::Engines, &data)
        );
    }

    #[test]
    fn clean_inputs_pass_strategies_relocation_and_encoding() {
        for seed in 0..20 {
            let data = gen::seed_bytes(seed, 400);
            for t in [Target::Strategies, Target::Relocation, Target::Encoding] {
                run(t, &data).unwrap();
            }
        }
    }

    #[test]
    fn a_finding_is_a_readable_test_case_that_parses_back() {
        let data = gen::seed_bytes(1, 400);
        let prog = &programs(Target::Strategies, &data)[0];
        let cfg = Config {
            bug: Some(PlantedBug::StubWrongTarget),
            ..Config::default()
        };
        let f = differential::run_unicorn(prog, &cfg)
            .unwrap()
            .finding
            .expect("the planted bug is found");
        let text = describe(Target::Strategies, prog, &f);
        let case = text.split("---\n").last().unwrap();
        assert_eq!(&text::parse(case).unwrap(), prog);
        assert!(text.contains("stub"), "{text}");
    }
}
