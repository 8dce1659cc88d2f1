//! Each check of the dynamic oracle is live on its own: a run that differs from a correct run in
//! exactly one observed quantity is reported, in that check's words. Planted bugs alone do not
//! show this, because the checks overlap (a mutation run found each of these checks could be
//! switched off with the whole suite still passing).

use a64call::differential::{run_unicorn, Config, Report};
use a64call::engine::{Access, EngineKind, Exit, Outcome};
use a64call::model::text::parse;
use a64call::oracle::dynamic::{check_run, compare, judge, Divergence, Kind, Run, RunOn};
use a64call::oracle::reference::evaluate;

/// A correct run: corpus/examples/edge-cases.a64 (calls near, mid and far helpers with 0 to 8
/// arguments, in loops and branches) under every strategy on Unicorn, with no finding.
fn correct() -> (a64call::model::program::Program, Report) {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/corpus/examples/edge-cases.a64"
    );
    let p = parse(&std::fs::read_to_string(path).unwrap()).unwrap();
    let r = run_unicorn(&p, &Config::default()).unwrap();
    assert!(r.finding.is_none(), "{:?}", r.finding);
    assert!(r.outcomes.len() >= 2 && r.outcomes[0].2.calls.len() >= 3);
    (p, r)
}

/// The engine the correct run ran on, and another.
const UNICORN: RunOn = RunOn {
    engine: EngineKind::Unicorn,
    moved: false,
};
const OTHER: RunOn = RunOn {
    engine: EngineKind::Qemu,
    moved: false,
};

fn run<'a>(r: &'a Report, i: usize, on: RunOn, outcome: &'a Outcome) -> Run<'a> {
    let (e, _, _) = &r.outcomes[i];
    Run {
        strategy: r.emitted[*e].strategy,
        on,
        emitted: &r.emitted[*e],
        outcome,
    }
}

/// The first strategy's outcome changed by `edit`, checked on its own.
fn invariant(edit: impl Fn(&mut Outcome)) -> Result<(), Divergence> {
    let (_, r) = correct();
    let mut o = r.outcomes[0].2.clone();
    check_run(&run(&r, 0, UNICORN, &o)).expect("the correct run keeps every invariant");
    edit(&mut o);
    check_run(&run(&r, 0, UNICORN, &o))
}

fn expect(got: Result<(), Divergence>, kind: Kind, words: &str) {
    let d = got.expect_err("the check must report this");
    assert_eq!(d.kind, kind, "{d}");
    assert!(d.what.contains(words), "wanted {words:?} in: {d}");
}

#[test]
fn sp_alignment_at_each_call() {
    expect(
        invariant(|o| o.calls[1].sp += 8),
        Kind::Invariant,
        "is not 16-byte aligned",
    );
}

#[test]
fn return_to_just_after_a_call_site() {
    expect(
        invariant(|o| o.calls[1].ret += 4),
        Kind::Invariant,
        "is not just after a call site",
    );
}

#[test]
fn the_helper_that_ran_is_the_one_the_site_calls() {
    // The next slot of a helper bank: a routine with the same id (another arity).
    expect(
        invariant(|o| o.calls[0].entry += a64call::machine::window::SLOT_BYTES),
        Kind::Invariant,
        "but the routine at",
    );
}

#[test]
fn sp_restored_at_return() {
    expect(
        invariant(|o| o.sp -= 16),
        Kind::Invariant,
        "returned with sp",
    );
}

/// The first strategy's outcome against a copy changed by `edit`: as another strategy's run
/// (`same_bytes` false) or another engine's run of the same bytes (true).
fn compared(same_bytes: bool, edit: impl Fn(&mut Outcome)) -> Result<(), Divergence> {
    let (_, r) = correct();
    let a = r.outcomes[0].2.clone();
    let mut b = a.clone();
    compare(&run(&r, 0, UNICORN, &a), &run(&r, 0, OTHER, &b), same_bytes)
        .expect("equal runs agree");
    edit(&mut b);
    compare(&run(&r, 0, UNICORN, &a), &run(&r, 0, OTHER, &b), same_bytes)
}

