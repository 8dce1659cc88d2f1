//! The program model: what a call-heavy function does, independent of how it is emitted.
//! [`program`] defines it, [`text`] reads and writes its text form (repro files, the corpus),
//! [`gen`] draws random programs from the workload [`profile`]s (built in from `profiles/`).

pub mod gen;
pub mod profile;
pub mod program;
pub mod text;
