//! The program model: what a call-heavy function does, independent of how it is emitted.
//! [`program`] defines it, [`text`] reads and writes its text form (repro files, the corpus),
//! [`gen`] draws random programs from the workload profiles in `profiles/`.

pub mod gen;
pub mod program;
pub mod text;
