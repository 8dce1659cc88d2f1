//! The buffer's debug knobs: deliberate breakages for the planted bugs.

/// Deliberate breakages of the buffer's invariants, each named for what it breaks; all off by
/// default. Only [`crate::planted`] (and tests that hand-make broken code) turn them on
/// ([`super::CodeBuffer::with_faults`]), to prove the oracles catch each one.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Faults {
    /// Every `ldr` literal points 4 bytes past its entry (invariant 2).
    pub literal_offset_plus_4: bool,
    /// A newly added value is given the previously added value's entry (invariant 2).
    pub stale_dedup: bool,
    /// No islands are placed, and out-of-range literal offsets are truncated (invariants 1
    /// and 2).
    pub skip_islands: bool,
    /// Islands are placed without a branch over them (invariant 3).
    pub island_on_fallthrough: bool,
    /// Pool entries start 4 bytes past an 8-byte boundary (invariant 2).
    pub misalign_pool: bool,
    /// The last entry of the final pool is not written (invariant 2).
    pub drop_last_entry: bool,
    /// Each stub's `ldr x16, [pc+8]` is written as `[pc+4]` (invariant 4).
    pub stub_ldr_pc_plus_4: bool,
    /// Each stub's `.quad` holds the next stub's target (invariant 4).
    pub stub_next_target: bool,
    /// Each stub loads its target into x8 and branches through it, destroying a register the
    /// call must preserve (a reported trampoline bug; invariants 4 and 5).
    pub stub_scratch_x8: bool,
}
