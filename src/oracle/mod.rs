//! The oracles. [`check`] decodes every emitted word with capstone and proves statically that
//! each call site reaches its helper; [`dynamic`] judges what engines observed when the code ran.
//! Neither knows a strategy or an engine.

pub mod check;
pub mod dynamic;
