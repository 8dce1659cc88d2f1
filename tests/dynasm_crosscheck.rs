//! Cross-check of a64call's encoder against dynasm-rs, an independent assembler: every
//! instruction form the harness emits is assembled both ways over a spread of operands.

#![allow(clippy::useless_conversion)] // dynasm!'s expansion of X(reg)

use a64call::asm::encode::{AluOp, Inst};
use a64call::Named;
use dynasmrt::aarch64::Aarch64Relocation;
use dynasmrt::{dynasm, DynasmApi, DynasmLabelApi, VecAssembler};

fn ours(i: Inst) -> Vec<u8> {
    i.encode().unwrap().to_le_bytes().to_vec()
}

/// `movz`, `movk` and `movn` of `r` at every halfword; the number of forms checked.
fn moves(r: u8) -> usize {
    let mut n = 0;
    for hw in 0..4u8 {
        for imm in [0u16, 1, 0x1234, 0xFFFF] {
            let mut a = VecAssembler::<Aarch64Relocation>::new(0);
            let sh = u32::from(hw) * 16;
            let imm32 = u32::from(imm);
            dynasm!(a ; .arch aarch64 ; movz X(r), imm32, LSL sh ; movk X(r), imm32, LSL sh ; movn X(r), imm32, LSL sh);
            let mut want = ours(Inst::Movz {
                rd: r,
                imm16: imm,
                hw,
            });
            want.extend(ours(Inst::Movk {
                rd: r,
                imm16: imm,
                hw,
            }));
            want.extend(ours(Inst::Movn {
                rd: r,
                imm16: imm,
                hw,
            }));
            assert_eq!(a.finalize().unwrap(), want, "mov* x{r}, {imm:#x}, lsl {sh}");
            n += 3;
        }
    }
    n
}

/// Three-register ALU forms, compare, move and indirect branches of `r` with other registers.
fn alu(r: u8) -> usize {
    let mut n = 0;
    for m in [0u8, 5, 16, 27] {
        let mut a = VecAssembler::<Aarch64Relocation>::new(0);
        dynasm!(a ; .arch aarch64
            ; add X(r), X(m), X(r) ; sub X(r), X(m), X(r) ; and X(r), X(m), X(r)
            ; orr X(r), X(m), X(r) ; eor X(r), X(m), X(r) ; mul X(r), X(m), X(r)
            ; cmp X(m), X(r) ; mov X(r), X(m) ; blr X(m) ; br X(m));
        let mut want = Vec::new();
        for &op in AluOp::all() {
            want.extend(ours(Inst::Alu {
                op,
                rd: r,
                rn: m,
                rm: r,
            }));
        }
        want.extend(ours(Inst::CmpReg { rn: m, rm: r }));
        want.extend(ours(Inst::MovReg { rd: r, rm: m }));
        want.extend(ours(Inst::Blr { rn: m }));
        want.extend(ours(Inst::Br { rn: m }));
        assert_eq!(a.finalize().unwrap(), want, "alu x{r}, x{m}");
        n += 10;
    }
    n
}

/// 12-bit immediate adds, subtracts, loads and stores of `r` (sp as the base where it can be).
fn immediates(r: u8) -> usize {
    let mut n = 0;
    for imm in [0u32, 1, 96, 4095] {
        let mut a = VecAssembler::<Aarch64Relocation>::new(0);
        dynasm!(a ; .arch aarch64 ; add XSP(r), XSP(r), #imm ; subs X(r), XSP(r), #imm ; ldr X(r), [X(28), #imm * 8] ; str X(r), [X(28), #imm * 8]);
        let i = imm as u16;
        let mut want = ours(Inst::AddImm {
            rd: r,
            rn: r,
            imm12: i,
        });
        want.extend(ours(Inst::SubsImm {
            rd: r,
            rn: r,
            imm12: i,
        }));
        want.extend(ours(Inst::LdrImm {
            rt: r,
            rn: 28,
            imm12: i,
        }));
        want.extend(ours(Inst::StrImm {
            rt: r,
            rn: 28,
            imm12: i,
        }));
        assert_eq!(a.finalize().unwrap(), want, "imm12 {imm}");
        n += 4;
    }
    n
}

/// Shifts and rotations of `r`.
fn shifts(r: u8) -> usize {
    let mut n = 0;
    for s in [1u32, 7, 31, 63] {
        let mut a = VecAssembler::<Aarch64Relocation>::new(0);
        dynasm!(a ; .arch aarch64 ; lsl X(r), X(r), s ; lsr X(r), X(r), s ; ror X(r), X(r), s);
        let mut want = ours(Inst::Lsl {
            rd: r,
            rn: r,
            shift: s as u8,
        });
        want.extend(ours(Inst::Lsr {
            rd: r,
            rn: r,
            shift: s as u8,
        }));
        want.extend(ours(Inst::Ror {
            rd: r,
            rn: r,
            shift: s as u8,
        }));
        assert_eq!(a.finalize().unwrap(), want, "shift {s}");
        n += 3;
    }
    n
}

/// pc-relative forms against dynamic labels at known distances.
fn pc_relative() -> usize {
    let mut n = 0;
    for words in [1usize, 2, 100, 4000] {
        let mut a = VecAssembler::<Aarch64Relocation>::new(0);
        let l = a.new_dynamic_label();
        dynasm!(a ; .arch aarch64 ; ldr x16, =>l ; bl =>l ; b =>l ; b.ne =>l);
        for _ in 0..words {
            dynasm!(a ; .arch aarch64 ; nop);
        }
        dynasm!(a ; .arch aarch64 ; =>l ; ret);
        let got = a.finalize().unwrap();
        let d = (4 * words as i32) + 16;
        let mut want = ours(Inst::LdrLit { rt: 16, offset: d });
        want.extend(ours(Inst::Bl { offset: d - 4 }));
        want.extend(ours(Inst::B { offset: d - 8 }));
        want.extend(ours(Inst::BCond {
            cond: a64call::asm::encode::Cond::Ne,
            offset: d - 12,
        }));
        assert_eq!(&got[..16], &want[..], "pc-relative over {words} words");
        n += 4;
    }
    n
}

#[test]
fn encoder_matches_dynasm() {
    let mut n = pc_relative();
    for r in [0u8, 1, 9, 16, 17, 19, 28, 30] {
        n += moves(r) + alu(r) + immediates(r) + shifts(r);
    }
    assert!(n > 400);
}
