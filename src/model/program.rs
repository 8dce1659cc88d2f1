//! The model of a call-heavy JIT function: helpers at layout addresses and a structured body.
//!
//! Values `v0..v8` live in the callee-saved registers `x19..x27` so they survive calls; `x28`
//! holds the scratch-buffer base (passed in `x0` on entry). A [`Program`] is what every strategy
//! emits and what a repro file holds (see [`crate::model::text`]).

use crate::isa::{AluOp, Cond, Reg};
use crate::layout;
use crate::machine::window::Window;

/// Number of program values (`v0..v8`).
pub const NUM_VALUES: u8 = 9;
/// Number of 8-byte slots in the scratch buffer (fixed by the memory map).
pub use crate::layout::SCRATCH_SLOTS;
/// Maximum number of integer arguments to a helper.
pub const MAX_ARGS: usize = 8;
/// Maximum loop nesting depth.
pub const MAX_LOOP_DEPTH: usize = 3;
/// Maximum iteration count of one loop.
pub const MAX_LOOP_COUNT: u8 = 16;

/// A program value `vN`, held in register `x(19+N)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Val(pub u8);

impl Val {
    /// The register holding this value.
    pub fn reg(self) -> Reg {
        19 + self.0
    }
}

/// A helper function the JIT code calls: its id is its index in [`Program::helpers`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Helper {
    /// Absolute address of the helper's first instruction.
    pub addr: u64,
    /// Number of integer arguments it takes (its result depends on exactly these).
    pub arity: u8,
}

/// Comparison used by `if`.
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
pub enum CmpOp {
    /// Equal.
    #[strum(to_string = "eq")]
    Eq,
    /// Not equal.
    #[strum(to_string = "ne")]
    Ne,
    /// Unsigned less than.
    #[strum(to_string = "ult")]
    Ult,
    /// Unsigned greater or equal.
    #[strum(to_string = "uge")]
    Uge,
    /// Unsigned greater than.
    #[strum(to_string = "ugt")]
    Ugt,
    /// Unsigned less or equal.
    #[strum(to_string = "ule")]
    Ule,
    /// Signed less than.
    #[strum(to_string = "slt")]
    Slt,
    /// Signed greater or equal.
    #[strum(to_string = "sge")]
    Sge,
}

impl crate::Named for CmpOp {
    const WHAT: &'static str = "comparison";
}

impl CmpOp {
    /// The AArch64 condition after `cmp a, b`.
    pub fn cond(self) -> Cond {
        match self {
            CmpOp::Eq => Cond::Eq,
            CmpOp::Ne => Cond::Ne,
            CmpOp::Ult => Cond::Lo,
            CmpOp::Uge => Cond::Hs,
            CmpOp::Ugt => Cond::Hi,
            CmpOp::Ule => Cond::Ls,
            CmpOp::Slt => Cond::Lt,
            CmpOp::Sge => Cond::Ge,
        }
    }
}

/// Shift operations by an immediate amount.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ShiftOp {
    /// Logical shift left.
    Lsl,
    /// Logical shift right.
    Lsr,
}

/// One operation of a function body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    /// `dst = const imm`
    Const { dst: Val, imm: u64 },
    /// `dst = op a, b`
    Alu { op: AluOp, dst: Val, a: Val, b: Val },
    /// `dst = lsl|lsr src, amount` (amount 1..=63)
    Shift {
        op: ShiftOp,
        dst: Val,
        src: Val,
        amount: u8,
    },
    /// `dst = load [slot]` from the scratch buffer
    Load { dst: Val, slot: u16 },
    /// `store [slot], src` to the scratch buffer
    Store { slot: u16, src: Val },
    /// `[dst =] call hN(args...)`
    Call {
        dst: Option<Val>,
        helper: u16,
        args: Vec<Val>,
    },
    /// `if a cmp b { then } else { els }`
    If {
        cmp: CmpOp,
        a: Val,
        b: Val,
        then: Vec<Op>,
        els: Vec<Op>,
    },
    /// `loop count { body }`: runs `body` exactly `count` times (1..=16).
    Loop { count: u8, body: Vec<Op> },
}

