//! The guest machine every engine reproduces: [`runtime`] builds the memory image (code,
//! helpers, call log) a program runs in, within the fixed memory map of [`crate::layout`].

pub mod runtime;
pub mod window;
