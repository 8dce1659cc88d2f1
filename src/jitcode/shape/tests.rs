//! Tests of the parent module.

use super::*;

/// The first token index where two shapes differ (`None` when equal).
fn first_difference(a: &[Token], b: &[Token]) -> Option<usize> {
    (0..a.len().max(b.len())).find(|&k| a.get(k).map(|t| &t.text) != b.get(k).map(|t| &t.text))
}

fn bytes(w: &[u32]) -> Vec<u8> {
    w.iter().flat_map(|x| x.to_le_bytes()).collect()
}
fn texts(w: &[u32]) -> Vec<String> {
    shape(&bytes(w), &[0]).into_iter().map(|t| t.text).collect()
}
fn eq(a: &[u32], b: &[u32]) -> bool {
    first_difference(&shape(&bytes(a), &[0]), &shape(&bytes(b), &[0])).is_none()
}
// Encodings (checked against capstone by the tests themselves through the texts).
const RET: u32 = 0xD65F_03C0;
const NOP: u32 = 0xD503_201F;
const BLR_X16: u32 = 0xD63F_0200;
fn movz(rd: u32, imm: u32, hw: u32) -> u32 {
    0xD280_0000 | (hw << 21) | (imm << 5) | rd
}
fn movk(rd: u32, imm: u32, hw: u32) -> u32 {
    0xF280_0000 | (hw << 21) | (imm << 5) | rd
}
fn b_cond(off_words: i32, cond: u32) -> u32 {
    0x5400_0000 | (((off_words as u32) & 0x7FFFF) << 5) | cond
}
fn bl(off_words: i32) -> u32 {
    0x9400_0000 | ((off_words as u32) & 0x03FF_FFFF)
}
fn ldr_lit(rt: u32, off_words: i32) -> u32 {
    0x5800_0000 | (((off_words as u32) & 0x7FFFF) << 5) | rt
}
fn cmp_x0_1() -> u32 {
    0xF100_041F // cmp x0, #1
}

/// A movz/movk run is one `const` token and its value is recovered.
#[test]
fn movz_movk_run_is_one_const_with_its_value() {
    let w = [
        movz(16, 0x1234, 0),
        movk(16, 0xabcd, 1),
        movk(16, 0xffff, 2),
        BLR_X16,
        RET,
    ];
    let s = shape(&bytes(&w), &[0]);
    let t: Vec<&str> = s.iter().map(|t| t.text.as_str()).collect();
    assert_eq!(t, ["const x16", "blr x16", "ret"]);
    assert_eq!(s[0].value, Some(0xffff_abcd_1234));
}

/// Two streams differing only in a movz/movk constant are equal, even when the other
/// value needs another number of instructions or comes from the pool.
#[test]
fn streams_differing_only_in_a_constant_are_equal() {
    let a = [movz(0, 0x80f0, 0), movk(0, 0xf6, 1), BLR_X16, RET];
    let b = [movz(0, 0x80f0, 0), movk(0, 0xff, 1), BLR_X16, RET];
    assert!(eq(&a, &b));
    let c = [
        movz(0, 0x80f0, 0),
        movk(0, 0xff, 1),
        movk(0, 0xffff, 2),
        BLR_X16,
        RET,
    ];
    assert!(eq(&a, &c));
    // pool: ldr x0, <literal 4 words on> (after ret and a padding word)
    let d = [ldr_lit(0, 3), BLR_X16, RET, 0x1234_5678, 0x0000_ffff];
    assert!(eq(&a, &d), "{:?} vs {:?}", texts(&a), texts(&d));
    assert_eq!(shape(&bytes(&d), &[0])[0].value, Some(0xffff_1234_5678));
    // but not into another register
    let e = [movz(1, 0x80f0, 0), movk(1, 0xf6, 1), BLR_X16, RET];
    assert!(!eq(&a, &e));
}

/// In-function branch targets become token indices: a constant that takes one more word
/// shifts the byte offset of the target but not its index.
#[test]
fn branch_targets_are_token_indices() {
    let a = [cmp_x0_1(), b_cond(3, 0), movz(0, 1, 0), RET, RET];
    let b = [
        cmp_x0_1(),
        b_cond(4, 0),
        movz(0, 1, 0),
        movk(0, 1, 1),
        RET,
        RET,
    ];
    assert_eq!(
        texts(&a),
        ["cmp x0, #1", "b.eq @4", "const x0", "ret", "ret"]
    );
    assert!(eq(&a, &b), "{:?} vs {:?}", texts(&a), texts(&b));
}