#[test]
fn call_log_arguments() {
    expect(
        compared(false, |o| o.calls[2].regs[3] ^= 1),
        Kind::StrategyDivergence,
        "x3 =",
    );
}

#[test]
fn call_log_length() {
    let drop_last = |o: &mut Outcome| {
        o.calls.pop();
    };
    expect(
        compared(false, drop_last),
        Kind::StrategyDivergence,
        "helper calls vs",
    );
}

#[test]
fn call_log_sp() {
    expect(
        compared(true, |o| o.calls[0].sp -= 16),
        Kind::EngineDisagreement,
        "sp 0x",
    );
}

#[test]
fn scratch_memory() {
    expect(
        compared(false, |o| o.scratch[8 * 511] ^= 0x80),
        Kind::StrategyDivergence,
        "scratch slot 511",
    );
}

#[test]
fn final_registers_after_a_return() {
    expect(
        compared(false, |o| o.regs[19] ^= 1),
        Kind::StrategyDivergence,
        "x19 =",
    );
    expect(
        compared(false, |o| o.nzcv ^= 1 << 30),
        Kind::StrategyDivergence,
        "nzcv =",
    );
    expect(
        compared(false, |o| o.sp += 16),
        Kind::StrategyDivergence,
        "sp =",
    );
}

#[test]
fn ip0_and_ip1_differ_between_strategies_not_engines() {
    compared(false, |o| o.regs[16] ^= 1).expect("x16 is the strategies' own scratch");
    expect(
        compared(true, |o| o.regs[17] ^= 1),
        Kind::EngineDisagreement,
        "x17 =",
    );
}

#[test]
fn same_bytes_compare_state_whatever_the_exit() {
    let fault = |o: &mut Outcome| {
        o.exit = Exit::Fault {
            access: Access::Fetch,
            addr: 0x10,
        }
    };
    expect(
        compared(true, |o| o.exit = Exit::InvalidInstruction),
        Kind::EngineDisagreement,
        "exit",
    );
    let (_, r) = correct();
    let mut a = r.outcomes[0].2.clone();
    fault(&mut a);
    let mut b = a.clone();
    b.regs[5] ^= 1;
    let d = compare(&run(&r, 0, UNICORN, &a), &run(&r, 0, OTHER, &b), true).unwrap_err();
    assert!(d.what.contains("x5 ="), "{d}");
    b.regs[5] = a.regs[5];
    b.pc ^= 4;
    let d = compare(&run(&r, 0, UNICORN, &a), &run(&r, 0, OTHER, &b), true).unwrap_err();
    assert!(d.what.contains("pc ="), "{d}");
}

/// judge compares every engine's run of a strategy with the first engine's: a difference the
/// reference does not judge (x16, the strategies' scratch register) is caught there alone.
#[test]
fn engines_are_compared_on_the_same_bytes() {
    let (p, r) = correct();
    let expected = evaluate(&p);
    let a = r.outcomes[0].2.clone();
    let mut b = a.clone();
    b.regs[16] ^= 1;
    let same = [run(&r, 0, UNICORN, &a), run(&r, 0, OTHER, &a)];
    judge(&same, &expected).expect("two engines with the same outcome agree");
    let runs = [run(&r, 0, UNICORN, &a), run(&r, 0, OTHER, &b)];
    expect(judge(&runs, &expected), Kind::EngineDisagreement, "x16 =");
}

/// The first strategy's outcome changed by `edit`, judged against the reference on its own.
fn against_reference(edit: impl Fn(&mut Outcome)) -> Result<(), Divergence> {
    let (p, r) = correct();
    let expected = evaluate(&p);
    let mut o = r.outcomes[0].2.clone();
    judge(&[run(&r, 0, UNICORN, &o)], &expected).expect("the correct run matches the reference");
    edit(&mut o);
    judge(&[run(&r, 0, UNICORN, &o)], &expected)
}

/// x8..x15 at every helper entry are what the caller left there (AAPCS64: only IP0/IP1 may
/// change between the caller's last instruction and the callee's entry).
#[test]
fn registers_a_call_sequence_must_preserve() {
    for reg in [8, 9, 15] {
        expect(
            against_reference(|o| o.calls[1].regs[reg] ^= 1 << 40),
            Kind::WrongResult,
            &format!("x{reg} = "),
        );
    }
    let d = against_reference(|o| o.calls[1].regs[8] ^= 1).unwrap_err();
    assert!(d.what.contains("the caller left"), "{d}");
}

