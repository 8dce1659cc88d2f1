//! Pc-relative words: which encoding classes disassemble differently at different pcs, the
//! address such a word names at a pc (decoded from the raw bits, never from what the emitter
//! meant), and the part of the pc a proof of the word's meaning depends on ([`proof_scope`]).

/// Is `word` in one of the A64 encoding classes whose disassembly depends on the pc
/// (B/BL, B.cond, CBZ/CBNZ, TBZ/TBNZ, LDR literal, ADR/ADRP)? Classified from the raw bits,
/// independent of what the emitter meant.
pub fn is_pc_relative(word: u32) -> bool {
    named_address(word, 0).is_some()
}

/// `v`'s low `bits` bits as a signed number.
fn signed(v: u32, bits: u32) -> i64 {
    (i64::from(v) << (64 - bits)) >> (64 - bits)
}

/// A pc-relative word's class and offset, decoded from the raw bits: the one decoder of
/// pc-relative immediates, shared by the static check and [`crate::jitcode::verify`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PcRel {
    /// `b` (`link` false) or `bl`: the target's byte offset from the word.
    Branch {
        /// Branch-and-link.
        link: bool,
        /// Byte offset.
        offset: i64,
    },
    /// `b.cond` (`cond` 14 and 15 branch always): the target's byte offset.
    BranchCond {
        /// The condition field.
        cond: u8,
        /// Byte offset.
        offset: i64,
    },
    /// `cbz`/`cbnz`/`tbz`/`tbnz`: the target's byte offset.
    TestBranch {
        /// Byte offset.
        offset: i64,
    },
    /// A literal load (`ldr`, `ldrsw`, `prfm`, SIMD/FP `ldr`): the literal's byte offset.
    Literal {
        /// Byte offset.
        offset: i64,
    },
    /// `adr`: the byte offset it computes.
    Adr {
        /// Byte offset.
        offset: i64,
    },
    /// `adrp`: the pages from the word's own page.
    Adrp {
        /// Pages.
        pages: i64,
    },
}

/// The pc-relative class and offset of `word`, or `None` for a word that is not pc-relative.
pub fn pc_relative(word: u32) -> Option<PcRel> {
    let imm19 = || signed((word >> 5) & 0x7_FFFF, 19) * 4;
    Some(if (word & 0x7C00_0000) == 0x1400_0000 {
        PcRel::Branch {
            link: word >> 31 == 1,
            offset: signed(word & 0x03FF_FFFF, 26) * 4,
        }
    } else if (word & 0xFF00_0010) == 0x5400_0000 {
        PcRel::BranchCond {
            cond: (word & 0xF) as u8,
            offset: imm19(),
        }
    } else if (word & 0x7E00_0000) == 0x3400_0000 {
        PcRel::TestBranch { offset: imm19() }
    } else if (word & 0x7E00_0000) == 0x3600_0000 {
        PcRel::TestBranch {
            offset: signed((word >> 5) & 0x3FFF, 14) * 4,
        }
    } else if (word & 0x3B00_0000) == 0x1800_0000 {
        PcRel::Literal { offset: imm19() }
    } else if (word & 0x1F00_0000) == 0x1000_0000 {
        let imm = signed((((word >> 5) & 0x7_FFFF) << 2) | ((word >> 29) & 3), 21);
        if word >> 31 == 1 {
            PcRel::Adrp { pages: imm }
        } else {
            PcRel::Adr { offset: imm }
        }
    } else {
        return None;
    })
}

/// The address a pc-relative `word` at `pc` names: a branch's target, a literal's address, or
/// what `adr`/`adrp` computes; `None` for a word that is not pc-relative.
pub fn named_address(word: u32, pc: u64) -> Option<u64> {
    Some(match pc_relative(word)? {
        PcRel::Adrp { pages } => (pc & !0xFFF).wrapping_add((pages << 12) as u64),
        PcRel::Branch { offset, .. }
        | PcRel::BranchCond { offset, .. }
        | PcRel::TestBranch { offset }
        | PcRel::Literal { offset }
        | PcRel::Adr { offset } => pc.wrapping_add(offset as u64),
    })
}

