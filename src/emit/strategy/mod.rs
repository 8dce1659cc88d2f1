//! Call strategies: one file each, all behind [`Strategy`].
//!
//! A strategy turns "call the helper at `target` from here" into instructions in a
//! [`CodeBuffer`]. It may use only x16/x17 as scratch and must end the inline sequence with the
//! branch-and-link whose return address is the end of the sequence (the emitter records that as
//! the call site's return offset). Pools and stubs are the buffer's: strategies ask for them.

use crate::asm::buffer::{CodeBuffer, PoolPlacement};
use crate::Named;

mod adrp;
mod direct;
mod movz_fixed;
mod movz_min;
mod pool;
mod pool_bl;
mod stub;
mod stub_bl;

pub use adrp::AdrpAdd;
pub(crate) use direct::try_direct_bl;
pub use direct::DirectBl;
pub use movz_fixed::MovzFixed4;
pub use movz_min::MovzMinimal;
pub use pool::LiteralPool;
pub use pool_bl::PoolOrBl;
pub use stub::StubCall;
pub use stub_bl::StubOrBl;

/// The instruction shape a call site ended up with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SeqKind {
    /// `bl target`
    DirectBl,
    /// `adrp x16; add x16; blr x16`
    AdrpAdd,
    /// `movz/movn (+movk)*; blr x16`
    MovImm,
    /// `ldr x16, literal; blr x16`
    PoolLoad,
    /// `bl stub` → `ldr x16, [pc+8]; br x16`
    Stub,
}

impl SeqKind {
    /// Name used in listings and reports.
    pub fn name(self) -> &'static str {
        match self {
            SeqKind::DirectBl => "bl",
            SeqKind::AdrpAdd => "adrp+add+blr",
            SeqKind::MovImm => "movz/movk+blr",
            SeqKind::PoolLoad => "ldr-literal+blr",
            SeqKind::Stub => "bl->stub",
        }
    }

    /// Instructions executed out of line per call (in the stub).
    pub fn out_of_line_insns(self) -> u32 {
        match self {
            SeqKind::Stub => 2,
            _ => 0,
        }
    }

    /// Taken branches per call, not counting the helper's return.
    pub fn taken_branches(self) -> u32 {
        match self {
            SeqKind::Stub => 2,
            _ => 1,
        }
    }
}

/// What one call site calls, as a strategy sees it when it emits the site.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Callee {
    /// The helper's address.
    pub target: u64,
    /// The program's [`crate::model::program::Program::anchor`]: where a strategy that must
    /// decide before the code has an address guesses near calls from (`pool+bl`).
    pub anchor: Option<u64>,
}

/// What a strategy did at one call site.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SiteChoice {
    /// The sequence emitted.
    pub kind: SeqKind,
    /// Set when the strategy's preferred form was out of range and it fell back; says why.
    pub fallback: Option<&'static str>,
}

/// A strategy's rule for whole functions it must not emit its way: a function whose code and
/// literal pool ([`CodeBuffer::code_and_pool_len`]) reach `limit` bytes is emitted by
/// `strategy` instead, and its call sites say `why` ([`SiteChoice::fallback`]).
#[derive(Clone, Copy)]
pub struct SizeFallback {
    /// Bytes of code and pool the function must stay under.
    pub limit: u32,
    /// The strategy that emits a function that does not.
    pub strategy: &'static dyn Strategy,
    /// The reason recorded at each of that function's far call sites.
    pub why: &'static str,
}

/// Which strategy: the identity reports, thresholds and planted bugs name a strategy by, in
/// report order ([`reference()`] first). Its name ([`crate::Named::name`]) is its command-line name.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    strum::VariantArray,
    strum::IntoStaticStr,
    strum::EnumString,
    strum::Display,
)]
pub enum StrategyId {
    /// [`MovzMinimal`], `movz-min`.
    #[strum(to_string = "movz-min")]
    MovzMinimal,
    /// [`MovzFixed4`], `movz-fixed4`.
    #[strum(to_string = "movz-fixed4")]
    MovzFixed4,
    /// [`LiteralPool`], `pool`.
    #[strum(to_string = "pool")]
    LiteralPool,
    /// [`StubCall`], `stub`.
    #[strum(to_string = "stub")]
    StubCall,
    /// [`DirectBl`], `direct`.
    #[strum(to_string = "direct")]
    DirectBl,
    /// [`AdrpAdd`], `adrp`.
    #[strum(to_string = "adrp")]
    AdrpAdd,
    /// [`StubOrBl`], `stub+bl`.
    #[strum(to_string = "stub+bl")]
    StubOrBl,
    /// [`PoolOrBl`], `pool+bl`.
    #[strum(to_string = "pool+bl")]
    PoolOrBl,
}