/// The caller's loop counters on the stack at every helper entry (edge-cases.a64 calls from
/// inside loops nested three deep).
#[test]
fn loop_counters_in_the_callers_frame() {
    let (p, _) = correct();
    let expected = evaluate(&p);
    let deep = expected
        .calls
        .iter()
        .position(|c| c.counters.len() == 3)
        .expect("a call three loops deep");
    for depth in 0..3 {
        expect(
            against_reference(|o| o.calls[deep].frame[depth] += 1),
            Kind::WrongResult,
            &format!("loop counter at depth {depth}"),
        );
    }
}

/// A finding's text names its kind, the runs (strategy@engine, "(moved)" for relocated code),
/// the difference, and shows each run's code around the call that differs: the call site, and
/// for a call through a stub the stub too. The text is what a repro's reader has to go on.
#[test]
fn a_finding_names_its_kind_runs_and_the_code_around_the_call() {
    let (_, r) = correct();
    let stub = (0..r.outcomes.len())
        .find(|&i| r.emitted[r.outcomes[i].0].strategy.to_string() == "stub")
        .expect("the stub strategy ran");
    let a = r.outcomes[stub].2.clone();
    let mut b = a.clone();
    b.calls[2].regs[3] ^= 1;
    let moved = RunOn::moved(EngineKind::Qemu);
    let d = compare(
        &run(&r, stub, UNICORN, &a),
        &run(&r, stub, moved, &b),
        false,
    )
    .unwrap_err();
    let text = d.to_string();
    assert!(
        text.starts_with("strategy divergence: call 2 to h"),
        "kind and difference first: {text}"
    );
    assert!(
        text.contains("[stub@unicorn vs stub@qemu (moved)]"),
        "{text}"
    );
    assert!(text.contains("--- stub on unicorn ---\n"), "{text}");
    assert!(text.contains("--- stub on qemu (moved) ---\n"), "{text}");
    assert_eq!(text.matches("  ... stub:\n").count(), 2, "{text}");
    assert!(
        text.contains("; call #2 -> h"),
        "the call site, named: {text}"
    );
    assert!(
        text.contains("  ldr x16, #0x") && text.contains("  br x16\n"),
        "{text}"
    );
    // Each block: the site's four words before the call, the call, three after; the stub's
    // two instructions and its 8-byte literal.
    let block = text.split("--- stub on unicorn ---\n").nth(1).unwrap();
    let block = block.split("--- stub on qemu").next().unwrap();
    let (site, stub) = block.split_once("  ... stub:\n").unwrap();
    assert_eq!(
        (site.lines().count(), stub.lines().count()),
        (8, 4),
        "{block}"
    );
    // The stub shown is the one the call's `bl` branches to.
    let bl = site.lines().find(|l| l.contains("; call #2 -> h")).unwrap();
    let target = bl.split("bl #0x").nth(1).unwrap().split_whitespace().next();
    let first = stub.lines().next().unwrap().trim_start();
    assert!(
        first.starts_with(&format!("0x{:0>12}", target.unwrap())),
        "stub at the bl's target: {block}"
    );
}

/// A call by a direct `bl` (to the helper, outside the function) has no stub to show.
#[test]
fn a_direct_call_shows_no_stub() {
    let (_, r) = correct();
    let direct = (0..r.outcomes.len())
        .find(|&i| r.emitted[r.outcomes[i].0].strategy.to_string() == "direct")
        .expect("the direct strategy ran");
    let a = r.outcomes[direct].2.clone();
    let mut shown = 0;
    for call in 0..a.calls.len() {
        let mut b = a.clone();
        b.calls[call].regs[0] ^= 1;
        let d = compare(
            &run(&r, direct, UNICORN, &a),
            &run(&r, direct, UNICORN, &b),
            false,
        )
        .unwrap_err();
        let block = d.context.split("--- direct on").nth(1).unwrap();
        if block
            .lines()
            .any(|l| l.contains("; call #") && l.ends_with("(bl)"))
        {
            assert!(!block.contains("... stub:"), "{block}");
            shown += 1;
        }
    }
    assert!(shown > 0, "edge-cases.a64 calls a near helper directly");
}