/// What of `pc` a proof that `word` means an instruction depends on, as a key beside the word:
/// 0 for a word that prints the same at every pc; for a pc-relative word, 1 when the address it
/// names prints in hex (above 9) and 2 when in decimal. capstone and [`crate::asm::encode::Inst::render`]
/// both print that address as `#<address>` in one of those two forms, so when the word's text
/// equals the meant instruction's at one pc, their offsets are equal, and at any other pc where
/// the address prints in the same form both texts move by the same shift: the proof carries over.
pub fn proof_scope(word: u32, pc: u64) -> u8 {
    match named_address(word, pc) {
        None => 0,
        Some(a) if a > 9 => 1,
        Some(_) => 2,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::asm::encode::{Cond, Inst};

    #[test]
    fn named_addresses_match_the_encoder_at_both_ends_of_each_reach() {
        let pc = 0x1234_5678_9000u64;
        for off in [-(1 << 20), -4, 4, (1 << 20) - 4] {
            let w = Inst::LdrLit { rt: 3, offset: off }.encode().unwrap();
            assert_eq!(
                named_address(w, pc),
                Some(pc.wrapping_add(off as i64 as u64))
            );
            let c = Inst::BCond {
                cond: Cond::Ne,
                offset: off,
            };
            assert_eq!(
                named_address(c.encode().unwrap(), pc),
                Some(pc.wrapping_add(off as i64 as u64))
            );
        }
        for off in [-(1 << 27), 4, (1 << 27) - 4] {
            let w = Inst::Bl { offset: off }.encode().unwrap();
            assert_eq!(
                named_address(w, pc),
                Some(pc.wrapping_add(off as i64 as u64))
            );
        }
        for pages in [-(1 << 20), -1, 1, (1 << 20) - 1] {
            let w = Inst::Adrp { rd: 16, pages }.encode().unwrap();
            let page = (pc & !0xFFF).wrapping_add(((pages as i64) << 12) as u64);
            assert_eq!(named_address(w, pc + 0xFFC), Some(page));
        }
        assert_eq!(named_address(Inst::Ret.encode().unwrap(), pc), None);
    }

    /// Every class, from words written out by hand from the Arm ARM encodings (not by a64call's
    /// encoder): its class, offset, and what `named_address` makes of it.
    #[test]
    fn every_class_decodes_from_hand_written_words() {
        let cases = [
            (
                0x17FF_FFFF,
                PcRel::Branch {
                    link: false,
                    offset: -4,
                },
            ), // b .-4
            (
                0x9400_0002,
                PcRel::Branch {
                    link: true,
                    offset: 8,
                },
            ), // bl .+8
            (
                0x5400_006E,
                PcRel::BranchCond {
                    cond: 14,
                    offset: 12,
                },
            ), // b.al .+12
            (0x5400_0041, PcRel::BranchCond { cond: 1, offset: 8 }), // b.ne .+8
            (0xB4FF_FFC0, PcRel::TestBranch { offset: -8 }),         // cbz x0, .-8
            (0x3718_0081, PcRel::TestBranch { offset: 16 }),         // tbnz w1, #3, .+16
            (0xD800_0040, PcRel::Literal { offset: 8 }),             // prfm pldl1keep, .+8
            (0x9800_0023, PcRel::Literal { offset: 4 }),             // ldrsw x3, .+4
            (0x9C00_0020, PcRel::Literal { offset: 4 }),             // ldr q0, .+4
            (0x5C00_0021, PcRel::Literal { offset: 4 }),             // ldr d1, .+4
            (0x1C00_0022, PcRel::Literal { offset: 4 }),             // ldr s2, .+4
            (0x3000_0022, PcRel::Adr { offset: 5 }),                 // adr x2, .+5
            (0xF000_0010, PcRel::Adrp { pages: 3 }),                 // adrp x16, immlo 3
            (
                0xF080_0010,
                PcRel::Adrp {
                    pages: -(1 << 20) + 3,
                },
            ), // immhi's sign bit set
        ];
        for (w, want) in cases {
            assert_eq!(pc_relative(w), Some(want), "{w:#010x}");
        }
        // adrp's 21-bit immediate 0x100003 is negative: -(1 << 20) + 3 pages from the pc's page.
        assert_eq!(
            named_address(0xF080_0010, 0x1_4000_0123),
            Some(0x1_4000_0000 - (1 << 32) + (3 << 12))
        );
        assert_eq!(pc_relative(0xD65F_03C0), None, "ret");
        assert_eq!(pc_relative(0x9100_0000), None, "add x0, x0, #0");
    }

    #[test]
    fn the_scope_splits_where_the_printed_form_changes() {
        let b8 = Inst::B { offset: 8 }.encode().unwrap();
        assert_eq!(proof_scope(b8, 0), 2, "#8");
        assert_eq!(proof_scope(b8, 4), 1, "#0xc");
        assert_eq!(proof_scope(Inst::Ret.encode().unwrap(), 0), 0);
        // At every address around the boundary the scope follows the form capstone prints: a
        // `b .-0x40` at 0x40 past each address from 0 to 16 (9 is the last decimal one; the pc
        // need not be aligned for either side's arithmetic).
        let back = Inst::B { offset: -0x40 }.encode().unwrap();
        for target in 0..=16u64 {
            let text = crate::oracle::check::decode_word(back, target + 0x40).unwrap();
            let hex = text.contains("#0x");
            assert_eq!(
                proof_scope(back, target + 0x40),
                if hex { 1 } else { 2 },
                "{text}"
            );
            assert_eq!(hex, target > 9, "{text}");
        }
    }
}
