//! Tests of the parent module.

use super::*;
use crate::asm::encode::{X16, X17};

/// Each label-use kind's reach is the architecture's, written out (Arm ARM: a signed word
/// offset of 26, 19 or 14 bits), not derived from the code under test: the island and
/// veneer tests below compute their deadlines from these functions, so only this test holds
/// them to the ISA.
#[test]
fn each_kind_reaches_what_its_immediate_encodes() {
    let reach = |k: LabelUse| (k.max_forward(), k.max_backward());
    assert_eq!(reach(LabelUse::Branch26), (134_217_724, 134_217_728));
    assert_eq!(reach(LabelUse::Branch19), (1_048_572, 1_048_576));
    assert_eq!(reach(LabelUse::Ldr19), (1_048_572, 1_048_576));
    assert_eq!(reach(LabelUse::Test14), (32_764, 32_768));
}

#[test]
fn pool_is_deduplicated_aligned_and_after_code() {
    let mut b = CodeBuffer::new(0x1000_0000);
    b.load_const(X16, 0xAAAA);
    b.push(Inst::Blr { rn: X16 });
    b.load_const(X16, 0xBBBB);
    b.load_const(X16, 0xAAAA);
    b.push(Inst::Ret);
    let f = b.finish().unwrap();
    assert_eq!(f.sizes.pool_entries, 2);
    assert_eq!(f.sizes.body, 20);
    // ret at 16, pad at 20, entries at 24 and 32.
    assert_eq!(f.data, vec![20..40]);
    assert_eq!(
        f.slots[0],
        Slot::Inst(Inst::LdrLit {
            rt: X16,
            offset: 24
        })
    );
    assert_eq!(
        f.slots[2],
        Slot::Inst(Inst::LdrLit {
            rt: X16,
            offset: 24
        })
    );
    assert_eq!(
        f.slots[3],
        Slot::Inst(Inst::LdrLit {
            rt: X16,
            offset: 12
        })
    );
    assert_eq!(&f.bytes[24..32], &0xAAAAu64.to_le_bytes());
}

#[test]
fn far_uses_get_an_island_with_a_branch_over_it() {
    let mut b = CodeBuffer::new(0x1000_0000);
    b.load_const(X16, 0x1234_5678);
    b.push(Inst::Blr { rn: X16 });
    for _ in 0..600_000 {
        b.reserve(8);
        b.push(Inst::Nop);
    }
    b.reserve(8);
    b.load_const(X16, 0x1234_5678);
    b.push(Inst::Ret);
    let f = b.finish().unwrap();
    assert_eq!(f.sizes.islands, 1);
    assert_eq!(
        f.sizes.pool_entries, 2,
        "the second use is out of range of the island entry"
    );
    for r in &f.data {
        let before = f.slots[(r.start / 4 - 1) as usize];
        assert!(
            matches!(before, Slot::Inst(i) if i.is_terminator()),
            "{r:?} after {before:?}"
        );
    }
    // The size breakdown accounts for every byte, islands included.
    assert_eq!(
        f.sizes.body + f.sizes.pool + f.sizes.stubs,
        f.bytes.len() as u64
    );
}

#[test]
fn an_island_after_a_terminator_needs_no_branch_over_it() {
    // Where control cannot fall into the island (after `ret`), none is emitted; where it can,
    // a `b` over the island comes first.
    for (last, skip) in [(Inst::Ret, false), (Inst::Nop, true)] {
        let mut b = CodeBuffer::new(0x1000_0000);
        b.load_const(X16, 0x1234_5678);
        b.push(last);
        let island = b.offset();
        b.place_pool(false);
        let first = b.slots[(island / 4) as usize];
        assert_eq!(
            matches!(first, Slot::Inst(Inst::B { .. })),
            skip,
            "{last:?}"
        );
    }
}

#[test]
fn the_code_region_holds_exactly_max_code_bytes() {
    let emit = |words: u64| {
        let mut b = CodeBuffer::new(0x1000_0000);
        for _ in 0..words {
            b.push(Inst::Nop);
        }
        b.finish().map(|f| f.bytes.len() as u64)
    };
    let words = crate::layout::MAX_CODE / 4;
    assert_eq!(emit(words), Ok(crate::layout::MAX_CODE));
    assert_eq!(
        emit(words + 1),
        Err(EmitError::TooLarge(crate::layout::MAX_CODE + 4))
    );
}

