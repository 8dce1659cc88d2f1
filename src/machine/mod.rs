//! The guest machine every engine reproduces: [`layout`] is the fixed memory map, [`runtime`]
//! builds the memory image (code, helpers, call log) a program runs in.

pub mod layout;
pub mod runtime;
