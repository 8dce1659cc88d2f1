//! The assembler: [`encode`] turns instructions into AArch64 words, [`buffer`] holds a function's
//! code with its labels, label uses (each kind owns its range and patching), literal pools,
//! stubs and veneers.

pub mod buffer;
pub mod encode;