#[test]
fn only_a_program_the_memory_map_cannot_hold_is_unsupported() {
    let encode = crate::asm::encode::Inst::Movz {
        rd: 40,
        imm16: 0,
        hw: 0,
    }
    .encode()
    .unwrap_err();
    let out_of_range = EmitError::OutOfRange {
        at: 0,
        delta: 1 << 30,
        kind: LabelUse::Branch19,
    };
    assert!(!out_of_range.is_unsupported(), "an emitter fault");
    assert!(
        !EmitError::Encode(encode).is_unsupported(),
        "an emitter fault"
    );
    assert!(EmitError::TooLarge(crate::layout::MAX_CODE + 4).is_unsupported());
    let overlap = EmitError::HelperOverlap {
        helper: 0,
        addr: 0x1000_0000,
    };
    assert!(overlap.is_unsupported());
    assert!(EmitError::BankOverlap { addr: 0x1000_0000 }.is_unsupported());
    let foreign = EmitError::ForeignSlot {
        helper: 0,
        addr: 0x1000_0000,
    };
    assert!(foreign.is_unsupported());
}

/// A buffer with the pool after the code: `lead` nops, a load of 0x1234_5678 and `blr`,
/// `fill` nops, `ret`; its [`CodeBuffer::code_and_pool_len`] and the finished result.
fn after_code(lead: u32, fill: u32) -> (u32, Result<Finished, EmitError>) {
    let mut b = CodeBuffer::new(0x1000_0000);
    b.set_pool_placement(PoolPlacement::AfterCode);
    for _ in 0..lead {
        b.push(Inst::Nop);
    }
    b.load_const(X16, 0x1234_5678);
    b.push(Inst::Blr { rn: X16 });
    for _ in 0..fill {
        b.push(Inst::Nop);
    }
    b.push(Inst::Ret);
    (b.code_and_pool_len(), b.finish())
}

/// Where the `ldr` literal at `at` reads (byte offset).
fn literal_of(f: &Finished, at: u32) -> u32 {
    match f.slots[(at / 4) as usize] {
        Slot::Inst(Inst::LdrLit { offset, .. }) => (at as i32 + offset) as u32,
        other => panic!("no literal load at {at:#x}: {other:?}"),
    }
}

#[test]
fn pool_after_code_is_one_aligned_pool_after_the_ret() {
    let mut b = CodeBuffer::new(0x1000_0000);
    b.set_pool_placement(PoolPlacement::AfterCode);
    b.load_const(X16, 0xAAAA);
    b.push(Inst::Blr { rn: X16 });
    for _ in 0..1000 {
        b.reserve(8);
        b.push(Inst::Nop);
    }
    b.load_const(X16, 0xBBBB);
    b.push(Inst::Blr { rn: X16 });
    b.load_const(X16, 0xAAAA);
    b.push(Inst::Blr { rn: X16 });
    b.push(Inst::Ret);
    let len = b.code_and_pool_len();
    let f = b.finish().unwrap();
    assert_eq!(len as usize, f.bytes.len());
    assert_eq!((f.sizes.islands, f.sizes.pool_entries), (0, 2));
    assert_eq!(
        f.data.len(),
        1,
        "one pool, after all the code: {:?}",
        f.data
    );
    let pool = f.data[0].clone();
    assert_eq!(pool.end as usize, f.bytes.len());
    assert_eq!(f.pool, vec![pool.end - 16..pool.end]);
    assert!(f.pool[0].start.is_multiple_of(8));
    let ret = (pool.start / 4 - 1) as usize;
    assert_eq!(f.slots[ret], Slot::Inst(Inst::Ret));
    // First-use order, de-duplicated.
    let tail = 8 + 4 * 1000;
    assert_eq!(literal_of(&f, 0), f.pool[0].start);
    assert_eq!(literal_of(&f, tail), f.pool[0].start + 8);
    assert_eq!(literal_of(&f, tail + 8), f.pool[0].start);
    let lit = f.pool[0].start as usize;
    assert_eq!(&f.bytes[lit..lit + 8], &0xAAAAu64.to_le_bytes());
}

