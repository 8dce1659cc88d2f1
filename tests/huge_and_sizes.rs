//! Functions over 1 MiB work under the pool strategy, pool+bl keeps the patch's 1 MiB rule, and
//! byte / instruction counts are exact.

use a64call::differential::{run_unicorn, Config};
use a64call::emit::strategy::{SeqKind, StrategyId};
use a64call::emit::{emit, EmitOptions};
use a64call::model::gen::from_seed;
use a64call::model::profile::BuiltIn;
use a64call::model::program::Op;

#[test]
fn a_function_over_one_mib_passes_under_the_pool_strategy() {
    let p = from_seed(7, &BuiltIn::Huge.profile());
    let cfg = Config::with_strategies(vec![
        StrategyId::MovzMinimal.strategy(),
        StrategyId::LiteralPool.strategy(),
    ]);
    let r = run_unicorn(&p, &cfg).unwrap();
    assert!(r.finding.is_none(), "{}", r.finding.unwrap());
    let pool = &r.emitted[1];
    assert!(
        pool.code.bytes.len() > 1 << 20,
        "only {} bytes",
        pool.code.bytes.len()
    );
    assert!(
        pool.sizes().islands >= 1,
        "a >1 MiB function needs at least one island"
    );
    // Some literal load really reaches more than 1 MiB-worth of code away from the final pool
    // only through an island: every use is within range of the entry it loads.
    for s in &pool.sites {
        let a64call::asm::buffer::Slot::Inst(a64call::asm::encode::Inst::LdrLit { offset, .. }) =
            pool.code.slots[(s.start / 4) as usize]
        else {
            panic!("pool site without a literal load")
        };
        assert!(offset.abs() < 1 << 20);
    }
    let (_, _, o) = &r.outcomes[1];
    assert_eq!(
        o.calls.len(),
        p.call_sites(),
        "straight-line: every site runs once"
    );
}

/// Instructions the minimal movz/movk sequence needs for `v` when no halfword is 0xffff-filled
/// (true of every address below 2^47): one per non-zero halfword, at least one.
fn movz_len(v: u64) -> u64 {
    ((0..4).filter(|i| (v >> (16 * i)) & 0xFFFF != 0).count() as u64).max(1)
}

#[test]
fn far64_sizes_are_exact_and_pool_beats_minimal_movz() {
    let p = from_seed(1, &BuiltIn::Far64.profile());
    let opts = EmitOptions::default();
    let by = |id: StrategyId| emit(&p, id.strategy(), &opts).unwrap();
    let (movz, fixed, pool, stub) = (
        by(StrategyId::MovzMinimal),
        by(StrategyId::MovzFixed4),
        by(StrategyId::LiteralPool),
        by(StrategyId::StubCall),
    );
    let calls: Vec<(u16, usize)> = p
        .body
        .iter()
        .map(|op| match op {
            Op::Call { helper, args, dst } => (*helper, args.len() + usize::from(dst.is_some())),
            _ => panic!("far64 is calls only"),
        })
        .collect();
    assert_eq!(calls.len(), 64);
    // Frame: 3 prologue + 3 epilogue instructions; per call: argument moves and result move.
    let moves: u64 = calls.iter().map(|(_, m)| *m as u64).sum();
    let frame = 6;
    let target = |h: u16| p.helpers[h as usize].addr;
    let movz_seq: u64 = calls.iter().map(|(h, _)| movz_len(target(*h)) + 1).sum();
    assert_eq!(movz.code.bytes.len() as u64, 4 * (frame + moves + movz_seq));
    assert_eq!(fixed.code.bytes.len() as u64, 4 * (frame + moves + 5 * 64));
    let distinct = {
        let mut t: Vec<u16> = calls.iter().map(|c| c.0).collect();
        t.sort();
        t.dedup();
        t.len() as u64
    };
    let body = 4 * (frame + moves + 2 * 64);
    let pad = body % 8;
    assert_eq!(pool.sizes().body, body);
    assert_eq!(pool.sizes().pool, pad + 8 * distinct);
    assert_eq!(pool.sizes().pool_entries as u64, distinct);
    assert_eq!(stub.sizes().body, 4 * (frame + moves + 64));
    assert_eq!(stub.sizes().stub_count as u64, distinct);
    assert_eq!(
        stub.sizes().stubs,
        (4 * (frame + moves + 64)) % 8 + 16 * distinct
    );
    assert!(
        pool.code.bytes.len() < movz.code.bytes.len(),
        "pool {} vs movz {}",
        pool.code.bytes.len(),
        movz.code.bytes.len()
    );
    for s in &pool.sites {
        assert_eq!((s.inline_insns(), s.choice.kind), (2, SeqKind::PoolLoad));
    }
    // Executed instructions inside the function are exact too: the pool saves exactly the
    // difference in sequence lengths.
    let cfg = Config::with_strategies(vec![
        StrategyId::MovzMinimal.strategy(),
        StrategyId::LiteralPool.strategy(),
        StrategyId::StubCall.strategy(),
    ]);
    let r = run_unicorn(&p, &cfg).unwrap();
    assert!(r.finding.is_none());
    let ins = |i: usize| r.outcomes[i].2.insns.unwrap().in_code;
    assert_eq!(ins(0), frame + moves + movz_seq);
    assert_eq!(ins(1), frame + moves + 2 * 64);
    assert_eq!(
        ins(2),
        frame + moves + 3 * 64,
        "stub: bl + ldr + br per call"
    );
}