/// A whole function plus the layout it runs in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Program {
    /// Address the function's code is placed at (its first instruction).
    pub code_base: u64,
    /// Helpers, indexed by id.
    pub helpers: Vec<Helper>,
    /// The function body.
    pub body: Vec<Op>,
    /// The value returned in `x0`.
    pub ret: Val,
    /// The address a JIT guesses near calls from before its code has an address, if it does
    /// (CinderX's literal-pool patch: a function in `_cinderx.so`, `isNearCallTarget`); see
    /// [`near_guess`]. Nothing is mapped there.
    pub anchor: Option<u64>,
}

/// How far from the [`Program::anchor`] a target is guessed near: CinderX's literal-pool patch
/// guesses a call target near when it lies within 96 MiB of its anchor, inclusive
/// (`kNearCallReach`), leaving 32 MiB of `bl`'s 128 MiB for the distance from `_cinderx.so` to
/// the code allocator's chunks (about 12 MiB under Debian's python3.14).
pub const NEAR_GUESS_REACH: u64 = 96 << 20;

/// Is `target` guessed near from `anchor`: within [`NEAR_GUESS_REACH`] of it, either way?
pub fn near_guess(anchor: u64, target: u64) -> bool {
    (i128::from(target) - i128::from(anchor)).unsigned_abs() <= u128::from(NEAR_GUESS_REACH)
}

/// How far a helper is from the code, in branch-range classes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Distance {
    /// Within ±128 MiB: reachable by `bl`.
    Near,
    /// Within ±4 GiB: reachable by `adrp`.
    Mid,
    /// Further away.
    Far,
}

impl Distance {
    /// Classify the distance from `from` to `to`.
    pub fn between(from: u64, to: u64) -> Distance {
        let d = (to as i128 - from as i128).abs();
        if d < (128 << 20) - (4 << 20) {
            Distance::Near
        } else if d < (4i128 << 30) - (4 << 20) {
            Distance::Mid
        } else {
            Distance::Far
        }
    }

    /// Name used in reports.
    pub fn name(self) -> &'static str {
        match self {
            Distance::Near => "near",
            Distance::Mid => "mid",
            Distance::Far => "far",
        }
    }
}

/// A structural problem with a program (the parser and generator never produce one).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValidationError(pub String);

impl std::fmt::Display for ValidationError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ValidationError {}

/// The operations of `ops` and of the blocks nested in them for which `counted` holds.
fn count_ops(ops: &[Op], counted: &dyn Fn(&Op) -> bool) -> usize {
    ops.iter()
        .map(|op| {
            let nested = match op {
                Op::If { then, els, .. } => count_ops(then, counted) + count_ops(els, counted),
                Op::Loop { body, .. } => count_ops(body, counted),
                _ => 0,
            };
            usize::from(counted(op)) + nested
        })
        .sum()
}

impl Program {
    /// Check every rule the emitters and engines rely on.
    pub fn validate(&self) -> Result<(), ValidationError> {
        let e = |m: String| Err(ValidationError(m));
        if !self.code_base.is_multiple_of(4096) {
            return e(format!(
                "code base {:#x} is not 4 KiB aligned",
                self.code_base
            ));
        }
        if self.code_base < layout::USER_MIN
            || self.code_base >= layout::USER_MAX - layout::MAX_CODE
        {
            return e(format!(
                "code base {:#x} outside [{:#x}, {:#x})",
                self.code_base,
                layout::USER_MIN,
                layout::USER_MAX - layout::MAX_CODE
            ));
        }
        if self.helpers.is_empty() {
            return e("a program needs at least one helper".into());
        }
        if self.helpers.len() > layout::MAX_HELPERS {
            return e(format!(
                "{} helpers; at most {}",
                self.helpers.len(),
                layout::MAX_HELPERS
            ));
        }
        let window = Window::of(self.code_base);
        let mut pages: Vec<u64> = Vec::new();
        for (i, h) in self.helpers.iter().enumerate() {
            if let Some(w) = window.filter(|w| w.in_bank_pages(h.addr)) {
                match w.slot_at(h.addr) {
                    Some((_, id, arity)) if id == i && arity == h.arity => continue,
                    _ => {
                        return e(format!(
                            "helper h{i} at {:#x} lies in a helper bank of window {} (code base \
                             {:#x}) but not at its own slot (id {i}, arity {})",
                            h.addr,
                            w.number(),
                            self.code_base,
                            h.arity
                        ))
                    }
                }
            }
            if h.arity as usize > MAX_ARGS {
                return e(format!(
                    "helper h{i} takes {} args; at most {MAX_ARGS}",
                    h.arity
                ));
            }
            if h.addr % 4 != 0 {
                return e(format!(
                    "helper h{i} address {:#x} is not 4-byte aligned",
                    h.addr
                ));
            }
            if h.addr % layout::HELPER_PAGE > layout::HELPER_PAGE - layout::HELPER_MAX_BYTES {
                return e(format!(
                    "helper h{i} at {:#x} would cross its {} KiB page",
                    h.addr,
                    layout::HELPER_PAGE / 1024
                ));
            }
            if h.addr < layout::USER_MIN || h.addr >= layout::USER_MAX {
                return e(format!(
                    "helper h{i} address {:#x} outside the user range",
                    h.addr
                ));
            }
            let page = h.addr / layout::HELPER_PAGE;
            if pages.contains(&page) {
                return e(format!(
                    "helper h{i} shares its 64 KiB page with another helper"
                ));
            }
            pages.push(page);
        }
        if let Some(a) = self.anchor.filter(|&a| a >= layout::USER_MAX) {
            return e(format!("anchor {a:#x} outside the user range"));
        }
        self.validate_ops(&self.body, 0)?;
        if self.ret.0 >= NUM_VALUES {
            return e(format!("ret value v{} out of range", self.ret.0));
        }
        Ok(())
    }