/// A real difference is never hidden: another condition, a missing call, a call to another
/// place in the function, another instruction.
#[test]
fn real_differences_are_not_hidden() {
    let base = [cmp_x0_1(), b_cond(3, 0), bl(2), RET, RET];
    let ne = [cmp_x0_1(), b_cond(3, 1), bl(2), RET, RET];
    assert!(!eq(&base, &ne), "b.eq vs b.ne");
    let no_call = [cmp_x0_1(), b_cond(3, 0), NOP, RET, RET];
    assert!(!eq(&base, &no_call), "missing call");
    let other_target = [cmp_x0_1(), b_cond(3, 0), bl(1), RET, RET];
    assert!(!eq(&base, &other_target), "call to another token");
    let far = [cmp_x0_1(), b_cond(3, 0), bl(0x10_0000), RET, RET];
    assert!(!eq(&base, &far), "local call vs far call");
    assert_eq!(texts(&far)[2], "bl far");
    let d = first_difference(&shape(&bytes(&base), &[0]), &shape(&bytes(&ne), &[0]));
    assert_eq!(d, Some(1));
}

/// Data words are dropped; a branch target is never merged into a constant run.
#[test]
fn data_dropped_and_join_points_split_runs() {
    let w = [ldr_lit(0, 4), RET, 0, 0, 0x1234_5678, 0xdead_beef];
    assert_eq!(texts(&w), ["const x0", "ret"]);
    // b.eq to the movk: the movk starts its own token
    let j = [cmp_x0_1(), b_cond(2, 0), movz(0, 1, 0), movk(0, 2, 1), RET];
    assert_eq!(
        texts(&j),
        ["cmp x0, #1", "b.eq @3", "const x0", "movk x0", "ret"]
    );
}

/// adr + nop and adrp + add to an address outside the function are the same `const`.
#[test]
fn adr_nop_and_adrp_add_are_the_same_const() {
    let adr_far = 0x1000_0000 | (0x40_000 << 5) | 24; // adr x24, #+1 MiB-ish (outside)
    let adrp = 0x9000_0000 | (0x123 << 5) | 24; // adrp x24, page +0x123
    let add = 0x9100_0000 | (0x30 << 10) | (24 << 5) | 24; // add x24, x24, #0x30
    let a = [adr_far, NOP, RET];
    let b = [adrp, add, RET];
    assert_eq!(texts(&a), ["const x24", "ret"]);
    assert!(eq(&a, &b), "{:?} vs {:?}", texts(&a), texts(&b));
    // asmjit leaves out the add when the low 12 bits are zero
    assert!(eq(&a, &[adrp, RET]));
    // adrp + ldr [R, #off]: the offset is the low 12 bits of the address
    let ldr = |imm12: u32| 0xF940_0000 | (imm12 << 10) | (24 << 5) | 16; // ldr x16, [x24, #8*imm12]
    assert_eq!(
        texts(&[adrp, ldr(3), RET]),
        ["const x24", "ldr x16, [x24, #lo12]", "ret"]
    );
    assert!(eq(&[adrp, ldr(3), RET], &[adrp, ldr(0), RET]));
    assert!(
        !eq(&[adrp, ldr(3), RET], &[adrp, ldr(3) + 1, RET]),
        "another destination"
    );
}

/// asmjit's 32-bit value in an x register: `mov xR` + `movk wR` is one constant.
#[test]
fn mov_x_movk_w_is_one_const() {
    let movk_w = |rd: u32, imm: u32, hw: u32| 0x7280_0000 | (hw << 21) | (imm << 5) | rd;
    let a = [movz(30, 0x7000, 0), movk_w(30, 413, 1), RET];
    let s = shape(&bytes(&a), &[0]);
    assert_eq!(
        s.iter().map(|t| t.text.as_str()).collect::<Vec<_>>(),
        ["const x30", "ret"]
    );
    assert_eq!(s[0].value, Some((413 << 16) | 0x7000));
    assert!(eq(&a, &[movz(30, 0x19c, 1), RET]));
}

