//! Tests of the parent module.

use super::*;

fn enc(i: Inst) -> u32 {
    i.encode().unwrap()
}

#[test]
fn known_encodings() {
    // Reference words from the Arm ARM encodings, spot-checked against GNU as.
    assert_eq!(enc(Inst::Ret), 0xD65F03C0);
    assert_eq!(enc(Inst::Blr { rn: 16 }), 0xD63F0200);
    assert_eq!(enc(Inst::Br { rn: 16 }), 0xD61F0200);
    assert_eq!(enc(Inst::LdrLit { rt: 16, offset: 8 }), 0x58000050);
    assert_eq!(
        enc(Inst::StpPre {
            rt: 29,
            rt2: 30,
            rn: SP,
            imm7: -2
        }),
        0xA9BF7BFD
    );
    assert_eq!(
        enc(Inst::LdpPost {
            rt: 29,
            rt2: 30,
            rn: SP,
            imm7: 2
        }),
        0xA8C17BFD
    );
    assert_eq!(
        enc(Inst::Movz {
            rd: 16,
            imm16: 0x1234,
            hw: 1
        }),
        0xD2A24690
    );
    assert_eq!(
        enc(Inst::Movk {
            rd: 16,
            imm16: 0xBEEF,
            hw: 3
        }),
        0xF2F7DDF0
    );
    assert_eq!(enc(Inst::Bl { offset: -4 }), 0x97FFFFFF);
    assert_eq!(enc(Inst::B { offset: 8 }), 0x14000002);
    assert_eq!(enc(Inst::MovReg { rd: 0, rm: 19 }), 0xAA1303E0);
    assert_eq!(enc(Inst::Nop), 0xD503201F);
}

#[test]
fn ranges_are_enforced() {
    assert!(Inst::LdrLit {
        rt: 16,
        offset: (1 << 20) - 4
    }
    .encode()
    .is_ok());
    assert!(Inst::LdrLit {
        rt: 16,
        offset: 1 << 20
    }
    .encode()
    .is_err());
    assert!(Inst::LdrLit {
        rt: 16,
        offset: -(1 << 20)
    }
    .encode()
    .is_ok());
    assert!(Inst::LdrLit { rt: 16, offset: 2 }.encode().is_err());
    assert!(Inst::Bl {
        offset: (1 << 27) - 4
    }
    .encode()
    .is_ok());
    assert!(Inst::Bl { offset: 1 << 27 }.encode().is_err());
    assert!(Inst::Adrp {
        rd: 16,
        pages: 1 << 20
    }
    .encode()
    .is_err());
    assert!(Inst::Movk {
        rd: 16,
        imm16: 1,
        hw: 4
    }
    .encode()
    .is_err());
}

/// A register number of 32 or more is an error, not masked into another register.
#[test]
fn register_numbers_over_31_are_errors() {
    for rd in [32u8, 33, 48, 255] {
        for i in [
            Inst::Movz {
                rd,
                imm16: 1,
                hw: 0,
            },
            Inst::Movk {
                rd,
                imm16: 1,
                hw: 0,
            },
            Inst::Adrp { rd, pages: 1 },
            Inst::MovReg { rd: 0, rm: rd },
            Inst::Blr { rn: rd },
        ] {
            let e = i.encode().unwrap_err();
            assert!(e.0.contains("out of range"), "{i:?}: {}", e.0);
        }
    }
}

/// Register pairs LLVM rejects as CONSTRAINED UNPREDICTABLE are errors; the frame's own pairs
/// (sp as the write-back base) are not.
#[test]
fn unpredictable_register_pairs_are_errors() {
    let ldp = |rt, rt2, rn| Inst::Ldp {
        rt,
        rt2,
        rn,
        imm7: 0,
    };
    let ldp_post = |rt, rt2, rn| Inst::LdpPost {
        rt,
        rt2,
        rn,
        imm7: 2,
    };
    let stp_pre = |rt, rt2, rn| Inst::StpPre {
        rt,
        rt2,
        rn,
        imm7: -2,
    };
    let stp = |rt, rt2, rn| Inst::Stp {
        rt,
        rt2,
        rn,
        imm7: 0,
    };
    for bad in [
        ldp(3, 3, 1),
        ldp_post(3, 3, 31),
        ldp_post(1, 2, 1),
        stp_pre(1, 2, 2),
    ] {
        assert!(bad.encode().is_err(), "{bad:?}");
    }
    for good in [
        ldp(3, 4, 3),
        stp(3, 3, 1),
        stp(1, 2, 1),
        ldp_post(29, 30, 31),
        stp_pre(29, 30, 31),
    ] {
        assert!(good.encode().is_ok(), "{good:?}");
    }
}

