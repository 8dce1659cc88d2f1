//! One strategy (picked by the input) beside a correct one on the interpreter, Unicorn beside it
//! on 1 input in 64 and on every finding; static and dynamic oracles.
#![no_main]

use a64call::fuzzing::{run, Target};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(case) = run(Target::Strategies, data) {
        panic!("{case}");
    }
});
