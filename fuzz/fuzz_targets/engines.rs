//! Unicorn against the ELF engine (qemu-aarch64), 8 programs per process.
#![no_main]

use a64call::fuzzing::{run, Target};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(case) = run(Target::Engines, data) {
        panic!("{case}");
    }
});
