//! Tests of the parent module.

use super::*;
use crate::emit::strategy::{self, StrategyId};
use crate::emit::{emit, EmitOptions};
use crate::model::gen::from_seed;
use crate::Named;

/// Moves of every halfword position and a range of immediates.
fn moves() -> Vec<Inst> {
    let mut insts = Vec::new();
    for hw in 0..4u8 {
        for imm16 in [0u16, 1, 9, 10, 0x1234, 0xFFFE, 0xFFFF] {
            insts.push(Inst::Movz { rd: 3, imm16, hw });
            insts.push(Inst::Movn { rd: 3, imm16, hw });
            insts.push(Inst::Movk { rd: 3, imm16, hw });
        }
    }
    insts
}

/// Literal loads and branches at the ends of their ranges, every condition, `adrp` pages.
fn branches_and_pages() -> Vec<Inst> {
    use crate::asm::encode::Cond;
    let mut insts = Vec::new();
    for offset in [-(1 << 20), -8, -4, 0, 4, 8, 36, (1 << 20) - 4] {
        insts.push(Inst::LdrLit { rt: 16, offset });
        insts.push(Inst::BCond {
            cond: Cond::Ne,
            offset,
        });
        insts.push(Inst::B { offset });
        insts.push(Inst::Bl { offset });
        for (rt, nonzero) in [(17, false), (0, true), (31, false)] {
            insts.push(Inst::Cbz {
                rt,
                nonzero,
                offset,
            });
        }
    }
    for offset in [-(1 << 15), -4, 0, 8, (1 << 15) - 4] {
        for (rt, bit, nonzero) in [(17, 4, false), (3, 0, true), (31, 9, false), (5, 10, true)] {
            insts.push(Inst::Tbz {
                rt,
                bit,
                nonzero,
                offset,
            });
        }
        for (rt, bit) in [(17, 32), (0, 63), (31, 40)] {
            insts.push(Inst::Tbz {
                rt,
                bit,
                nonzero: bit % 2 == 1,
                offset,
            });
        }
    }
    for c in [
        Cond::Eq,
        Cond::Ne,
        Cond::Hs,
        Cond::Lo,
        Cond::Hi,
        Cond::Ls,
        Cond::Ge,
        Cond::Lt,
        Cond::Gt,
        Cond::Le,
    ] {
        insts.push(Inst::BCond {
            cond: c,
            offset: 64,
        });
    }
    for pages in [-(1 << 20), -1, 0, 1, (1 << 20) - 1] {
        insts.push(Inst::Adrp { rd: 16, pages });
    }
    insts
}

/// 12-bit immediates of adds, subtracts, loads and stores, sp and xzr included.
fn immediates() -> Vec<Inst> {
    let mut insts = Vec::new();
    for imm12 in [0u16, 1, 9, 10, 4095] {
        insts.push(Inst::AddImm {
            rd: 16,
            rn: 16,
            imm12,
        });
        insts.push(Inst::AddImm {
            rd: 31,
            rn: 9,
            imm12,
        });
        insts.push(Inst::AddImm {
            rd: 11,
            rn: 31,
            imm12,
        });
        insts.push(Inst::SubImm {
            rd: 2,
            rn: 2,
            imm12,
        });
        insts.push(Inst::SubsImm {
            rd: 9,
            rn: 9,
            imm12,
        });
        insts.push(Inst::SubsImm {
            rd: 31,
            rn: 2,
            imm12,
        });
        insts.push(Inst::LdrImm {
            rt: 9,
            rn: 31,
            imm12,
        });
        insts.push(Inst::StrImm {
            rt: 31,
            rn: 28,
            imm12,
        });
    }
    insts
}

