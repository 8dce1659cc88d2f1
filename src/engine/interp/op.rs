//! The interpreter's predecoded instruction ([`Op`]) and the pure arithmetic of the AArch64
//! pseudocode it needs (`AddWithCarry`, shifts, `ConditionHolds`, bitfield moves).
//!
//! Registers are slots of one array: 0..=30 are `x0..x30`, [`ZR_SLOT`] reads as zero and drops
//! writes, [`SP_SLOT`] is `sp`. The decoder maps register 31 to one or the other as the
//! instruction defines it, so execution never asks.

/// The zero register's slot.
pub(super) const ZR_SLOT: u8 = 31;
/// The stack pointer's slot.
pub(super) const SP_SLOT: u8 = 32;
/// Number of register slots.
pub(super) const SLOTS: usize = 33;

/// How a memory operand's base is used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Index {
    /// `[xn, #off]`: no writeback.
    Offset,
    /// `[xn, #off]!`: the address is written back before the access.
    Pre,
    /// `[xn], #off`: the access at xn, then xn += off.
    Post,
}

/// A shift applied to a register operand.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Shift {
    Lsl,
    Lsr,
    Asr,
    Ror,
}

/// A logical operation (the operand is inverted first for `bic`, `orn`, `eon`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Logic {
    And,
    Orr,
    Eor,
}

/// One predecoded instruction. Pc-relative operands are already absolute.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Op {
    /// Not decoded yet (the decoded-page cache's initial value).
    Undecoded,
    /// `rd = value`: movz, movn, adr, adrp.
    SetImm { rd: u8, value: u64 },
    /// `rd = (rd & keep) | bits`: movk.
    Movk { rd: u8, bits: u64, keep: u64 },
    /// `rt = [addr]`: ldr (literal).
    LoadLiteral { rt: u8, addr: u64 },
    /// ldr/str (one register) or ldp/stp (two), 64-bit.
    Memory {
        load: bool,
        rt: u8,
        rt2: Option<u8>,
        base: u8,
        offset: i64,
        index: Index,
    },
    /// b.
    Branch { target: u64 },
    /// bl.
    BranchLink { target: u64 },
    /// b.cond.
    BranchCond { cond: u8, target: u64 },
    /// cbz, cbnz.
    CompareBranch { rt: u8, nonzero: bool, target: u64 },
    /// tbz, tbnz.
    TestBranch {
        rt: u8,
        bit: u8,
        nonzero: bool,
        target: u64,
    },
    /// br, blr (`link`), ret.
    BranchReg { rn: u8, link: bool },
    /// add, adds, sub, subs (immediate).
    AddImm {
        rd: u8,
        rn: u8,
        value: u64,
        sub: bool,
        flags: bool,
    },
    /// add, adds, sub, subs (shifted register).
    AddReg {
        rd: u8,
        rn: u8,
        rm: u8,
        shift: Shift,
        amount: u8,
        sub: bool,
        flags: bool,
    },
    /// and, ands, orr, eor, bic, bics, orn, eon (shifted register).
    Logic {
        op: Logic,
        rd: u8,
        rn: u8,
        rm: u8,
        shift: Shift,
        amount: u8,
        invert: bool,
        flags: bool,
    },
    /// madd, msub: `rd = ra ± rn * rm`.
    MulAdd {
        rd: u8,
        rn: u8,
        rm: u8,
        ra: u8,
        sub: bool,
    },
    /// ubfm, sbfm (and their aliases lsl, lsr, asr, ubfx, ...).
    Bitfield {
        rd: u8,
        rn: u8,
        immr: u8,
        imms: u8,
        signed: bool,
    },
    /// extr (and its alias ror).
    Extract { rd: u8, rn: u8, rm: u8, lsb: u8 },
    /// mrs xt, nzcv.
    ReadNzcv { rt: u8 },
    /// msr nzcv, xt.
    WriteNzcv { rt: u8 },
    /// nop.
    Nop,
    /// brk #imm.
    Brk { imm: u16 },
    /// udf (and every all-zero word).
    Udf,
    /// svc #imm: a system call (the immediate does not matter here).
    Svc,
    /// Outside the subset.
    Unsupported { word: u32 },
}

/// `value` shifted as the operand says (`amount` < 64).
pub(super) fn shift(value: u64, shift: Shift, amount: u8) -> u64 {
    let a = u32::from(amount);
    match shift {
        Shift::Lsl => value << a,
        Shift::Lsr => value >> a,
        Shift::Asr => ((value as i64) >> a) as u64,
        Shift::Ror => value.rotate_right(a),
    }
}