/// Each constant token carries its value, for the renaming check of fidelity_compare.py.
#[test]
fn constant_tokens_carry_their_values() {
    let s = shape(
        &bytes(&[movz(0, 5, 0), movz(1, 5, 0), movz(2, 6, 0), RET]),
        &[0],
    );
    let values: Vec<Option<u64>> = s.iter().map(|t| t.value).collect();
    assert_eq!(values, [Some(5), Some(5), Some(6), None]);
}

// The real case (fidelity, tokenize:_all_string_prefixes): a guard on a heap object.
const CMP_X27_X0: u32 = 0xEB00_037F; // cmp x27, x0
const CMP_X27_DE5_LSL12: u32 = 0xF177_977F; // cmp x27, #0xde5, lsl #12
fn cmp_x27_imm(imm12: u32, shift12: bool) -> u32 {
    0xF100_037F | (u32::from(shift12) << 22) | (imm12 << 10)
}

/// S4: an address built in a register for a compare and the same compare with the address as
/// a shifted immediate are one token with the value; the register form stays when the next
/// instruction is a branch target or uses the register otherwise.
#[test]
fn constant_folded_into_a_compare_is_the_same_token() {
    let built = [
        movz(0, 0x5620, 0),
        movk(0, 0xde, 1),
        CMP_X27_X0,
        b_cond(2, 1),
        RET,
        RET,
    ];
    let folded = [CMP_X27_DE5_LSL12, b_cond(2, 1), RET, RET];
    assert_eq!(texts(&built)[..2], ["cmp x27, #const", "b.ne @3"]);
    assert!(
        eq(&built, &folded),
        "{:?} vs {:?}",
        texts(&built),
        texts(&folded)
    );
    let (a, b) = (shape(&bytes(&built), &[0]), shape(&bytes(&folded), &[0]));
    assert_eq!((a[0].value, b[0].value), (Some(0xde_5620), Some(0xde_5000)));
    // a pool literal built the same way folds too
    let pooled = [
        ldr_lit(0, 6),
        CMP_X27_X0,
        b_cond(2, 1),
        RET,
        RET,
        NOP,
        0x5620,
        0xde,
    ];
    assert!(eq(&pooled, &folded), "{:?}", texts(&pooled));
    // the compare is a branch target: not one straight line, not folded
    let joined = [movz(0, 0x5620, 0), b_cond(1, 1), CMP_X27_X0, RET];
    assert_eq!(texts(&joined)[2], "cmp x27, x0");
}

/// S4 hides nothing else: another compared register, an unshifted immediate, a frame size,
/// another operation, and a register built for something other than the compare all differ.
#[test]
fn folding_keeps_real_differences() {
    let folded = [CMP_X27_DE5_LSL12, RET];
    let cmp_x26 = [0xF177_975F, RET]; // cmp x26, #0xde5, lsl #12
    assert!(!eq(&folded, &cmp_x26), "another compared register");
    assert_eq!(
        texts(&[cmp_x27_imm(0x120, false), RET])[0],
        "cmp x27, #0x120"
    );
    assert!(!eq(
        &[cmp_x27_imm(0x120, false), RET],
        &[cmp_x27_imm(0x128, false), RET]
    ));
    assert!(!eq(
        &[cmp_x27_imm(1, true), RET],
        &[cmp_x27_imm(1, false), RET]
    ));
    let sub_sp = |imm12: u32| 0xD140_03FF | (imm12 << 10); // sub sp, sp, #imm12, lsl #12
    assert_eq!(texts(&[sub_sp(1), RET])[0], "sub sp, sp, #1, lsl #12");
    assert!(
        !eq(&[sub_sp(1), RET], &[sub_sp(2), RET]),
        "frame sizes stay literal"
    );
    let cmn = [0xB177_977F, RET]; // cmn x27, #0xde5, lsl #12
    assert!(!eq(&folded, &cmn), "cmn vs cmp");
    let cmp_x0_x27 = 0xEB1B_001F; // cmp x0, x27: x0 is the compared register, not the constant
    let used = [movz(0, 0x5620, 0), movk(0, 0xde, 1), cmp_x0_x27, RET];
    assert_eq!(texts(&used)[..2], ["const x0", "cmp x0, x27"]);
}