#[test]
fn pool_after_code_reaches_exactly_1_mib_minus_4_and_reports_beyond() {
    const MIB: u32 = 1 << 20;
    // Load at 4; code ends at 1 MiB - 4, 4 bytes of zero padding: the literal at 1 MiB is
    // +1 MiB - 4 away, the farthest `ldr` reaches. Code and pool: 1 MiB + 8.
    let (len, f) = after_code(1, (MIB - 20) / 4);
    let f = f.unwrap();
    assert_eq!(len, MIB + 8);
    assert_eq!(literal_of(&f, 4), MIB, "ldr reaches +1 MiB - 4");
    assert_eq!(f.data, vec![MIB - 4..MIB + 8]);
    assert_eq!(&f.bytes[(MIB - 4) as usize..MIB as usize], &[0; 4]);
    // Load at 0, the same code: the literal is +1 MiB away, out of reach. The buffer does
    // not relax it (invariant 2): the strategy must not have emitted a function this large.
    let (len, f) = after_code(0, (MIB - 16) / 4);
    assert_eq!(len, MIB + 8);
    assert!(matches!(
        f,
        Err(EmitError::OutOfRange {
            at: 0,
            delta: 0x10_0000,
            kind: LabelUse::Ldr19
        })
    ));
}

#[test]
fn out_of_range_is_an_error_not_a_truncation() {
    let mut b = CodeBuffer::new(0x1000_0000);
    let l = b.new_label();
    b.push_use(
        Inst::BCond {
            cond: crate::asm::encode::Cond::Eq,
            offset: 0,
        },
        l,
        LabelUse::Branch19,
    );
    for _ in 0..(1 << 18) {
        b.push(Inst::Nop);
    }
    b.bind(l);
    b.push(Inst::Ret);
    assert!(matches!(
        b.finish(),
        Err(EmitError::OutOfRange {
            kind: LabelUse::Branch19,
            ..
        })
    ));
}

/// The instruction a conditional branch or `b` at byte `at` of `f` branches to, and its byte offset.
fn branch_target(f: &Finished, at: u32) -> (u32, Slot) {
    let offset = match f.slots[(at / 4) as usize] {
        Slot::Inst(Inst::BCond { offset, .. })
        | Slot::Inst(Inst::Cbz { offset, .. })
        | Slot::Inst(Inst::Tbz { offset, .. })
        | Slot::Inst(Inst::B { offset }) => offset,
        other => panic!("no branch at {at:#x}: {other:?}"),
    };
    let to = (i64::from(at) + i64::from(offset)) as u32;
    (to, f.slots[(to / 4) as usize])
}

/// `n` nops, each reserved first as the lowering does.
fn nops(b: &mut CodeBuffer, n: u32) {
    for _ in 0..n {
        b.reserve(4);
        b.push(Inst::Nop);
    }
}

#[test]
fn a_forward_b_cond_past_1_mib_reaches_its_label_through_a_veneer() {
    let mut b = CodeBuffer::new(0x1000_0000);
    let l = b.new_label();
    b.branch_cond(crate::asm::encode::Cond::Eq, l);
    nops(&mut b, 300_000); // 1.14 MiB
    b.bind(l);
    b.push(Inst::Ret);
    let f = b.finish().unwrap();
    assert_eq!(f.sizes.veneers, 1);
    let (veneer, inst) = branch_target(&f, 0);
    assert!(matches!(inst, Slot::Inst(Inst::B { .. })), "{inst:?}");
    assert!(i64::from(veneer) <= LabelUse::Branch19.max_forward());
    // The island is skipped by a `b` just before the veneer, to the word after it.
    let (after, _) = branch_target(&f, veneer - 4);
    assert_eq!(after, veneer + 4);
    let (end, inst) = branch_target(&f, veneer);
    assert_eq!((end, inst), (4 * 300_000 + 12, Slot::Inst(Inst::Ret)));
}

#[test]
fn a_forward_b_cond_in_range_needs_no_veneer() {
    let mut b = CodeBuffer::new(0x1000_0000);
    let l = b.new_label();
    b.branch_cond(crate::asm::encode::Cond::Eq, l);
    nops(&mut b, 200_000); // 0.76 MiB
    b.bind(l);
    b.push(Inst::Ret);
    let f = b.finish().unwrap();
    assert_eq!(f.sizes.veneers, 0);
    assert_eq!(branch_target(&f, 0).0, 4 * 200_001);
}

