//! Helpers shared by the engine tests.

use a64call::asm::encode::Inst;
use a64call::machine::runtime::Image;

/// Where the hand-written test code lives.
pub const BASE: u64 = 0x2000_0000;

/// An image holding just `code` at [`BASE`], with no helpers.
pub fn image(code: &[Inst]) -> Image {
    image_of_words(&code.iter().map(|i| i.encode().unwrap()).collect::<Vec<_>>())
}

/// An image holding just the instruction words `words` at [`BASE`], with no helpers.
pub fn image_of_words(words: &[u32]) -> Image {
    Image::code_only(BASE, words.iter().flat_map(|w| w.to_le_bytes()).collect())
}

/// Loads from the unmapped address 0x4000_0000_0000.
pub fn unmapped_read() -> Image {
    image(&[
        Inst::Movz {
            rd: 9,
            imm16: 0x4000,
            hw: 2,
        },
        Inst::LdrImm {
            rt: 0,
            rn: 9,
            imm12: 0,
        },
        Inst::Ret,
    ])
}

/// Stores to the unmapped address 0x4000_0000_0008.
pub fn unmapped_write() -> Image {
    image(&[
        Inst::Movz {
            rd: 9,
            imm16: 0x4000,
            hw: 2,
        },
        Inst::StrImm {
            rt: 0,
            rn: 9,
            imm12: 1,
        },
        Inst::Ret,
    ])
}

/// Calls the unmapped address 0x5000_0000_0000.
pub fn unmapped_call() -> Image {
    image(&[
        Inst::Movz {
            rd: 16,
            imm16: 0x5000,
            hw: 2,
        },
        Inst::Blr { rn: 16 },
        Inst::Ret,
    ])
}

/// A zero word: a permanently undefined instruction, after a nop.
pub fn undefined_instruction() -> Image {
    let mut img = image(&[Inst::Nop]);
    let mut b = img.segments[0].bytes.to_vec();
    b.extend_from_slice(&[0, 0, 0, 0]);
    img.segments[0].bytes = b.into();
    img.code.end += 4;
    img
}