/// Register pairs at every kind of offset, and the ALU and shift forms.
fn pairs_alu_and_shifts() -> Vec<Inst> {
    use crate::asm::encode::AluOp;
    let mut insts = Vec::new();
    for imm7 in [-64i8, -6, -1, 0, 1, 2, 63] {
        insts.push(Inst::Stp {
            rt: 0,
            rt2: 1,
            rn: 10,
            imm7,
        });
        insts.push(Inst::Ldp {
            rt: 10,
            rt2: 11,
            rn: 9,
            imm7,
        });
        insts.push(Inst::StpPre {
            rt: 29,
            rt2: 30,
            rn: 31,
            imm7,
        });
        insts.push(Inst::LdpPost {
            rt: 29,
            rt2: 30,
            rn: 31,
            imm7,
        });
    }
    for &op in AluOp::all() {
        // xzr as either source: `sub x, xzr, y` is `neg x, y` and `orr x, xzr, y` is `mov x, y`
        // to capstone.
        for (rn, rm) in [(20, 27), (31, 27), (20, 31)] {
            insts.push(Inst::Alu { op, rd: 19, rn, rm });
        }
    }
    for shift in [1u8, 9, 10, 28, 63] {
        insts.push(Inst::Lsl {
            rd: 1,
            rn: 2,
            shift,
        });
        insts.push(Inst::Lsr {
            rd: 1,
            rn: 2,
            shift,
        });
        insts.push(Inst::Ror {
            rd: 1,
            rn: 2,
            shift,
        });
    }
    insts
}

#[test]
fn capstone_prints_what_render_says_for_every_form() {
    use crate::asm::encode::{dc_cvau, ic_ivau, DSB_ISH, ISB, MRS_X1_TPIDR, MSR_TPIDR_X0};
    let pc = 0x1234_5678_9000u64;
    let mut insts = vec![
        Inst::Ret,
        Inst::Nop,
        Inst::Svc,
        DSB_ISH,
        ISB,
        MSR_TPIDR_X0,
        MRS_X1_TPIDR,
        dc_cvau(0),
        ic_ivau(5),
    ];
    insts.extend(moves());
    insts.extend(branches_and_pages());
    insts.extend(immediates());
    insts.extend(pairs_alu_and_shifts());
    insts.extend([
        Inst::CmpReg { rn: 19, rm: 20 },
        Inst::MovReg { rd: 0, rm: 19 },
        Inst::Blr { rn: 16 },
        Inst::Br { rn: 17 },
        Inst::MrsNzcv { rt: 1 },
        Inst::MsrNzcv { rt: 31 },
        Inst::Brk { imm16: 0 },
        Inst::Brk { imm16: 0xF10 },
    ]);
    for i in insts {
        let w = i.encode().unwrap();
        assert_eq!(
            decode_word(w, pc).as_deref(),
            Some(i.render(pc).as_str()),
            "{i:?} ({w:08x})"
        );
    }
}

#[test]
fn the_verified_cache_cannot_hide_a_mismatch() {
    let e = pool_code();
    check(&e).unwrap(); // fills the cache with this code's (word, meaning) pairs
    let k = first_slot(&e, |s| matches!(s, Slot::Inst(Inst::MovReg { .. })));
    let mut lied = e.clone();
    let Slot::Inst(Inst::MovReg { rd, rm }) = lied.code.slots[k] else {
        unreachable!()
    };
    // Same bytes, a different claimed meaning.
    lied.code.slots[k] = Slot::Inst(Inst::MovReg {
        rd: (rd + 1) % 28,
        rm,
    });
    let err = check_encoding(&lied).unwrap_err();
    assert_eq!(err.offset as usize, 4 * k, "{err}");
    // Same meaning, different bytes.
    let mut flipped = e.clone();
    flipped.code.bytes[4 * k] ^= 1;
    assert!(check_encoding(&flipped).is_err());
    // Pc-relative words are kept too (by proof scope): a lie about a literal load is caught where
    // the truth was proved, and at another address, where the truth still passes.
    let j = first_slot(&e, |s| matches!(s, Slot::Inst(Inst::LdrLit { .. })));
    let Slot::Inst(Inst::LdrLit { rt, offset }) = e.code.slots[j] else {
        unreachable!()
    };
    for base in [e.code.base, e.code.base + 0x1_0000] {
        let mut moved = e.clone();
        moved.code.base = base;
        check_encoding(&moved).unwrap();
        let mut lied = moved.clone();
        lied.code.slots[j] = Slot::Inst(Inst::LdrLit {
            rt,
            offset: offset + 8,
        });
        let err = check_encoding(&lied).unwrap_err();
        assert_eq!(err.offset as usize, 4 * j, "{err}");
    }
}