#[test]
fn a_backward_b_cond_reaches_exactly_1_mib_back_and_no_further() {
    // `pad` nops, then a b.cond back to the first: 1 MiB back is the last reachable offset.
    let emit = |pad: u32| {
        let mut b = CodeBuffer::new(0x1000_0000);
        let top = b.new_label();
        b.bind(top);
        nops(&mut b, pad);
        let at = b.offset();
        b.branch_cond(crate::asm::encode::Cond::Ne, top);
        b.push(Inst::Ret);
        (at, b.finish().unwrap())
    };
    let (at, f) = emit(1 << 18);
    assert_eq!(f.sizes.veneers, 0);
    assert_eq!(
        f.slots[(at / 4) as usize],
        Slot::Inst(Inst::BCond {
            cond: crate::asm::encode::Cond::Ne,
            offset: -(1 << 20)
        })
    );
    assert_eq!(emit((1 << 18) + 1).1.sizes.veneers, 1);
}

#[test]
fn a_backward_b_cond_past_1_mib_is_inverted_over_a_b() {
    let mut b = CodeBuffer::new(0x1000_0000);
    let top = b.new_label();
    b.bind(top);
    nops(&mut b, 300_000);
    let at = b.offset();
    b.branch_cond(crate::asm::encode::Cond::Ne, top);
    b.push(Inst::Ret);
    let f = b.finish().unwrap();
    assert_eq!(f.sizes.veneers, 1);
    assert_eq!(
        f.slots[(at / 4) as usize],
        Slot::Inst(Inst::BCond {
            cond: crate::asm::encode::Cond::Eq,
            offset: 8
        })
    );
    assert_eq!(branch_target(&f, at + 4).0, 0);
}

#[test]
fn veneer_islands_and_pool_islands_share_one_function() {
    let mut b = CodeBuffer::new(0x1000_0000);
    let l = b.new_label();
    b.branch_cond(crate::asm::encode::Cond::Lo, l);
    for i in 0..2_000u64 {
        b.reserve(8);
        b.load_const(X16, 0x1_0000_0000 + i);
        b.push(Inst::Blr { rn: X16 });
        nops(&mut b, 200);
    }
    b.bind(l);
    b.push(Inst::Ret);
    let f = b.finish().unwrap();
    assert_eq!(f.sizes.veneers, 1);
    assert!(f.sizes.islands >= 1, "{:?}", f.sizes);
    let (veneer, _) = branch_target(&f, 0);
    assert!(!f.is_data(veneer));
    assert_eq!(branch_target(&f, veneer).1, Slot::Inst(Inst::Ret));
}

/// The first offset, from `from` in steps of 4, at which reserving 4 more bytes makes
/// `worst_case(offset)` pass `deadline`: where the buffer must place an island.
fn last_moment(from: u32, deadline: i64, worst_case: impl Fn(i64) -> i64) -> u32 {
    (from..)
        .step_by(4)
        .find(|&o| worst_case(i64::from(o)) > deadline)
        .unwrap()
}

#[test]
fn a_pool_island_goes_at_the_last_reservation_the_worst_case_allows() {
    // One load at 0; each later word reserved alone. The worst case at offset o: the word, then
    // an island of a branch, padding and one entry per pending load and per reserved word.
    let mut b = CodeBuffer::new(0x1000_0000);
    b.load_const(X16, 0x1234_5678);
    b.push(Inst::Blr { rn: X16 });
    nops(&mut b, 300_000);
    b.push(Inst::Ret);
    let f = b.finish().unwrap();
    let at = last_moment(8, LabelUse::Ldr19.max_forward(), |o| o + 4 + 8 + 8 * 2);
    assert_eq!(f.slots[(at / 4) as usize - 1], Slot::Inst(Inst::Nop));
    assert!(matches!(
        f.slots[(at / 4) as usize],
        Slot::Inst(Inst::B { .. })
    ));
    assert_eq!(f.data[0].start, layout_after_branch(at));
    assert_eq!(f.sizes.islands, 1);
}

/// Where an island's entries start when its branch is at `at`: the next 8-byte boundary.
fn layout_after_branch(at: u32) -> u32 {
    (at + 4).next_multiple_of(8)
}