/// `AddWithCarry(a, b, carry)`: the sum and its NZCV flags (bits 31..28).
pub(super) fn add_with_carry(a: u64, b: u64, carry: bool) -> (u64, u64) {
    let unsigned = u128::from(a) + u128::from(b) + u128::from(carry);
    let signed = i128::from(a as i64) + i128::from(b as i64) + i128::from(carry);
    let result = unsigned as u64;
    let c = u128::from(result) != unsigned;
    let v = i128::from(result as i64) != signed;
    (result, nz(result) | u64::from(c) << 29 | u64::from(v) << 28)
}

/// The N and Z flags of a result (C and V clear).
pub(super) fn nz(result: u64) -> u64 {
    (result >> 63) << 31 | u64::from(result == 0) << 30
}

/// `ConditionHolds(cond)` for NZCV in bits 31..28.
pub(super) fn condition_holds(cond: u8, nzcv: u64) -> bool {
    let (n, z, c, v) = (
        nzcv >> 31 & 1 == 1,
        nzcv >> 30 & 1 == 1,
        nzcv >> 29 & 1 == 1,
        nzcv >> 28 & 1 == 1,
    );
    let base = match cond >> 1 {
        0 => z,
        1 => c,
        2 => n,
        3 => v,
        4 => c && !z,
        5 => n == v,
        6 => n == v && !z,
        _ => true,
    };
    // The low bit inverts the test, except for 0b1111 (nv), which holds like al.
    if cond & 1 == 1 && cond != 0b1111 {
        !base
    } else {
        base
    }
}

/// A mask of the low `n` bits (`n` <= 64).
fn low_bits(n: u32) -> u64 {
    if n >= 64 {
        u64::MAX
    } else {
        (1u64 << n) - 1
    }
}

/// `UBFM`/`SBFM` on 64-bit registers (`immr`, `imms` < 64): when `imms >= immr` the field
/// `src[imms:immr]` moved to bit 0 (ubfx, lsr, asr), else `src[imms:0]` moved to bit
/// `64 - immr` (ubfiz, lsl); a signed move sign-extends from the field's top bit, and the bits
/// below the field of a moved-up one stay zero.
pub(super) fn bitfield(src: u64, immr: u8, imms: u8, signed: bool) -> u64 {
    let (r, s) = (u32::from(immr), u32::from(imms));
    let (field, width, at) = if s >= r {
        ((src >> r) & low_bits(s - r + 1), s - r + 1, 0)
    } else {
        (src & low_bits(s + 1), s + 1, 64 - r)
    };
    let placed = field << at;
    if signed && width + at < 64 && (field >> (width - 1)) & 1 == 1 {
        placed | !low_bits(width + at)
    } else {
        placed
    }
}

/// `EXTR`: bits `lsb..lsb+64` of the 128-bit `rn:rm`.
pub(super) fn extract(rn: u64, rm: u64, lsb: u8) -> u64 {
    if lsb == 0 {
        rm
    } else {
        (rm >> lsb) | (rn << (64 - u32::from(lsb)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bitfield_aliases() {
        let v = 0x8123_4567_89AB_CDEF;
        assert_eq!(bitfield(v, 61, 60, false), v << 3, "lsl #3");
        assert_eq!(bitfield(v, 3, 63, false), v >> 3, "lsr #3");
        assert_eq!(bitfield(v, 3, 63, true), ((v as i64) >> 3) as u64, "asr #3");
        assert_eq!(bitfield(v, 8, 15, false), (v >> 8) & 0xFF, "ubfx #8, #8");
        assert_eq!(bitfield(v, 0, 7, true), 0xFFFF_FFFF_FFFF_FFEF, "sxtb");
    }

    #[test]
    fn flags_of_edge_sums() {
        // 0 - 1: borrow (C clear), negative.
        assert_eq!(add_with_carry(0, !1, true), (u64::MAX, 0x8000_0000));
        // i64::MAX + 1: signed overflow.
        assert_eq!(
            add_with_carry(i64::MAX as u64, 1, false),
            (1 << 63, 0x9000_0000)
        );
        // x - x: zero and carry.
        assert_eq!(add_with_carry(5, !5, true), (0, 0x6000_0000));
        assert!(condition_holds(2, 0x2000_0000), "hs");
        assert!(!condition_holds(3, 0x2000_0000), "lo");
        assert!(condition_holds(15, 0), "nv holds like al");
    }
}