    fn validate_ops(&self, ops: &[Op], depth: usize) -> Result<(), ValidationError> {
        let e = |m: String| Err(ValidationError(m));
        let val = |v: Val| {
            if v.0 >= NUM_VALUES {
                Err(ValidationError(format!(
                    "value v{} out of range (v0..v{})",
                    v.0,
                    NUM_VALUES - 1
                )))
            } else {
                Ok(())
            }
        };
        for op in ops {
            match op {
                Op::Const { dst, .. } => val(*dst)?,
                Op::Alu { dst, a, b, .. } => {
                    val(*dst)?;
                    val(*a)?;
                    val(*b)?
                }
                Op::Shift {
                    dst, src, amount, ..
                } => {
                    val(*dst)?;
                    val(*src)?;
                    if *amount == 0 || *amount > 63 {
                        return e(format!("shift amount {amount} not in 1..=63"));
                    }
                }
                Op::Load { dst, slot } | Op::Store { src: dst, slot } => {
                    val(*dst)?;
                    if *slot >= SCRATCH_SLOTS {
                        return e(format!("slot {slot} out of range (0..{SCRATCH_SLOTS})"));
                    }
                }
                Op::Call { dst, helper, args } => {
                    if let Some(d) = dst {
                        val(*d)?
                    }
                    let Some(h) = self.helpers.get(*helper as usize) else {
                        return e(format!("call to undefined helper h{helper}"));
                    };
                    if args.len() != h.arity as usize {
                        return e(format!(
                            "call to h{helper} passes {} args; it takes {}",
                            args.len(),
                            h.arity
                        ));
                    }
                    for a in args {
                        val(*a)?
                    }
                }
                Op::If {
                    a, b, then, els, ..
                } => {
                    val(*a)?;
                    val(*b)?;
                    self.validate_ops(then, depth)?;
                    self.validate_ops(els, depth)?;
                }
                Op::Loop { count, body } => {
                    if *count == 0 || *count > MAX_LOOP_COUNT {
                        return e(format!("loop count {count} not in 1..={MAX_LOOP_COUNT}"));
                    }
                    if depth >= MAX_LOOP_DEPTH {
                        return e(format!("loops nested deeper than {MAX_LOOP_DEPTH}"));
                    }
                    self.validate_ops(body, depth + 1)?;
                }
            }
        }
        Ok(())
    }

    /// Number of call sites in the body (static count).
    pub fn call_sites(&self) -> usize {
        count_ops(&self.body, &|op| matches!(op, Op::Call { .. }))
    }

    /// Number of operations in the body, nested ones included (a measure of the program's
    /// size: each lowers to one to a few instructions, a call to its sequence).
    pub fn op_count(&self) -> usize {
        count_ops(&self.body, &|_| true)
    }

    /// Distance class of each helper from the code base.
    pub fn distance(&self, helper: usize) -> Distance {
        Distance::between(self.code_base, self.helpers[helper].addr)
    }
}
