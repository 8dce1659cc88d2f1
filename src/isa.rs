//! The AArch64 vocabulary the program model and the assembler share: register numbers,
//! condition codes and ALU operations (the operand kinds with names of their own). The model
//! names what a function does with them; [`crate::asm::encode`] encodes them.

/// A general register number: 0..=30, and 31 for `sp` or `xzr` as the instruction says.
pub type Reg = u8;

/// Condition codes used by `b.cond`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Cond {
    /// Equal.
    Eq = 0,
    /// Not equal.
    Ne = 1,
    /// Unsigned higher or same.
    Hs = 2,
    /// Unsigned lower.
    Lo = 3,
    /// Unsigned higher.
    Hi = 8,
    /// Unsigned lower or same.
    Ls = 9,
    /// Signed greater or equal.
    Ge = 10,
    /// Signed less than.
    Lt = 11,
    /// Signed greater than.
    Gt = 12,
    /// Signed less or equal.
    Le = 13,
}

impl Cond {
    /// Assembly suffix (`eq`, `ne`, ...).
    pub fn suffix(self) -> &'static str {
        match self {
            Cond::Eq => "eq",
            Cond::Ne => "ne",
            Cond::Hs => "hs",
            Cond::Lo => "lo",
            Cond::Hi => "hi",
            Cond::Ls => "ls",
            Cond::Ge => "ge",
            Cond::Lt => "lt",
            Cond::Gt => "gt",
            Cond::Le => "le",
        }
    }

    /// The condition that holds exactly when `self` does not.
    pub fn invert(self) -> Cond {
        match self {
            Cond::Eq => Cond::Ne,
            Cond::Ne => Cond::Eq,
            Cond::Hs => Cond::Lo,
            Cond::Lo => Cond::Hs,
            Cond::Hi => Cond::Ls,
            Cond::Ls => Cond::Hi,
            Cond::Ge => Cond::Lt,
            Cond::Lt => Cond::Ge,
            Cond::Gt => Cond::Le,
            Cond::Le => Cond::Gt,
        }
    }
}

/// Three-register ALU operations (64-bit).
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
pub enum AluOp {
    /// `add xd, xn, xm`
    #[strum(to_string = "add")]
    Add,
    /// `sub xd, xn, xm`
    #[strum(to_string = "sub")]
    Sub,
    /// `and xd, xn, xm`
    #[strum(to_string = "and")]
    And,
    /// `orr xd, xn, xm`
    #[strum(to_string = "orr")]
    Orr,
    /// `eor xd, xn, xm`
    #[strum(to_string = "eor")]
    Eor,
    /// `mul xd, xn, xm` (madd with xzr)
    #[strum(to_string = "mul")]
    Mul,
}

impl crate::Named for AluOp {
    const WHAT: &'static str = "ALU operation";
}
