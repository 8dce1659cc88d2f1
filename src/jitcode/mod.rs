//! A real JIT's code (CinderX): [`classify`] names the call sequences of a code dump, [`shape`]
//! reduces functions to comparable shapes, [`counts`] reads exact executed-instruction counts,
//! and [`verify`] checks a dump against the guest's memory map and symbol tables.

pub mod classify;
pub mod counts;
pub mod shape;
pub mod verify;