/// Evaluate a mov-immediate sequence the way the hardware would.
fn eval(seq: &[Inst]) -> u64 {
    let mut v = 0u64;
    for i in seq {
        match *i {
            Inst::Movz { imm16, hw, .. } => v = u64::from(imm16) << (16 * hw),
            Inst::Movn { imm16, hw, .. } => v = !(u64::from(imm16) << (16 * hw)),
            Inst::Movk { imm16, hw, .. } => {
                let sh = 16 * u32::from(hw);
                v = (v & !(0xFFFFu64 << sh)) | (u64::from(imm16) << sh)
            }
            _ => panic!("not a mov"),
        }
    }
    v
}

#[test]
fn minimal_mov_is_correct_and_short() {
    let cases = [
        (0u64, 1usize),
        (0x1234, 1),
        (0x1234_0000, 1),
        (0xFFFF_FFFF_FFFF_FFFF, 1),
        (0xFFFF_FFFF_FFFF_1234, 1),
        (0x0000_7F12_3456_7890, 3),
        (0x1234_5678_9ABC_DEF0, 4),
        (0xFFFF_0000_FFFF_0000, 2),
    ];
    for (v, n) in cases {
        let seq = mov_imm_minimal(16, v);
        assert_eq!(eval(&seq), v, "{v:#x}");
        assert_eq!(seq.len(), n, "{v:#x}: {seq:?}");
        assert_eq!(eval(&mov_imm_fixed4(16, v)), v);
    }
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    for _ in 0..10_000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let v = x & [u64::MAX, 0xFFFF_0000_FFFF, 0xFFFF_FFFF_0000_FFFF][(x % 3) as usize];
        assert_eq!(eval(&mov_imm_minimal(3, v)), v);
    }
}

/// `cbz`/`tbz` fields out of range are errors naming the reach; the edges of each reach encode.
#[test]
fn compare_and_test_branches_check_their_reach_and_bit() {
    let cbz = |offset| Inst::Cbz {
        rt: 3,
        nonzero: false,
        offset,
    };
    let tbz = |bit, offset| Inst::Tbz {
        rt: 3,
        bit,
        nonzero: true,
        offset,
    };
    for ok in [
        cbz(-(1 << 20)),
        cbz((1 << 20) - 4),
        tbz(63, -(1 << 15)),
        tbz(0, (1 << 15) - 4),
    ] {
        assert!(ok.encode().is_ok(), "{ok:?}");
    }
    for (bad, why) in [
        (cbz(1 << 20), "±1 MiB"),
        (cbz(-(1 << 20) - 4), "±1 MiB"),
        (cbz(2), "±1 MiB"),
        (tbz(4, 1 << 15), "±32 KiB"),
        (tbz(4, -(1 << 15) - 4), "±32 KiB"),
        (tbz(64, 8), "test bit 64"),
        (
            Inst::Cbz {
                rt: 32,
                nonzero: true,
                offset: 8,
            },
            "register 32",
        ),
    ] {
        let e = bad.encode().unwrap_err();
        assert!(e.0.contains(why), "{bad:?}: {}", e.0);
    }
    // Hand-written words (Arm ARM: CBNZ x5 +8; TBZ w17 bit 4 -8; TBNZ x0 bit 63 +4).
    let word = |i: Inst| i.encode().unwrap();
    assert_eq!(
        word(Inst::Cbz {
            rt: 5,
            nonzero: true,
            offset: 8
        }),
        0xB500_0045
    );
    assert_eq!(
        word(Inst::Tbz {
            rt: 17,
            bit: 4,
            nonzero: false,
            offset: -8
        }),
        0x3627_FFD1
    );
    assert_eq!(
        word(Inst::Tbz {
            rt: 0,
            bit: 63,
            nonzero: true,
            offset: 4
        }),
        0xB7F8_0020
    );
}