/// `e` is byte for byte what `stub+bl` emits for `p`, and says why at each stub site.
fn is_the_stub_fallback(e: &a64call::emit::Emitted, p: &a64call::model::program::Program) {
    let stub = emit(p, StrategyId::StubOrBl.strategy(), &EmitOptions::default()).unwrap();
    assert_eq!(e.strategy, StrategyId::PoolOrBl);
    assert!(e.code.bytes == stub.code.bytes, "not stub+bl's code");
    assert_eq!(e.sizes().pool_entries, 0);
    for s in &e.sites {
        match s.choice.kind {
            SeqKind::DirectBl => assert_eq!(s.choice.fallback, None),
            SeqKind::Stub => assert!(s.choice.fallback.unwrap().contains("1 MiB")),
            other => panic!("{other:?} in the fallback"),
        }
    }
}

#[test]
fn a_function_over_one_mib_falls_back_to_stubs_under_pool_bl_and_runs() {
    // The patch's rule: no literal pool unless code and pool are under 1 MiB.
    let p = from_seed(3, &BuiltIn::Huge.profile());
    let cfg = Config::with_strategies(vec![
        StrategyId::MovzMinimal.strategy(),
        StrategyId::PoolOrBl.strategy(),
    ]);
    let r = run_unicorn(&p, &cfg).unwrap();
    assert!(r.finding.is_none(), "{}", r.finding.unwrap());
    let e = &r.emitted[1];
    assert!(
        e.code.bytes.len() > 1 << 20,
        "only {} bytes",
        e.code.bytes.len()
    );
    is_the_stub_fallback(e, &p);
    assert!(e.sizes().stub_count > 0);
    let (_, _, o) = &r.outcomes[1];
    assert_eq!(o.calls.len(), p.call_sites(), "every site runs once");
}

/// One call of a far helper after `lead` ALU operations, then `fill` more.
fn edge_program(lead: usize, fill: usize) -> a64call::model::program::Program {
    use a64call::asm::encode::AluOp;
    use a64call::model::program::{Helper, Val};
    let mut p = from_seed(1, &BuiltIn::Far64.profile());
    p.helpers = vec![Helper {
        addr: p.helpers[0].addr,
        arity: 0,
    }];
    let alu = Op::Alu {
        op: AluOp::Eor,
        dst: Val(1),
        a: Val(1),
        b: Val(2),
    };
    p.body = std::iter::repeat_n(alu.clone(), lead)
        .chain([Op::Call {
            dst: None,
            helper: 0,
            args: vec![],
        }])
        .chain(std::iter::repeat_n(alu, fill))
        .collect();
    p.ret = Val(1);
    p.validate().unwrap();
    p
}

#[test]
fn pool_bl_uses_its_pool_exactly_while_code_and_pool_are_under_1_mib() {
    const MIB: usize = 1 << 20;
    // Prologue 12 bytes, `ldr x16, <literal>; blr x16`, `fill` ALU words, epilogue 12 bytes:
    // 32 + 4 * fill bytes of code, then padding to 8 and the one 8-byte literal.
    let cfg = Config::with_strategies(vec![
        StrategyId::MovzMinimal.strategy(),
        StrategyId::PoolOrBl.strategy(),
    ]);
    // 1 MiB - 16 of code and the literal: 1 MiB - 8 in all, the pool, its literal 1 MiB - 28
    // from the `ldr`.
    let p = edge_program(0, (MIB - 48) / 4);
    let r = run_unicorn(&p, &cfg).unwrap();
    assert!(r.finding.is_none(), "{}", r.finding.unwrap());
    let e = &r.emitted[1];
    assert_eq!(e.code.bytes.len(), MIB - 8);
    assert_eq!(e.sites[0].choice.kind, SeqKind::PoolLoad);
    assert_eq!(e.code.pool, vec![(MIB - 16) as u32..(MIB - 8) as u32]);
    assert_eq!(r.outcomes[1].2.calls.len(), 1);
    // 4 or 8 bytes more of code (with and without padding): 1 MiB in all, the fallback.
    for fill in [(MIB - 44) / 4, (MIB - 40) / 4] {
        let p = edge_program(0, fill);
        let r = run_unicorn(&p, &cfg).unwrap();
        assert!(r.finding.is_none(), "{}", r.finding.unwrap());
        is_the_stub_fallback(&r.emitted[1], &p);
        assert_eq!(r.outcomes[1].2.calls.len(), 1);
    }
}
