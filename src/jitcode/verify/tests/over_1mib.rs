//! The verifier on asmjit's relaxed literal loads in a function over 1 MiB.

use super::*;

/// A fault planted in the hand-made `adrp` + `ldr` literal load of [`adrp_ldr_over_1mib`].
#[derive(Clone, Copy)]
enum AdrpFault {
    None,
    /// The `adrp` points one page too far.
    PageOffByOne,
    /// The `ldr`'s imm12 is the page offset itself, not divided by 8 (the `ldr` scales it).
    Lo12Unscaled,
}

/// A function over 1 MiB whose first far call's literal is beyond `ldr`'s reach and is loaded
/// as asmjit relaxes such a load: `adrp x16, page; ldr x16, [x16, #lo12]`. (The literal-pool
/// patch never ships this form, it falls back to stubs first; asmjit makes it for CinderX's own
/// constant pool, and the verifier must read it right.) Then `bl` near, 1 MiB of `nop`, two
/// `ldr`-literal calls, `ret`, and the 8-byte-aligned pool (ADD, DEALLOC).
fn adrp_ldr_over_1mib(base: u64, fault: AdrpFault) -> Vec<u8> {
    const NOPS: usize = 1 << 18;
    let code_words = 9 + NOPS;
    let pool = 4 * (code_words + code_words % 2) as u64;
    let (lit_add, lit_dealloc) = (base + pool, base + pool + 8);
    let lit = |at: usize, to: u64| Inst::LdrLit {
        rt: X16,
        offset: (to - base - 4 * at as u64) as i32,
    };
    let mut pages = ((lit_add >> 12) - (base >> 12)) as i32;
    let mut imm12 = ((lit_add & 0xfff) / 8) as u16;
    match fault {
        AdrpFault::None => {}
        AdrpFault::PageOffByOne => pages += 1,
        AdrpFault::Lo12Unscaled => imm12 *= 8,
    }
    let mut insts = vec![
        Inst::Adrp { rd: 16, pages },
        Inst::LdrImm {
            rt: 16,
            rn: 16,
            imm12,
        },
        Inst::Blr { rn: X16 },
        Inst::Bl {
            offset: (NEAR - base - 12) as i32,
        },
    ];
    insts.extend(std::iter::repeat_n(Inst::Nop, NOPS));
    let tail = insts.len();
    insts.extend([
        lit(tail, lit_dealloc),
        Inst::Blr { rn: X16 },
        lit(tail + 2, lit_add),
        Inst::Blr { rn: X16 },
        Inst::Ret,
    ]);
    let mut bytes: Vec<u8> = insts
        .iter()
        .flat_map(|i| i.encode().unwrap().to_le_bytes())
        .collect();
    bytes.resize(pool as usize, 0);
    bytes.extend(ADD.to_le_bytes());
    bytes.extend(DEALLOC.to_le_bytes());
    bytes
}

#[test]
fn relaxed_literal_loads_of_a_function_over_1mib_are_checked() {
    const BIG: u64 = JIT + 0x1_0000;
    // Not at JIT (where verify_one places functions): the adrp pages are those of BIG.
    let g = guest(
        "over-1mib",
        &[("m:big", BIG, adrp_ldr_over_1mib(BIG, AdrpFault::None))],
    );
    let r = run(&g.inputs).unwrap();
    assert_eq!(r.violations(), 0, "{}", r.text());
    let f = &r.functions[0];
    assert_eq!(
        f.calls.get("adrp+ldr-literal+blr"),
        Some(&1),
        "{}",
        r.text()
    );
    assert_eq!(f.calls.get("ldr-literal+blr"), Some(&2), "{}", r.text());
    assert_eq!(f.calls.get("bl direct"), Some(&1));
    assert_eq!(f.resolved.get("symbol"), Some(&4), "{:?}", f.sites);
    assert_eq!(f.pool_words, 4, "two 8-byte literals, one read by adrp+ldr");
    let site = f
        .sites
        .iter()
        .find(|s| s.kind == "adrp+ldr-literal+blr")
        .unwrap();
    assert_eq!(site.target, Some(ADD));
    // The adrp one page too far, and lo12 not scaled (8 times the page offset): both read past
    // the function's end.
    for (dir, bug) in [
        ("over-1mib-page", AdrpFault::PageOffByOne),
        ("over-1mib-lo12", AdrpFault::Lo12Unscaled),
    ] {
        let g = guest(dir, &[("m:big", BIG, adrp_ldr_over_1mib(BIG, bug))]);
        let r = run(&g.inputs).unwrap();
        assert!(
            rules(&r).contains(&"literal-outside-function"),
            "{dir}: {}",
            r.text()
        );
    }
    // Unplaced (no perf map): the adrp's page is unknown; reported, never accepted.
    let mut g = guest(
        "over-1mib-unplaced",
        &[("m:big", BIG, adrp_ldr_over_1mib(BIG, AdrpFault::None))],
    );
    g.inputs.perf_map = None;
    let r = run(&g.inputs).unwrap();
    let f = &r.functions[0];
    assert_eq!(
        f.calls.get("adrp+ldr-literal+blr"),
        Some(&1),
        "{}",
        r.text()
    );
    assert!(
        f.violations
            .iter()
            .any(|v| v.rule == "unplaced-target" && v.message.contains("adrp+ldr-literal+blr")),
        "{}",
        r.text()
    );
}