#[test]
fn an_adrp_ldr_load_must_read_a_pool_entry() {
    // No strategy emits asmjit's relaxed literal load (`adrp x16; ldr x16, [x16, #lo12]`)
    // any more (pool+bl falls back to stubs first), but the checker still judges it: one
    // pool+bl site's argument move and `ldr x16, <literal>` rewritten into that form.
    let p = from_seed(3, &crate::model::profile::BuiltIn::Far64.profile());
    let e = emit(&p, StrategyId::PoolOrBl.strategy(), &EmitOptions::default()).unwrap();
    let load = e
        .sites
        .iter()
        .find(|s| s.choice.kind == strategy::SeqKind::PoolLoad && s.start >= 4)
        .unwrap();
    let k = (load.start / 4) as usize;
    let Slot::Inst(Inst::LdrLit { offset, .. }) = e.code.slots[k] else {
        unreachable!()
    };
    let lit = (e.code.base + u64::from(load.start)).wrapping_add(offset as i64 as u64);
    let adrp_pc = e.code.base + u64::from(load.start) - 4;
    // The (pages, imm12) of an `adrp; ldr [x, #imm12 * 8]` from the site that reads `addr`.
    let reading = |addr: u64| {
        let pages = ((addr >> 12) as i64 - (adrp_pc >> 12) as i64) as i32;
        (pages, ((addr & 0xFFF) / 8) as u16)
    };
    let (pages, imm12) = reading(lit);
    let site = CallSite {
        start: load.start - 4,
        ..*load
    };
    let tamper_in = |e: &crate::emit::Emitted, pages: i32, imm12: u16| {
        let mut t = e.clone();
        t.code.slots[k - 1] = Slot::Inst(Inst::Adrp { rd: 16, pages });
        t.code.slots[k] = Slot::Inst(Inst::LdrImm {
            rt: 16,
            rn: 16,
            imm12,
        });
        for j in [k - 1, k] {
            let Slot::Inst(i) = t.code.slots[j] else {
                unreachable!()
            };
            t.code.bytes[4 * j..4 * j + 4].copy_from_slice(&i.encode().unwrap().to_le_bytes());
        }
        check_site(&t, &site)
    };
    let tamper = |pages: i32, imm12: u16| tamper_in(&e, pages, imm12);
    tamper(pages, imm12).unwrap();
    // The same load where the pool is recorded as ending at that entry: it is not an entry.
    let at = (lit - e.code.base) as u32;
    let mut cut = e.clone();
    for r in &mut cut.code.pool {
        if r.contains(&at) {
            r.end = at;
        }
    }
    let m = tamper_in(&cut, pages, imm12).unwrap_err().message;
    assert!(m.contains("not an entry of the literal pool"), "{m}");
    // 8 bytes before the function's first byte (its offset wraps below zero).
    let (p, i) = reading(e.code.base - 8);
    let m = tamper(p, i).unwrap_err().message;
    assert!(m.contains("outside the function"), "{m}");
    // The function's last 8 bytes, a pool entry, are inside it (loading another helper's
    // literal is a wrong target, not an out-of-function load).
    let last = e.code.bytes.len() as u32 - 8;
    assert!(
        e.code.pool.iter().any(|r| r.contains(&last)),
        "pool+bl ends with its pool"
    );
    let (p, i) = reading(e.code.base + u64::from(last));
    if let Err(err) = tamper(p, i) {
        assert!(!err.message.contains("outside the function"), "{err}");
    }
    // An aligned quad whose second word lies past the end of a function 4 bytes longer than a
    // multiple of 8.
    let mut odd = e.clone();
    if odd.code.bytes.len().is_multiple_of(8) {
        odd.code.slots.push(Slot::Data(0));
        odd.code.bytes.extend_from_slice(&[0; 4]);
    }
    let (p, i) = reading(odd.code.base + odd.code.bytes.len() as u64 - 4);
    let m = tamper_in(&odd, p, i).unwrap_err().message;
    assert!(m.contains("outside the function"), "{m}");
    // The 8 bytes before the entry are padding, another entry or code; a page further is
    // past the function's end.
    let m = tamper(pages, imm12.wrapping_sub(1) & 0xFFF)
        .unwrap_err()
        .message;
    assert!(
        m.contains("not an entry") || m.contains("transfers to"),
        "{m}"
    );
    let m = tamper(pages + 1, imm12).unwrap_err().message;
    assert!(m.contains("outside the function"), "{m}");
}

