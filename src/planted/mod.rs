//! The catalogue of planted bugs: deliberately broken strategy variants that exist so the tests,
//! the fuzz targets and the gate can prove each oracle catches real miscompiles.
//!
//! A bug is selected at run time (the CLI's hidden `--plant NAME`, the differential's
//! [`crate::differential::Config::bug`]) and becomes [`PlantedBug::emit_options`]: emission of
//! each strategy the bug [`PlantedBug::breaks`] then uses the bug's [`PlantedBug::wrapper`] (a
//! wrapper strategy, `faulty.rs`, for a bug in a call sequence) and a buffer with its
//! `PlantedBug::buffer_faults`. Emission itself knows no bug.
//! With no bug selected none of this code is used.

mod faulty;

use crate::asm::buffer::Faults;
use crate::emit::strategy::{self, Strategy};
use crate::emit::{ConstEmitter, EmitOptions};
use crate::model::profile::BuiltIn;
use crate::Named;

/// One deliberately broken variant of a strategy.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    strum::VariantArray,
    strum::IntoStaticStr,
    strum::EnumString,
)]
pub enum PlantedBug {
    /// Literal pool: every `ldr x16, <literal>` points 4 bytes past its entry.
    #[strum(to_string = "pool-offset-off-by-4")]
    PoolOffsetOffBy4,
    /// Literal pool: entries start 4 bytes past an 8-byte boundary.
    #[strum(to_string = "pool-misaligned")]
    PoolMisaligned,
    /// Literal pool: a newly added target reuses the previously added target's entry.
    #[strum(to_string = "pool-stale-dedup")]
    PoolStaleDedup,
    /// Literal pool: loads into and branches through x19 (callee-saved) instead of x16.
    #[strum(to_string = "pool-scratch-x19")]
    PoolScratchX19,
    /// Literal pool: the last entry of the final pool is never written.
    #[strum(to_string = "pool-missing-last-entry")]
    PoolMissingLastEntry,
    /// Literal pool: no islands; literal offsets beyond ±1 MiB are silently truncated.
    #[strum(to_string = "pool-island-skipped")]
    PoolIslandSkipped,
    /// Literal pool: islands are placed without a branch around them.
    #[strum(to_string = "pool-on-fallthrough")]
    PoolOnFallthrough,
    /// Stubs: each stub's `.quad` holds the next stub's target.
    #[strum(to_string = "stub-wrong-target")]
    StubWrongTarget,
    /// Stubs: the stub's `ldr x16, [pc+8]` is written as `[pc+4]`.
    #[strum(to_string = "stub-ldr-offset")]
    StubLdrOffset,
    /// Stubs: the stub loads its target into x8 and branches through it (`ldr x8, [pc+8];
    /// br x8`): the helper is reached, but x8, which only IP0/IP1 may replace between the
    /// caller's last instruction and the callee's entry, is destroyed.
    #[strum(to_string = "stub-scratch-x8")]
    StubScratchX8,
    /// Minimal movz/movk: the `movk` for bits 32..47 uses `lsl #48`.
    #[strum(to_string = "movk-shift-wrong")]
    MovkShiftWrong,
    /// Minimal movz/movk: the target is built in x17 but the call branches through x16.
    #[strum(to_string = "movz-reg-mismatch")]
    MovzRegMismatch,
    /// Fixed movz/movk: the `movk` of bits 32..47 is dropped.
    #[strum(to_string = "fixed4-drops-hw2")]
    Fixed4DropsHw2,
    /// adrp+add: the `add` uses the call site's low 12 bits instead of the target's.
    #[strum(to_string = "adrp-lo12-wrong")]
    AdrpLo12Wrong,
    /// adrp+add: the `adrp`'s page is taken from the next instruction's address, not its own (a
    /// reported linker bug): wrong only for an `adrp` in the last word of a 4 KiB page.
    #[strum(to_string = "adrp-page-of-next-word")]
    AdrpPageOfNextWord,
    /// Direct `bl`: emitted without a range check, offsets silently truncated.
    #[strum(to_string = "direct-no-range-check")]
    DirectNoRangeCheck,
    /// Lowering, shared by every strategy: a `const` of 0 or all-ones emits nothing (a
    /// reported mov-immediate bug). Strategies agree on it; only the reference evaluation
    /// catches it.
    #[strum(to_string = "const-trivial-dropped")]
    ConstTrivialDropped,
}