impl crate::Named for StrategyId {
    const WHAT: &'static str = "strategy";
}

impl StrategyId {
    /// The strategy itself.
    pub fn strategy(self) -> &'static dyn Strategy {
        match self {
            StrategyId::MovzMinimal => &MovzMinimal,
            StrategyId::MovzFixed4 => &MovzFixed4,
            StrategyId::LiteralPool => &LiteralPool,
            StrategyId::StubCall => &StubCall,
            StrategyId::DirectBl => &DirectBl,
            StrategyId::AdrpAdd => &AdrpAdd,
            StrategyId::StubOrBl => &StubOrBl,
            StrategyId::PoolOrBl => &PoolOrBl,
        }
    }
}

impl serde::Serialize for StrategyId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

/// A way of emitting calls.
pub trait Strategy: Send + Sync {
    /// Which strategy this is (a planted bug's wrapper answers with the strategy it breaks).
    fn id(&self) -> StrategyId;
    /// Short name used on the command line and in reports.
    fn name(&self) -> &'static str {
        self.id().name()
    }
    /// One line describing the emitted shape.
    fn about(&self) -> &'static str;
    /// Does the emitted function keep working when its code (with pools/stubs) is copied to
    /// another address?
    fn position_independent(&self) -> bool;
    /// Emit the inline sequence for a call to `call.target`, ending with the branch-and-link.
    fn emit_call(&self, buf: &mut CodeBuffer, call: Callee) -> SiteChoice;
    /// Where the buffer places the literal pool the strategy's loads use.
    fn pool_placement(&self) -> PoolPlacement {
        PoolPlacement::Islands
    }
    /// The size past which a whole function is emitted another way, if any.
    fn size_fallback(&self) -> Option<SizeFallback> {
        None
    }
}

/// The reference strategy: first in [`all`], the base of `a64call measure`'s non-call counts,
/// and the correct strategy run beside a planted bug's (see [`reference_beside`]).
pub fn reference() -> &'static dyn Strategy {
    StrategyId::MovzMinimal.strategy()
}

/// A correct strategy to compare `other` with: the [`reference()`], or `pool` when `other` is the
/// reference itself (its planted bugs need a different correct emitter beside them).
pub fn reference_beside(other: &dyn Strategy) -> &'static dyn Strategy {
    if other.id() == reference().id() {
        StrategyId::LiteralPool.strategy()
    } else {
        reference()
    }
}

/// Every strategy, in report order ([`reference()`] first).
pub fn all() -> Vec<&'static dyn Strategy> {
    StrategyId::all().iter().map(|s| s.strategy()).collect()
}

#[cfg(test)]
mod tests {
    use super::SeqKind;
    use crate::jitcode::classify::CallKind;
    use crate::Named;

    /// The three shapes the model shares with real JIT code carry the classifier's names, so
    /// `a64call emit`'s sequence column and `a64call classify`/`verify` read alike; every
    /// shape has a name of its own.
    #[test]
    fn shapes_shared_with_jit_code_carry_the_classifiers_names() {
        assert_eq!(SeqKind::PoolLoad.name(), CallKind::LdrLiteralBlr.name());
        assert_eq!(SeqKind::Stub.name(), CallKind::BlStub.name());
        assert_eq!(SeqKind::MovImm.name(), CallKind::MovImmBlr.name());
        assert_eq!(SeqKind::DirectBl.name(), "bl");
        assert_eq!(SeqKind::AdrpAdd.name(), "adrp+add+blr");
    }
}