/// judge compares every strategy with the first: on the first run's engine; on an engine both
/// ran when the other did not run on the first; and across engines when they share none (an
/// image the first engine could not run, rerun on Unicorn alone). A difference only the
/// strategy comparison sees (the final NZCV, which the reference does not judge) is caught in
/// each case, and reported with the runs compared.
#[test]
fn every_strategy_is_compared_with_the_first() {
    let (p, r) = correct();
    let expected = evaluate(&p);
    assert_ne!(r.outcomes[0].0, r.outcomes[1].0, "two strategies");
    let (s0, s1) = (r.emitted[0].strategy, r.emitted[1].strategy);
    let a = r.outcomes[0].2.clone();
    let mut b = r.outcomes[1].2.clone();
    let pair = [run(&r, 0, UNICORN, &a), run(&r, 1, UNICORN, &b)];
    judge(&pair, &expected).expect("two correct strategies agree");
    b.nzcv ^= 1 << 30;
    let cases: [(Vec<Run>, (RunOn, RunOn)); 3] = [
        (
            vec![run(&r, 0, UNICORN, &a), run(&r, 1, UNICORN, &b)],
            (UNICORN, UNICORN),
        ),
        (
            vec![run(&r, 0, UNICORN, &a), run(&r, 1, OTHER, &b)],
            (UNICORN, OTHER),
        ),
        (
            vec![
                run(&r, 0, UNICORN, &a),
                run(&r, 0, OTHER, &a),
                run(&r, 1, OTHER, &b),
            ],
            (OTHER, OTHER),
        ),
    ];
    for (runs, (on0, on1)) in cases {
        let d = judge(&runs, &expected).expect_err("NZCV differs between the strategies");
        assert_eq!(d.kind, Kind::StrategyDivergence, "{d}");
        assert!(d.what.contains("nzcv ="), "{d}");
        assert_eq!(d.runs, vec![(s0, on0), (s1, on1)], "{d}");
    }
}

/// A direct `bl` may land exactly at the code's end (a helper in the next page, when the code
/// ends on a 64 KiB boundary): that is a call out of the function, with no stub to show.
#[test]
fn a_direct_call_to_the_code_end_shows_no_stub() {
    use a64call::emit::strategy::StrategyId;
    let base = 0x20_0000_f000u64;
    let text = |helper: u64, stores: usize| {
        let body = "  store [1], v2\n".repeat(stores);
        format!(
            "a64call-program 1\ncode {base:#x}\nhelper h0 {helper:#x} args 1\nbody\n  v1 = const 0x5\n  v2 = call h0(v1)\n{body}ret v2\n"
        )
    };
    let direct = vec![StrategyId::DirectBl.strategy()];
    let len = |stores| {
        let p = parse(&text(base + 0x10_0000, stores)).unwrap();
        run_unicorn(&p, &Config::with_strategies(direct.clone()))
            .unwrap()
            .emitted[0]
            .code
            .bytes
            .len()
    };
    let (l0, l1) = (len(0), len(1));
    let stores = (0x1000 - l0) / (l1 - l0);
    let p = parse(&text(base + 0x1000, stores)).unwrap();
    let r = run_unicorn(&p, &Config::with_strategies(direct)).unwrap();
    assert!(r.finding.is_none(), "{:?}", r.finding);
    assert_eq!(
        r.emitted[0].code.bytes.len(),
        0x1000,
        "the code ends at the helper"
    );
    let a = r.outcomes[0].2.clone();
    let mut b = a.clone();
    b.calls[0].regs[0] ^= 1;
    let d = compare(&run(&r, 0, UNICORN, &a), &run(&r, 0, OTHER, &b), false).unwrap_err();
    assert!(d.context.contains("; call #0 -> h0 (bl)"), "{d}");
    assert!(!d.context.contains("... stub:"), "{d}");
}
