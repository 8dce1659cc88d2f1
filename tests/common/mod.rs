//! Helpers shared by the engine tests.

use a64call::encode::Inst;
use a64call::runtime::{Image, Segment};

/// Where the hand-written test code lives.
pub const BASE: u64 = 0x2000_0000;

/// An image holding just `code` at [`BASE`], with no helpers.
pub fn image(code: &[Inst]) -> Image {
    let bytes: Vec<u8> = code
        .iter()
        .flat_map(|i| i.encode().unwrap().to_le_bytes())
        .collect();
    let len = bytes.len() as u64;
    Image {
        segments: vec![Segment { addr: BASE, bytes }],
        code: BASE..BASE + len,
        entry: BASE,
        insn_limit: 100_000,
    }
}