#[test]
fn a_veneer_island_goes_at_the_last_reservation_the_worst_case_allows() {
    // Three forward b.conds at 0, 4 and 8; each later word reserved alone. The worst case at
    // offset o: the word, then a veneer island of a branch over it and one `b` per pending
    // b.cond and per reserved word.
    let mut b = CodeBuffer::new(0x1000_0000);
    let l = b.new_label();
    for _ in 0..3 {
        b.branch_cond(crate::asm::encode::Cond::Eq, l);
    }
    nops(&mut b, 300_000);
    b.bind(l);
    b.push(Inst::Ret);
    let f = b.finish().unwrap();
    let at = last_moment(12, LabelUse::Branch19.max_forward(), |o| o + 4 + 4 + 4 * 4);
    assert!(matches!(
        f.slots[(at / 4) as usize],
        Slot::Inst(Inst::B { .. })
    ));
    for (k, site) in [0u32, 4, 8].into_iter().enumerate() {
        let veneer = at + 4 + 4 * k as u32;
        assert_eq!(
            branch_target(&f, site).0,
            veneer,
            "b.cond {k} goes to its veneer"
        );
    }
}

#[test]
fn a_load_in_reach_of_a_placed_entry_reuses_it_and_pool_ranges_stay_apart() {
    // An island about 600 KB in, and a load of its value 100 KB after it: in reach backward
    // (though the two offsets add up to more than 1 MiB), so it reads the island's entry.
    let mut b = CodeBuffer::new(0x1000_0000);
    nops(&mut b, 150_000);
    let first = b.offset();
    b.load_const(X16, 0xAAAA);
    b.push(Inst::Ret);
    b.place_pool(false);
    let island = b.pool.clone();
    nops(&mut b, 25_000);
    let again = b.offset();
    b.load_const(X16, 0xAAAA);
    b.load_const(X16, 0xBBBB); // a new entry, in the final pool
    b.push(Inst::Ret);
    let f = b.finish().unwrap();
    assert_eq!(f.sizes.pool_entries, 2);
    assert_eq!(literal_of(&f, again), literal_of(&f, first));
    // The island's range and the final pool's, each as placed.
    assert_eq!(f.pool.len(), 2, "{:?}", f.pool);
    assert_eq!(f.pool[0], island[0]);
    assert_eq!(f.pool[1].len(), 8);
}

#[test]
fn code_and_pool_len_is_what_finish_makes() {
    // Aligned and misaligned ends, with and without pending entries.
    for (words, load) in [(1u32, false), (2, false), (1, true), (2, true)] {
        let mut b = CodeBuffer::new(0x1000_0000);
        if load {
            b.load_const(X16, 0x1234);
        }
        nops(&mut b, words);
        let predicted = b.code_and_pool_len();
        assert_eq!(
            u64::from(predicted),
            b.finish().unwrap().bytes.len() as u64,
            "{words} words, load {load}"
        );
    }
}

#[test]
fn a_pool_after_code_takes_no_island_however_far_the_code_goes() {
    let mut b = CodeBuffer::new(0x1000_0000);
    b.set_pool_placement(PoolPlacement::AfterCode);
    b.load_const(X16, 0x1234_5678);
    b.push(Inst::Blr { rn: X16 });
    nops(&mut b, 300_000);
    b.push(Inst::Ret);
    assert!(matches!(
        b.finish(),
        Err(EmitError::OutOfRange {
            kind: LabelUse::Ldr19,
            ..
        })
    ));
}

const BIT4: BranchTest = BranchTest::Bit {
    rt: X17,
    bit: 4,
    nonzero: false,
};
const ZERO: BranchTest = BranchTest::Zero {
    rt: X17,
    nonzero: true,
};

/// `pad` reserved nops, then a branch on `test` back to the first; the branch's offset.
fn backward(test: BranchTest, pad: u32) -> (u32, Finished) {
    let mut b = CodeBuffer::new(0x1000_0000);
    let top = b.new_label();
    b.bind(top);
    nops(&mut b, pad);
    let at = b.offset();
    b.branch_if(test, top);
    b.push(Inst::Ret);
    (at, b.finish().unwrap())
}

