//! Functions over 1 MiB work under the pool strategy, and byte / instruction counts are exact.

use a64call::differential::{run_unicorn, Config};
use a64call::emit::strategy::{self, SeqKind};
use a64call::emit::{emit, EmitOptions};
use a64call::model::gen::{from_seed, Profile};
use a64call::model::program::Op;

#[test]
fn a_function_over_one_mib_passes_under_the_pool_strategy() {
    let p = from_seed(7, &Profile::named("huge").unwrap());
    let cfg = Config::with_strategies(vec![
        strategy::by_name("movz-min").unwrap(),
        strategy::by_name("pool").unwrap(),
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
    let p = from_seed(1, &Profile::named("far64").unwrap());
    let opts = EmitOptions::default();
    let by = |n| emit(&p, strategy::by_name(n).unwrap(), &opts).unwrap();
    let (movz, fixed, pool, stub) = (by("movz-min"), by("movz-fixed4"), by("pool"), by("stub"));
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
        strategy::by_name("movz-min").unwrap(),
        strategy::by_name("pool").unwrap(),
        strategy::by_name("stub").unwrap(),
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

/// Where pool+bl site `s` of `e` reads its literal (byte offset) and whether it took the `adrp`
/// form; the literal's distance is measured from the sequence's first instruction.
fn pool_bl_literal(e: &a64call::emit::Emitted, s: &a64call::emit::CallSite) -> (i64, bool) {
    use a64call::asm::buffer::Slot;
    use a64call::asm::encode::Inst;
    let at = (s.start / 4) as usize;
    match (e.code.slots[at], e.code.slots[at + 1], s.choice.kind) {
        (Slot::Inst(Inst::LdrLit { offset, .. }), _, SeqKind::PoolLoad) => {
            (i64::from(s.start) + i64::from(offset), false)
        }
        (
            Slot::Inst(Inst::Adrp { pages, .. }),
            Slot::Inst(Inst::LdrImm { imm12, .. }),
            SeqKind::PoolLoadAdrp,
        ) => {
            let pc = e.code.base + u64::from(s.start);
            let page = (pc & !0xFFF).wrapping_add((i64::from(pages) << 12) as u64);
            ((page + 8 * u64::from(imm12) - e.code.base) as i64, true)
        }
        other => panic!("site {s:?} is not a pool load: {other:?}"),
    }
}

#[test]
fn a_function_over_one_mib_passes_under_pool_bl_with_adrp_loads() {
    let p = from_seed(3, &Profile::named("huge").unwrap());
    let cfg = Config::with_strategies(vec![
        strategy::by_name("movz-min").unwrap(),
        strategy::by_name("pool+bl").unwrap(),
    ]);
    let r = run_unicorn(&p, &cfg).unwrap();
    assert!(r.finding.is_none(), "{}", r.finding.unwrap());
    let e = &r.emitted[1];
    let len = e.code.bytes.len();
    assert!(len > 1 << 20, "only {len} bytes");
    // CinderX's shape: no island, one pool after all of the code, 8-byte aligned.
    assert_eq!(e.sizes().islands, 0);
    assert_eq!(e.code.data.len(), 1, "{:?}", e.code.data);
    assert_eq!(e.code.data[0].end as usize, len);
    assert_eq!(e.code.pool.len(), 1);
    assert!(e.code.pool[0].start.is_multiple_of(8));
    let (mut short, mut far) = (0, 0);
    for s in e
        .sites
        .iter()
        .filter(|s| s.choice.kind != SeqKind::DirectBl)
    {
        let (lit, adrp) = pool_bl_literal(e, s);
        assert!(e.code.is_pool(lit as u32) && lit % 8 == 0, "{s:?}");
        let d = lit - i64::from(s.start);
        // Each form exactly where it must be: ldr within its reach, adrp beyond it.
        assert_eq!(adrp, d > (1 << 20) - 4, "{s:?}: literal {d:+} bytes away");
        assert_eq!(s.inline_insns(), if adrp { 3 } else { 2 });
        if adrp {
            far += 1
        } else {
            short += 1
        }
    }
    assert!(far > 0 && short > 0, "{far} adrp loads, {short} ldr loads");
    assert_eq!(e.sizes().adrp_loads, far);
    let (_, _, o) = &r.outcomes[1];
    assert_eq!(o.calls.len(), p.call_sites(), "every site runs once");
    // Executed instructions: exactly one more per adrp site than the ldr form.
    let ins = |i: usize| r.outcomes[i].2.insns.unwrap().in_code;
    let movz: u64 = r.emitted[0]
        .sites
        .iter()
        .map(|s| u64::from(s.inline_insns()))
        .sum();
    let pool: u64 = e.sites.iter().map(|s| u64::from(s.inline_insns())).sum();
    assert_eq!(ins(1) - ins(0), pool - movz);
}

/// One call of a far helper after `lead` ALU operations, then `fill` more.
fn edge_program(lead: usize, fill: usize) -> a64call::model::program::Program {
    use a64call::asm::encode::AluOp;
    use a64call::model::program::{Helper, Val};
    let mut p = from_seed(1, &Profile::named("far64").unwrap());
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
fn pool_bl_literal_at_the_ldr_range_edges_takes_one_form_each_and_runs() {
    const MIB: usize = 1 << 20;
    // Prologue 12 bytes, the call, `fill` ALU words, epilogue 12 bytes.
    // (a) ldr at 12, blr, code ending at 1 MiB + 4 (1 MiB + 8 while the load counted 8 bytes):
    //     the pool is at 1 MiB + 8, the literal +1 MiB - 4 from the ldr.
    // (b) adrp at 16, ldr, blr, code ending at 1 MiB + 16: the literal +1 MiB from the adrp.
    for (lead, fill, dist, adrp) in [
        (0, (MIB - 28) / 4, MIB as i64 - 4, false),
        (1, (MIB - 24) / 4, MIB as i64, true),
    ] {
        let p = edge_program(lead, fill);
        let cfg = Config::with_strategies(vec![
            strategy::by_name("movz-min").unwrap(),
            strategy::by_name("pool+bl").unwrap(),
        ]);
        let r = run_unicorn(&p, &cfg).unwrap();
        assert!(r.finding.is_none(), "{}", r.finding.unwrap());
        let e = &r.emitted[1];
        let (lit, got_adrp) = pool_bl_literal(e, &e.sites[0]);
        assert_eq!(
            (lit - i64::from(e.sites[0].start), got_adrp),
            (dist, adrp),
            "lead {lead}"
        );
        assert_eq!(r.outcomes[1].2.calls.len(), 1);
    }
}
