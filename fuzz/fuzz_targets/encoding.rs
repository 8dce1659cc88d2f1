//! Capstone check of everything emitted, including functions over 1 MiB.
#![no_main]

use a64call::fuzzing::{run, Target};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(case) = run(Target::Encoding, data) {
        panic!("{case}");
    }
});
