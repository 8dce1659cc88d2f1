//! Every strategy on Unicorn; static and dynamic oracles.
#![no_main]

use a64call::fuzzing::{run, Target};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(case) = run(Target::Strategies, data) {
        panic!("{case}");
    }
});
