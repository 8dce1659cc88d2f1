//! a64call: proves and measures how a JIT emits calls on AArch64.
//!
//! Pipeline: [`gen`] makes a call-heavy [`program::Program`] (or [`text`] parses one), [`emit`]
//! lowers it under each [`strategy::Strategy`] into a [`buffer::CodeBuffer`], [`check`] decodes
//! every emitted word with capstone and proves each call site reaches its helper, [`runtime`]
//! builds the memory image, an [`engine::Engine`] runs it, and [`oracle`] compares outcomes.
//! [`differential`] ties the steps together for the CLI, the tests, the benches and the fuzzers.
//!
//! Around it: [`layout`] is the fixed memory map every engine reproduces, [`elf`] writes the
//! standalone ELF the qemu/native engine runs, [`bugs`] catalogues the planted bugs that prove the
//! oracles work, [`measure`] turns runs into exact size and instruction reports and gate
//! thresholds, [`fuzzing`] holds everything the cargo-fuzz targets do, and [`jitdump`] classifies
//! the call sequences of a real JIT's code dump (CinderX), which [`verify`] checks against the
//! guest's memory map and symbol tables.

pub mod buffer;
pub mod bugs;
pub mod check;
pub mod counts;
pub mod differential;
pub mod elf;
pub mod emit;
pub mod encode;
pub mod engine;
pub mod fuzzing;
pub mod gen;
pub mod jitdump;
pub mod jitshape;
pub mod layout;
pub mod measure;
pub mod oracle;
pub mod program;
pub mod runtime;
pub mod strategy;
pub mod text;
pub mod verify;