#[test]
fn every_strategy_passes_on_generated_programs() {
    for prof in [
        crate::model::profile::BuiltIn::Default,
        crate::model::profile::BuiltIn::Nested,
        crate::model::profile::BuiltIn::Far64,
        crate::model::profile::BuiltIn::Cinderx,
    ] {
        let p = prof.profile();
        for seed in 0..40 {
            let prog = from_seed(seed, &p);
            for s in strategy::all() {
                let e = emit(&prog, s, &EmitOptions::default()).unwrap();
                if let Err(err) = check(&e) {
                    panic!(
                        "{prof} seed {seed} {}: {err}\n{}",
                        s.name(),
                        disassemble(&e, err.offset.saturating_sub(16)..err.offset + 16)
                    );
                }
            }
        }
    }
}

/// The evaluation of `movn`: no valid layout makes a strategy emit it for a call target (a
/// target below 2^46 never has two 0xFFFF halfwords that `movn` would save), so the movz-fixed4
/// sequence of a far call is rewritten here with `movn` building its low halfword, which must
/// still reach the helper; with the halfword off by one, it must not.
#[test]
fn movn_in_a_call_sequence_is_evaluated() {
    let (e, site, at) = fixed4_call();
    let Slot::Inst(Inst::Movz { rd, imm16, hw: 0 }) = e.code.slots[at] else {
        panic!(
            "movz-fixed4 starts with movz of halfword 0: {:?}",
            e.code.slots[at]
        );
    };
    let with = |low: u16| {
        let mut m = e.clone();
        m.code.slots[at] = Slot::Inst(Inst::Movn {
            rd,
            imm16: !low,
            hw: 0,
        });
        m
    };
    check_site(&with(imm16), &site).expect("movn + movk build the target");
    let err = check_site(&with(imm16 ^ 4), &site).unwrap_err();
    assert!(err.message.contains("h0"), "{err}");
}

/// A failed check names where it is, in the function's bytes, before what is wrong.
#[test]
fn a_check_error_names_its_offset() {
    let e = CheckError {
        offset: 0x1c,
        message: "capstone decodes `nop`".into(),
    };
    assert_eq!(e.to_string(), "at offset 0x1c: capstone decodes `nop`");
}

/// A data slot (a pool word here) must lie in a recorded data range and the bytes there must
/// be its word: either alone is an error at that word.
#[test]
fn a_data_slot_is_recorded_data_holding_its_word() {
    let e = pool_code();
    check_encoding(&e).unwrap();
    let k = first_slot(&e, |s| matches!(s, Slot::Data(_)));
    let at = (4 * k) as u32;
    let mut unrecorded = e.clone();
    unrecorded.code.data.retain(|r| !r.contains(&at));
    let mut rewritten = e.clone();
    rewritten.code.bytes[4 * k] ^= 1;
    for broken in [unrecorded, rewritten] {
        let err = check_encoding(&broken).unwrap_err();
        assert_eq!(err.offset, at, "{err}");
        assert_eq!(err.message, "data slot not recorded as data");
    }
}