#[test]
fn a_backward_tbz_reaches_exactly_32_kib_back_and_beyond_is_inverted_over_a_b() {
    let (at, f) = backward(BIT4, 1 << 13);
    assert_eq!(f.sizes.veneers, 0);
    let plain = Inst::Tbz {
        rt: X17,
        bit: 4,
        nonzero: false,
        offset: -(1 << 15),
    };
    assert_eq!(f.slots[(at / 4) as usize], Slot::Inst(plain));
    let (at, f) = backward(BIT4, (1 << 13) + 1);
    assert_eq!(f.sizes.veneers, 1);
    let over = Inst::Tbz {
        rt: X17,
        bit: 4,
        nonzero: true,
        offset: 8,
    };
    assert_eq!(f.slots[(at / 4) as usize], Slot::Inst(over));
    assert_eq!(branch_target(&f, at + 4).0, 0);
}

#[test]
fn a_backward_cbnz_reaches_exactly_1_mib_back_and_beyond_is_inverted_over_a_b() {
    let (at, f) = backward(ZERO, 1 << 18);
    assert_eq!(f.sizes.veneers, 0);
    assert_eq!(branch_target(&f, at).0, 0);
    let (at, f) = backward(ZERO, (1 << 18) + 1);
    assert_eq!(f.sizes.veneers, 1);
    let over = Inst::Cbz {
        rt: X17,
        nonzero: false,
        offset: 8,
    };
    assert_eq!(f.slots[(at / 4) as usize], Slot::Inst(over));
    assert_eq!(branch_target(&f, at + 4).0, 0);
}

/// A branch on `test` forward over `pad` reserved nops to a `ret`: its veneer count, and the
/// veneer's offset (the branch's target) with the `ret` its `b` reaches.
fn forward(test: BranchTest, pad: u32) -> (u32, u32, (u32, Slot)) {
    let mut b = CodeBuffer::new(0x1000_0000);
    let l = b.new_label();
    b.branch_if(test, l);
    nops(&mut b, pad);
    b.bind(l);
    b.push(Inst::Ret);
    let f = b.finish().unwrap();
    let (to, _) = branch_target(&f, 0);
    let end = if f.sizes.veneers > 0 {
        branch_target(&f, to)
    } else {
        (to, f.slots[(to / 4) as usize])
    };
    (f.sizes.veneers, to, end)
}

#[test]
fn a_forward_tbz_past_32_kib_reaches_its_label_through_a_veneer_island() {
    let ret = |pad: u32, skip: u32| (4 * pad + skip, Slot::Inst(Inst::Ret));
    // In reach: plain.
    let (veneers, _, end) = forward(BIT4, 8_000);
    assert_eq!((veneers, end), (0, ret(8_000, 4)));
    // Out of reach: the tbz goes to a veneer within 32 KiB, whose `b` reaches the ret (the
    // island is a `b` over it and the veneer: two words more).
    let (veneers, to, end) = forward(BIT4, 10_000);
    assert_eq!((veneers, end), (1, ret(10_000, 12)));
    assert!(i64::from(to) <= LabelUse::Test14.max_forward(), "{to:#x}");
    assert!(
        i64::from(to) > LabelUse::Test14.max_forward() - 64,
        "{to:#x}"
    );
}

#[test]
fn a_forward_cbz_past_1_mib_reaches_its_label_through_a_veneer_island() {
    let (veneers, to, end) = forward(ZERO, 300_000);
    assert_eq!(
        (veneers, end),
        (1, (4 * 300_000 + 12, Slot::Inst(Inst::Ret)))
    );
    assert!(i64::from(to) <= LabelUse::Branch19.max_forward(), "{to:#x}");
    // A cbz and a tbz pending together: the tbz's deadline places the island, which takes
    // every pending use, so both veneers sit side by side within the tbz's reach.
    let mut b = CodeBuffer::new(0x1000_0000);
    let l = b.new_label();
    b.branch_if(ZERO, l);
    b.branch_if(BIT4, l);
    nops(&mut b, 300_000);
    b.bind(l);
    b.push(Inst::Ret);
    let f = b.finish().unwrap();
    assert_eq!(f.sizes.veneers, 2);
    let (cbz_veneer, _) = branch_target(&f, 0);
    let (tbz_veneer, _) = branch_target(&f, 4);
    assert_eq!(cbz_veneer + 4, tbz_veneer);
    assert!(i64::from(tbz_veneer) - 4 <= LabelUse::Test14.max_forward());
    for v in [cbz_veneer, tbz_veneer] {
        assert_eq!(branch_target(&f, v).0, 8 + 4 * 300_000 + 12);
    }
}
