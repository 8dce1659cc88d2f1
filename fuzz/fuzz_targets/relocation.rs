//! Position-independent code copied to a second address behaves the same.
#![no_main]

use a64call::fuzzing::{run, Target};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(case) = run(Target::Relocation, data) {
        panic!("{case}");
    }
});