/// Default-profile seed 3 under the literal-pool strategy (calls through pool words).
fn pool_code() -> crate::emit::Emitted {
    let p = from_seed(3, &crate::model::profile::BuiltIn::Default.profile());
    emit(
        &p,
        StrategyId::LiteralPool.strategy(),
        &EmitOptions::default(),
    )
    .unwrap()
}

/// No branch of any kind (`b`, `b.cond`, `bl`) may land in data inside the function.
#[test]
fn a_branch_into_a_pool_word_is_an_error() {
    let e = pool_code();
    check_layout(&e).unwrap();
    let data = e.code.data[0].start;
    let k = first_slot(&e, |s| matches!(s, Slot::Inst(Inst::MovReg { .. })));
    let offset = data as i32 - 4 * k as i32;
    for inst in [
        Inst::B { offset },
        Inst::Bl { offset },
        Inst::BCond {
            cond: crate::asm::encode::Cond::Eq,
            offset,
        },
    ] {
        let mut lied = e.clone();
        lied.code.slots[k] = Slot::Inst(inst);
        let err = check_layout(&lied).unwrap_err();
        assert_eq!(err.offset as usize, 4 * k, "{inst:?}: {err}");
        assert!(err.message.contains("branch lands in data"), "{err}");
    }
}

/// A call sequence whose evaluation reaches a data word inside the code is an error, as one
/// that runs off the end.
#[test]
fn a_call_sequence_reaching_data_is_an_error() {
    let e = pool_code();
    let site = e.sites[0];
    check_site(&e, &site).unwrap();
    let mut lied = e.clone();
    lied.code.data.push(site.start + 4..site.start + 8);
    let err = check_site(&lied, &site).unwrap_err();
    assert!(
        err.message
            .contains("control reaches data or leaves the code"),
        "{err}"
    );
}

/// `movn` of a halfword above the lowest (the rest are ones) then `movk` of the lowest builds
/// the same target: the evaluation shifts `movn`'s halfword into place before inverting.
#[test]
fn movn_of_a_high_halfword_is_evaluated() {
    let (e, site, at) = fixed4_call();
    let (
        Slot::Inst(Inst::Movz {
            rd,
            imm16: h0,
            hw: 0,
        }),
        Slot::Inst(Inst::Movk {
            imm16: h1, hw: 1, ..
        }),
    ) = (e.code.slots[at], e.code.slots[at + 1])
    else {
        panic!(
            "movz-fixed4 starts movz hw0, movk hw1: {:?}",
            &e.code.slots[at..at + 2]
        );
    };
    assert_ne!(h1, 0, "a halfword a wrong shift would lose");
    let mut m = e.clone();
    m.code.slots[at] = Slot::Inst(Inst::Movn {
        rd,
        imm16: !h1,
        hw: 1,
    });
    m.code.slots[at + 1] = Slot::Inst(Inst::Movk {
        rd,
        imm16: h0,
        hw: 0,
    });
    check_site(&m, &site).expect("movn hw1 + movk hw0, hw2, hw3 build the target");
}

/// One call to a helper at 0x3ffe12340000 under movz-fixed4: the code, its call site and the
/// slot index of the sequence's first instruction.
fn fixed4_call() -> (crate::emit::Emitted, crate::emit::CallSite, usize) {
    let text = "a64call-program 1\ncode 0x2000000000\nhelper h0 0x3ffe12340000 args 0\nbody\n  v1 = call h0()\nret v1\n";
    let p = crate::model::text::parse(text).unwrap();
    let e = emit(&p, &strategy::MovzFixed4, &EmitOptions::default()).unwrap();
    let site = e.sites[0];
    let at = (site.start / 4) as usize;
    (e, site, at)
}

