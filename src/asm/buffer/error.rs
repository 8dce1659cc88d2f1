//! Why emission failed.

use super::LabelUse;
use crate::asm::encode::EncodeError;

/// Errors from emission.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EmitError {
    /// A label use could not reach its label.
    OutOfRange {
        /// Byte offset of the using instruction.
        at: u32,
        /// Byte distance to the label.
        delta: i64,
        /// The kind of use.
        kind: LabelUse,
    },
    /// An instruction field was out of range.
    Encode(EncodeError),
    /// The emitted code exceeds the layout's code region.
    TooLarge(u64),
    /// A helper's page overlaps the emitted code.
    HelperOverlap {
        /// Helper id.
        helper: u16,
        /// Helper address.
        addr: u64,
    },
    /// A page of the program's window's helper banks ([`crate::machine::window`]) overlaps
    /// the emitted code.
    BankOverlap {
        /// The bank's first address.
        addr: u64,
    },
    /// A helper sits at a slot of its window's helper banks that holds another helper's
    /// routine (another id or arity), whose results are not this helper's.
    ForeignSlot {
        /// Helper id.
        helper: u16,
        /// Helper address.
        addr: u64,
    },
}

impl EmitError {
    /// Is this a program a64call cannot run at all, because its fixed memory map cannot hold
    /// it (code larger than the code region, a helper in the code's pages), rather than a fault
    /// of the emitter? Such a program is *unsupported*: never a finding against a strategy.
    pub fn is_unsupported(&self) -> bool {
        matches!(
            self,
            EmitError::TooLarge(_)
                | EmitError::HelperOverlap { .. }
                | EmitError::BankOverlap { .. }
                | EmitError::ForeignSlot { .. }
        )
    }
}

impl std::fmt::Display for EmitError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EmitError::OutOfRange { at, delta, kind } => {
                write!(
                    f,
                    "{kind:?} use at offset {at:#x} cannot reach its label {delta:+} bytes away"
                )
            }
            EmitError::Encode(e) => write!(f, "encoding failed: {e}"),
            EmitError::TooLarge(n) => {
                write!(f, "emitted code is {n} bytes, larger than the code region")
            }
            EmitError::ForeignSlot { helper, addr } => write!(
                f,
                "helper h{helper} at {addr:#x} is a helper-bank slot holding another helper's routine"
            ),
            EmitError::BankOverlap { addr } => {
                write!(
                    f,
                    "the helper bank at {addr:#x} shares a 64 KiB page with the emitted code"
                )
            }
            EmitError::HelperOverlap { helper, addr } => {
                write!(
                    f,
                    "helper h{helper} at {addr:#x} shares a 64 KiB page with the emitted code"
                )
            }
        }
    }
}

impl std::error::Error for EmitError {}

impl From<EncodeError> for EmitError {
    fn from(e: EncodeError) -> Self {
        EmitError::Encode(e)
    }
}