impl crate::Named for PlantedBug {
    const WHAT: &'static str = "planted bug";
}

impl PlantedBug {
    /// The bug `A64CALL_PLANT` names (unset or empty: none), for whole-pipeline runs such as
    /// `ci/gate --plant` and the fuzz targets.
    pub fn from_env() -> Result<Option<PlantedBug>, String> {
        match std::env::var("A64CALL_PLANT") {
            Ok(n) if !n.is_empty() => PlantedBug::parse_name(&n)
                .map(Some)
                .map_err(|e| format!("A64CALL_PLANT: {e}")),
            _ => Ok(None),
        }
    }

    /// The strategy whose emission this bug breaks (for a [`PlantedBug::shared`] bug, the
    /// strategy it is hunted with: it breaks every one).
    pub fn strategy(self) -> &'static dyn Strategy {
        match self {
            PlantedBug::PoolOffsetOffBy4
            | PlantedBug::PoolMisaligned
            | PlantedBug::PoolStaleDedup
            | PlantedBug::PoolScratchX19
            | PlantedBug::PoolMissingLastEntry
            | PlantedBug::PoolIslandSkipped
            | PlantedBug::PoolOnFallthrough => &strategy::LiteralPool,
            PlantedBug::StubWrongTarget | PlantedBug::StubLdrOffset | PlantedBug::StubScratchX8 => {
                &strategy::StubCall
            }
            PlantedBug::MovkShiftWrong
            | PlantedBug::MovzRegMismatch
            | PlantedBug::ConstTrivialDropped => &strategy::MovzMinimal,
            PlantedBug::Fixed4DropsHw2 => &strategy::MovzFixed4,
            PlantedBug::AdrpLo12Wrong | PlantedBug::AdrpPageOfNextWord => &strategy::AdrpAdd,
            PlantedBug::DirectNoRangeCheck => &strategy::DirectBl,
        }
    }

    /// The strategies a hunt for this bug runs: a correct one beside the one the bug breaks.
    pub fn hunted_with(self) -> Vec<&'static dyn Strategy> {
        vec![strategy::reference_beside(self.strategy()), self.strategy()]
    }

    /// Is the bug in code every strategy shares (the lowering), so it breaks them all alike?
    pub fn shared(self) -> bool {
        self == PlantedBug::ConstTrivialDropped
    }

    /// Does the bug break `s`'s emission?
    pub fn breaks(self, s: &dyn Strategy) -> bool {
        self.shared() || self.strategy().id() == s.id()
    }

    /// The wrapper strategy that emits with this bug when it is in a call sequence (`None`
    /// for a bug in the buffer, `PlantedBug::buffer_faults`, or in the lowering,
    /// [`PlantedBug::const_emitter`]).
    pub fn wrapper(self) -> Option<&'static dyn Strategy> {
        faulty::emitter(self)
    }

    /// The `const` lowering with this bug, when the bug is in the lowering.
    pub fn const_emitter(self) -> Option<ConstEmitter> {
        (self == PlantedBug::ConstTrivialDropped)
            .then_some(faulty::const_dropping_trivial as ConstEmitter)
    }

    /// The options that emit `s` with this bug: its faults and wrapper when it
    /// [`PlantedBug::breaks`] `s`, none otherwise.
    pub fn emit_options(self, s: &dyn Strategy) -> EmitOptions {
        if !self.breaks(s) {
            return EmitOptions::default();
        }
        EmitOptions {
            faults: self.buffer_faults(),
            call_emitter: self.wrapper(),
            const_emitter: self.const_emitter(),
        }
    }

    /// The buffer breakage this bug switches on (none for a bug in a call sequence).
    pub(crate) fn buffer_faults(self) -> Faults {
        let mut f = Faults::default();
        match self {
            PlantedBug::PoolOffsetOffBy4 => f.literal_offset_plus_4 = true,
            PlantedBug::PoolMisaligned => f.misalign_pool = true,
            PlantedBug::PoolStaleDedup => f.stale_dedup = true,
            PlantedBug::PoolMissingLastEntry => f.drop_last_entry = true,
            PlantedBug::PoolIslandSkipped => f.skip_islands = true,
            PlantedBug::PoolOnFallthrough => f.island_on_fallthrough = true,
            PlantedBug::StubWrongTarget => f.stub_next_target = true,
            PlantedBug::StubLdrOffset => f.stub_ldr_pc_plus_4 = true,
            PlantedBug::StubScratchX8 => f.stub_scratch_x8 = true,
            // In a call sequence: a wrapper strategy instead (faulty.rs).
            PlantedBug::PoolScratchX19
            | PlantedBug::MovkShiftWrong
            | PlantedBug::MovzRegMismatch
            | PlantedBug::Fixed4DropsHw2
            | PlantedBug::AdrpLo12Wrong
            | PlantedBug::AdrpPageOfNextWord
            | PlantedBug::DirectNoRangeCheck
            // In the lowering: a const emitter instead.
            | PlantedBug::ConstTrivialDropped => {}
        }
        f
    }

    /// Does the bug change what a run observes? Only [`PlantedBug::PoolMisaligned`] does not:
    /// AArch64 loads from normal memory need no alignment, so only the static oracle sees it.
    pub fn observable_at_run_time(self) -> bool {
        self != PlantedBug::PoolMisaligned
    }

    /// Can the static check see the bug? It proves that every call site reaches its helper, so
    /// a fault outside call sequences and pools ([`PlantedBug::shared`]) is beyond it.
    pub fn statically_visible(self) -> bool {
        !self.shared()
    }

    /// The generator profile whose programs exercise this bug.
    pub fn profile(self) -> BuiltIn {
        match self {
            // Functions over a page, so some `adrp` falls in a page's last word.
            PlantedBug::PoolIslandSkipped
            | PlantedBug::PoolOnFallthrough
            | PlantedBug::AdrpPageOfNextWord => BuiltIn::Huge,
            PlantedBug::AdrpLo12Wrong | PlantedBug::ConstTrivialDropped => BuiltIn::Default,
            _ => BuiltIn::Far64,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The catalogue's links hold: the strategy beside each bug is a different, correct one,
    /// and each bug's name finds it.
    #[test]
    fn every_bug_has_a_different_reference() {
        for &bug in PlantedBug::all() {
            let beside = strategy::reference_beside(bug.strategy());
            assert_ne!(beside.name(), bug.strategy().name(), "{}", bug.name());
            assert_eq!(PlantedBug::from_name(bug.name()), Some(bug));
        }
    }

    /// Every bug is wired in exactly one way: a buffer fault, a wrapper strategy or a const
    /// emitter, so a new catalogue entry cannot compile into correct code unnoticed.
    #[test]
    fn every_bug_is_wired_in_exactly_one_way() {
        for &bug in PlantedBug::all() {
            let fault = bug.buffer_faults() != Faults::default();
            let wrapper = bug.wrapper().is_some();
            let konst = bug.const_emitter().is_some();
            assert_eq!(
                u8::from(fault) + u8::from(wrapper) + u8::from(konst),
                1,
                "{}: fault {fault}, wrapper {wrapper}, const emitter {konst}",
                bug.name()
            );
        }
    }
}