/// The index of the first slot of `e` that `is` picks (there must be one).
fn first_slot(e: &crate::emit::Emitted, is: impl Fn(&Slot) -> bool) -> usize {
    e.code
        .slots
        .iter()
        .position(is)
        .expect("a slot of that kind")
}

/// `pool_code()`, its first pool-load call site and the index of that site's literal load.
fn pool_load() -> (crate::emit::Emitted, crate::emit::CallSite, usize) {
    let e = pool_code();
    let site = *e
        .sites
        .iter()
        .find(|s| s.choice.kind == strategy::SeqKind::PoolLoad)
        .expect("a pool load");
    let k = (site.start / 4) as usize;
    (e, site, k)
}

/// A literal load must read inside the function: one that reads before its first byte is
/// outside it (not merely "not data"), and one that reads the aligned code at offset 0 is inside
/// it but not pool or stub data.
#[test]
fn a_literal_before_the_function_is_outside_it() {
    let (e, site, k) = pool_load();
    check_site(&e, &site).unwrap();
    let Slot::Inst(Inst::LdrLit { rt, .. }) = e.code.slots[k] else {
        unreachable!("a pool load starts with its literal load")
    };
    let message = |lit: i32| {
        let mut lied = e.clone();
        let load = Inst::LdrLit {
            rt,
            offset: lit - site.start as i32,
        };
        lied.code.slots[k] = Slot::Inst(load);
        lied.code.bytes[4 * k..4 * k + 4].copy_from_slice(&load.encode().unwrap().to_le_bytes());
        check_site(&lied, &site).unwrap_err().message
    };
    let m = message(-8);
    assert!(
        m.contains("literal at offset 0xfffffffffffffff8 is outside the function"),
        "{m}"
    );
    let m = message(0);
    assert!(
        m.contains("literal at offset 0x0 is not pool or stub data"),
        "{m}"
    );
    let end = (e.code.bytes.len() as i32 + 7) & !7;
    let m = message(end);
    assert!(
        m.contains(&format!(
            "literal at offset {end:#x} is outside the function"
        )),
        "{m}"
    );
}

/// Both words of a literal must be data: a literal whose second word is not is an error.
#[test]
fn a_literal_half_outside_data_is_an_error() {
    let (e, site, k) = pool_load();
    let Slot::Inst(Inst::LdrLit { offset, .. }) = e.code.slots[k] else {
        unreachable!("a pool load starts with its literal load")
    };
    let lit = (site.start as i32 + offset) as u32;
    let mut lied = e.clone();
    lied.code.data = e
        .code
        .data
        .iter()
        .flat_map(|r| [r.start..r.end.min(lit + 4), r.start.max(lit + 8)..r.end])
        .filter(|r| !r.is_empty())
        .collect();
    assert!(lied.code.is_data(lit) && !lied.code.is_data(lit + 4));
    let m = check_site(&lied, &site).unwrap_err().message;
    assert!(m.contains("is not pool or stub data"), "{m}");
}

/// The link register must hold the end of the sequence: a site recorded as ending one
/// instruction later than its `blr` returns is an error.
#[test]
fn a_return_address_short_of_the_sequence_end_is_an_error() {
    let (e, site, _) = pool_load();
    check_site(&e, &site).unwrap();
    let longer = crate::emit::CallSite {
        ret: site.ret + 4,
        ..site
    };
    let m = check_site(&e, &longer).unwrap_err().message;
    assert!(m.contains("not to the end of the sequence"), "{m}");
}

/// decode_word's text cache holds only words that print the same at every pc: a branch decoded
/// at two pcs names two targets.
#[test]
fn a_pc_relative_word_is_decoded_at_its_own_pc() {
    let b8 = Inst::B { offset: 8 }.encode().unwrap();
    assert_eq!(decode_word(b8, 0x1000).as_deref(), Some("b #0x1008"));
    assert_eq!(decode_word(b8, 0x2000).as_deref(), Some("b #0x2008"));
}
