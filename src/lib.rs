//! a64call: proves and measures how a JIT emits calls on AArch64.
//!
//! The tree is the pipeline, in order:
//! 1. [`model`]: a call-heavy program ([`model::gen`] draws one, [`model::text`] reads one), in
//!    the AArch64 terms of [`isa`], placed in the fixed memory map of [`layout`];
//! 2. [`emit`]: lowered under each [`emit::strategy::Strategy`] into an [`asm::buffer::CodeBuffer`]
//!    ([`asm`]: encoder, labels, pools, stubs, veneers);
//! 3. [`oracle::check`]: every emitted word decoded with capstone, each call site proven to reach
//!    its helper;
//! 4. [`machine`]: the image a program runs in;
//! 5. [`engine`]: a64call's own interpreter (`interp`, `check`'s default), Unicorn, or a
//!    standalone ELF under qemu-aarch64 (natively on an ARM host);
//! 6. [`oracle::dynamic`]: what the engines observed, judged.
//!
//! [`differential`] ties the steps together for the CLI, the tests, the benches and the fuzzers
//! ([`fuzzing`]); [`planted`] catalogues the planted bugs that prove the oracles work; [`report`]
//! turns runs into exact size and instruction reports and gate thresholds. [`jitcode`] is the real
//! JIT's side (CinderX): classifying, counting and verifying the call sequences of its code.

pub mod asm;
pub mod differential;
pub mod emit;
pub mod engine;
pub mod fuzzing;
pub mod isa;
pub mod jitcode;
pub mod layout;
pub mod machine;
pub mod model;
pub mod names;
pub mod oracle;
pub mod planted;
pub mod report;

pub use names::Named;
