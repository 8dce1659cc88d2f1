//! The reference evaluation judges every run: a fault all strategies share is a wrong result,
//! and an engine that alone departs from the reference is blamed as an engine.

use a64call::differential::{run_on, run_unicorn, Config, Finding};
use a64call::engine::EngineKind;
use a64call::machine::runtime::helper_result;
use a64call::model::text::parse;
use a64call::oracle::dynamic::Kind;
use a64call::oracle::reference::{evaluate, End};
use a64call::planted::PlantedBug;

fn regression(name: &str) -> a64call::model::program::Program {
    let path = format!(
        "{}/corpus/regressions/shared-faults/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    parse(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

/// The program: with the shared const fault every strategy returns the same wrong
/// value, and the verdict is a wrong result; with no fault it passes.
#[test]
fn a_fault_every_strategy_shares_is_a_wrong_result() {
    let p = regression("const-zero-and-ones.a64");
    let clean = run_unicorn(&p, &Config::default()).unwrap();
    assert!(clean.finding.is_none(), "{:?}", clean.finding);
    let cfg = Config {
        bug: Some(PlantedBug::ConstTrivialDropped),
        ..Config::default()
    };
    let r = run_unicorn(&p, &cfg).unwrap();
    match r.finding {
        Some(Finding::Dynamic(d)) => assert_eq!(d.kind, Kind::WrongResult, "{d}"),
        other => panic!("expected a wrong result, got {other:?}"),
    }
    // Every strategy ran the same wrong code: they agree with each other.
    let x0: Vec<u64> = r.outcomes.iter().map(|(_, _, o)| o.regs[0]).collect();
    assert!(x0.windows(2).all(|w| w[0] == w[1]), "{x0:x?}");
}

/// The reference computes the program's values from the model alone.
#[test]
fn the_reference_follows_the_model() {
    let p = regression("const-zero-and-ones.a64");
    let e = evaluate(&p);
    let mut regs = [0u64; 8];
    for (n, r) in regs.iter_mut().enumerate() {
        *r = a64call::layout::initial_reg(n as u8);
    }
    regs[0] = 0;
    regs[1] = u64::MAX;
    let r = helper_result(0, 2, &regs);
    assert_eq!(e.end, End::Returned(r));
    assert_eq!(e.calls.len(), 1);
    assert_eq!(e.calls[0].regs[..8], regs);
    // x8..x15: the entry values, which no instruction before the first call writes.
    for n in 8..16 {
        assert_eq!(e.calls[0].regs[n], a64call::layout::initial_reg(n as u8));
    }
    assert_eq!(&e.scratch[56..72], &[[0u8; 8], [0xFF; 8]].concat()[..]);
}

/// A program that fills the call log ends at the log's capacity on every engine, as the
/// reference says (16 * 16 * 16 iterations of 43 calls is more than LOG_CAPACITY, 95,325).
#[test]
fn a_full_call_log_ends_the_run_where_the_reference_says() {
    let calls = "      v1 = call h0(v1)\n".repeat(43);
    let src = format!(
        "a64call-program 1\ncode 0x2000000000\nhelper h0 0x2300000040 args 1\nbody\n  loop 16 {{\n    loop 16 {{\n      loop 16 {{\n{calls}      }}\n    }}\n  }}\nret v1\n"
    );
    let p = parse(&src).unwrap();
    assert_eq!(evaluate(&p).end, End::LogFull);
    let engines = if std::env::var_os("A64CALL_SKIP_QEMU").is_some() {
        vec![EngineKind::Unicorn]
    } else {
        vec![EngineKind::Unicorn, EngineKind::Qemu]
    };
    let cfg = Config::with_strategies(vec![a64call::emit::strategy::reference()]);
    let r = run_on(&[&p], &cfg, &engines).unwrap();
    assert!(r[0].finding.is_none(), "{:?}", r[0].finding);
}

/// A run that ends otherwise than the program says is named with both ends: the exit (or the
/// runaway and its number of calls) and what the program does instead.
#[test]
fn a_wrong_end_names_both_ends() {
    use a64call::engine::Exit;
    let x0 = returned();
    let (call, what) = judged(|b| b.exit = Exit::InvalidInstruction).unwrap_err();
    assert_eq!(call, Some(1));
    assert_eq!(
        what,
        format!("exit: invalid instruction where the program returns {x0:#x}")
    );
    let (_, what) = judged(|b| b.exit = Exit::Runaway).unwrap_err();
    assert_eq!(
        what,
        format!(
            "runaway (stopped by the engine's limit after 1 calls) where the program returns {x0:#x}"
        )
    );
}

/// The call log against the reference: a call too many or too few is counted (a run that
/// returned early says where it ended; a runaway is judged on the calls it made before its
/// limit, so too few calls there is the runaway itself); an argument register is what "the
/// program passes", the first register past the helper's arity what "the caller left".
#[test]
fn the_call_log_is_judged_call_by_call_and_counted() {
    use a64call::engine::Exit;
    let e = evaluate(&regression("const-zero-and-ones.a64"));
    let err = |edit: &dyn Fn(&mut a64call::engine::Outcome)| judged(edit).unwrap_err();
    let extra = err(&|b| b.calls.push(b.calls[0]));
    assert_eq!(
        extra,
        (Some(1), "2 helper calls, the program makes 1".into())
    );
    let (call, what) = err(&|b| {
        b.calls.clear();
    });
    assert_eq!(call, Some(0));
    assert!(
        what.starts_with(
            "0 helper calls, the program makes 1 (the run ended early: returned at pc 0x"
        ),
        "{what}"
    );
    let (_, what) = err(&|b| {
        b.calls.clear();
        b.exit = Exit::Runaway;
    });
    assert!(
        what.starts_with("runaway (stopped by the engine's limit after 0 calls)"),
        "{what}"
    );
    assert_eq!(e.calls[0].arity, 2, "h0 takes two arguments");
    let (_, what) = err(&|b| b.calls[0].regs[1] ^= 1);
    assert!(
        what.contains("x1 = ") && what.contains("the program passes"),
        "{what}"
    );
    let (_, what) = err(&|b| b.calls[0].regs[2] ^= 1);
    assert!(
        what.contains("x2 = ") && what.contains("the caller left"),
        "{what}"
    );
}

/// At a return the reference judges x0, the registers a correct function leaves (x19-x28,
/// x29, x30) and sp, and every byte of scratch memory, each on its own: a run wrong in just one
/// of them is reported in its words (a fault every strategy shares shows only here).
#[test]
fn the_end_state_is_judged_register_by_register_and_slot_by_slot() {
    let err = |edit: &dyn Fn(&mut a64call::engine::Outcome)| judged(edit).unwrap_err();
    for reg in [0usize, 19, 27, 28, 29, 30] {
        let (call, what) = err(&|b| b.regs[reg] ^= 1 << 3);
        assert_eq!(call, None);
        assert!(what.starts_with(&format!("x{reg} = ")), "{what}");
        assert!(what.contains("at return, must be"), "{what}");
    }
    let (_, what) = err(&|b| b.sp -= 16);
    assert!(
        what.starts_with("sp = ") && what.contains("at return"),
        "{what}"
    );
    // Slot 7 holds const 0 (`store [7], v1`): one wrong byte in its top half.
    let (call, what) = err(&|b| b.scratch[7 * 8 + 5] = 0x40);
    assert_eq!(call, None);
    assert_eq!(
        what,
        "scratch slot 7 = 0x400000000000, the program leaves 0x0"
    );
    let (_, what) = err(&|b| b.scratch[4095] ^= 1);
    assert!(what.starts_with("scratch slot 511 = "), "{what}");
    let (_, what) = err(&|b| {
        b.scratch.pop();
    });
    assert_eq!(what, "4095 scratch bytes read back");
}

/// The regression program's correct run (the first strategy on Unicorn), changed by `edit`
/// and judged against the reference: the first difference and the call it is at. Panics if
/// the unchanged run is not judged correct.
fn judged(edit: impl Fn(&mut a64call::engine::Outcome)) -> Result<(), (Option<usize>, String)> {
    use a64call::oracle::reference::judge_run;
    let p = regression("const-zero-and-ones.a64");
    let e = evaluate(&p);
    let r = run_unicorn(&p, &Config::default()).unwrap();
    let (i, _, o) = &r.outcomes[0];
    let site = |ret| r.emitted[*i].site_by_return(ret).map(|s| s.index);
    judge_run(&e, o, site).expect("the correct run");
    let mut bad = o.clone();
    edit(&mut bad);
    judge_run(&e, &bad, site)
}

/// The const-zero-and-ones program's return value, from the reference.
fn returned() -> u64 {
    match evaluate(&regression("const-zero-and-ones.a64")).end {
        End::Returned(x0) => x0,
        other => panic!("the program returns, not {other:?}"),
    }
}

/// [`Expected::insns_bound`] bounds what every strategy's code really executes (the
/// interpreter's count, function and helpers), on generated programs of every profile, and
/// those stay far under the engines' instruction limit, so none is judged unsupported for it.
#[test]
fn the_instruction_bound_holds_for_every_strategy_and_profile() {
    use a64call::model::gen::from_seed;
    use a64call::model::profile::BuiltIn;
    use strum::VariantArray;
    for &b in BuiltIn::VARIANTS {
        let seeds = if matches!(b, BuiltIn::Big | BuiltIn::Huge) {
            1..=2
        } else {
            1..=25
        };
        for seed in seeds {
            let p = from_seed(seed, &b.profile());
            let bound = evaluate(&p).insns_bound(&p);
            assert!(
                bound < a64call::layout::DEFAULT_INSN_LIMIT / 2,
                "{b:?} seed {seed}: {bound}"
            );
            let r = run_on(&[&p], &Config::default(), &[EngineKind::Interp])
                .unwrap()
                .pop()
                .unwrap();
            assert!(r.finding.is_none(), "{b:?} seed {seed}: {:?}", r.finding);
            for (_, _, o) in &r.outcomes {
                let ran = o.insns.as_ref().unwrap().total;
                assert!(ran <= bound, "{b:?} seed {seed}: ran {ran}, bound {bound}");
            }
        }
    }
}

/// The steps are counted as documented (each operation executed, each loop pass once more) and
/// the bound is their sum at 16 instructions a step, plus 32 and the longest helper routine
/// per call, plus 16.
#[test]
fn the_instruction_bound_counts_steps_and_calls_exactly() {
    use a64call::machine::runtime::helper_code;
    let p = parse(
        "a64call-program 1\ncode 0x2000000000\nhelper h0 0x2300000040 args 2\n\
         helper h1 0x2300010040 args 0\nbody\n  loop 3 {\n  v1 = add v1, v2\n  }\n  \
         if v1 eq v1 {\n  v2 = call h0(v1, v2)\n  }\n  call h1()\nret v2\n",
    )
    .unwrap();
    let e = evaluate(&p);
    // loop, 3 passes, 3 adds; if, the call in it; the last call.
    assert_eq!(e.steps, 1 + 3 + 3 + 1 + 1 + 1);
    let helper = (0..2)
        .map(|id| helper_code(id, &p.helpers[id]).len() as u64)
        .max()
        .unwrap();
    assert_eq!(e.insns_bound(&p), 16 + 16 * e.steps + 2 * (32 + helper));
}
