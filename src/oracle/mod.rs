//! The oracles. [`check`] decodes every emitted word with capstone and proves statically that
//! each call site reaches its helper; [`reference`](mod@reference) computes what a program must do from its
//! model alone; [`dynamic`] judges what engines observed when the code ran, against the
//! reference and against each other. None knows a strategy or an engine.

pub mod check;
pub mod dynamic;
pub mod reference;
