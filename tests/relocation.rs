//! Position independence: copied code of position-independent strategies behaves the same at a
//! second address; position-dependent code is refused, and copying it anyway is caught.

use a64call::differential::relocation::{check_relocation, relocation_base};
use a64call::differential::Config;
use a64call::emit::strategy::StrategyId;
use a64call::emit::{emit, EmitOptions};
use a64call::engine::{Engine, EngineKind, UnicornEngine};
use a64call::machine::runtime::Image;
use a64call::model::gen::from_seed;
use a64call::model::profile::Profile;
use a64call::oracle::dynamic::{compare, Run, RunOn};

#[test]
fn position_independent_strategies_survive_a_copy() {
    for prof in [
        a64call::model::profile::BuiltIn::Default,
        a64call::model::profile::BuiltIn::Nested,
        a64call::model::profile::BuiltIn::Far64,
    ] {
        for seed in 0..10 {
            let p = from_seed(seed, &prof.profile());
            let f = check_relocation(&p, &Config::default()).unwrap();
            assert!(f.is_none(), "{prof} seed {seed}: {}", f.unwrap());
        }
    }
}

#[test]
fn position_dependent_code_is_refused_and_a_forced_copy_is_caught() {
    let mut refused = 0;
    let mut caught = 0;
    for seed in 0..20 {
        // Near and mid helpers make direct bl / adrp sequences that a copy would break.
        let prof = Profile {
            distance: (2, 2, 0),
            ..a64call::model::profile::BuiltIn::Default.profile()
        };
        let p = from_seed(seed, &prof);
        for id in [StrategyId::DirectBl, StrategyId::AdrpAdd] {
            let e = emit(&p, id.strategy(), &EmitOptions::default()).unwrap();
            assert!(
                e.relocated(0x3000_0000).is_err(),
                "{id} must refuse to be copied"
            );
            refused += 1;
            if e.sites.is_empty() {
                continue;
            }
            let base = relocation_base(&p, e.code.bytes.len() as u64).unwrap();
            let moved = e.copied_unchecked(base);
            let mut u = UnicornEngine::new().unwrap();
            let a = u.run(&Image::build(&p, &e, e.code.base).unwrap()).unwrap();
            let b = u.run(&Image::build(&p, &moved, base).unwrap()).unwrap();
            let ra = Run {
                strategy: id,
                on: RunOn::emitted(EngineKind::Unicorn),
                emitted: &e,
                outcome: &a,
            };
            let rb = Run {
                strategy: id,
                on: RunOn::moved(EngineKind::Unicorn),
                emitted: &moved,
                outcome: &b,
            };
            if compare(&ra, &rb, false).is_err()
                || a64call::oracle::dynamic::check_run(&rb).is_err()
            {
                caught += 1;
            }
        }
    }
    assert_eq!(refused, 40);
    assert!(
        caught >= 10,
        "a forced copy of position-dependent code was caught only {caught} times"
    );
}
