//! The helpers that run on the engines compute exactly what `runtime::helper_result` says, log
//! every call, and clobber the caller-saved registers.

use a64call::differential::{run_unicorn, Config};
use a64call::emit::strategy::StrategyId;
use a64call::machine::runtime::helper_result;
use a64call::model::gen::from_seed;
use a64call::model::program::Op;

#[test]
fn helper_results_match_the_model() {
    let prof = a64call::model::profile::BuiltIn::Far64.profile();
    for seed in 0..5 {
        let p = from_seed(seed, &prof);
        let r = run_unicorn(
            &p,
            &Config::with_strategies(vec![StrategyId::LiteralPool.strategy()]),
        )
        .unwrap();
        assert!(r.finding.is_none());
        let (_, _, o) = &r.outcomes[0];
        assert_eq!(o.calls.len(), 64);
        // far64 is straight-line: call i of the body is log entry i.
        let calls: Vec<&Op> = p
            .body
            .iter()
            .filter(|op| matches!(op, Op::Call { .. }))
            .collect();
        let mut expected_last = None;
        for (rec, op) in o.calls.iter().zip(calls) {
            let Op::Call { helper, dst, .. } = op else {
                unreachable!()
            };
            assert_eq!(rec.entry, p.helpers[*helper as usize].addr);
            let arity = p.helpers[*helper as usize].arity;
            expected_last = Some((
                dst.map(|d| d.reg()),
                helper_result(*helper as usize, arity, &rec.regs[..8].try_into().unwrap()),
            ));
        }
        // far64's body is calls only, so after the last call nothing but `mov vD, x0` and the
        // epilogue runs: x1..x15 still hold the helper's clobbers and vD its result.
        let (dst, res) = expected_last.unwrap();
        for n in 1..=15usize {
            assert_eq!(
                o.regs[n],
                res.wrapping_add(n as u64),
                "x{n} after the last call"
            );
        }
        if let Some(d) = dst {
            assert_eq!(o.regs[d as usize], res, "result register");
        }
    }
}
