//! The reference evaluator: what a program must do, computed from its model alone (the program
//! and the helpers' documented semantics, [`helper_result`]), with no emitted code, strategy or
//! engine involved. Every run is judged against it ([`judge_run`]), so a fault every strategy
//! shares (in the lowering, the encoder, or anything else they have in common) is still a
//! finding: strategies compared only with each other would agree on it.
//!
//! What the model fixes, and the reference therefore predicts:
//!
//! * **Entry:** `x0` is the scratch base, every other register [`layout::initial_reg`]; value
//!   `vN` starts as `x(19+N)`'s initial value. The prologue moves `x0` to `x28` and pushes a
//!   48-byte frame, so every call is made with `sp = STACK_TOP - 48`.
//! * **Calls:** `call hK(a..)` sets `x0..x(arity-1)` to the arguments and touches no other
//!   register below `x16`: the lowering keeps values in `x19..x27` and loop counters on the stack,
//!   and uses only IP0/IP1 (`x16`, `x17`) as scratch. So `x(arity)..x15` still hold what the
//!   previous helper left (`x0 = r`, `xN = r + N`) or, before the first call, their entry values.
//!   All sixteen are predicted: a call sequence that uses any of `x8..x15` as scratch (AAPCS64
//!   lets only `x16`/`x17` change between the caller's last instruction and the callee's entry)
//!   is caught here, whatever the strategies agree on. So are the loop counters in the caller's
//!   frame (`[sp + 16 + 8 * depth]`, counting passes up from `16 - count`: `16 - count + p`
//!   in pass `p` from 0, [`LOOP_END`]) of every loop the call is inside. The helper returns `r = helper_result(K, arity, x0..x7)`. Each call is
//!   also tied to its static call site (the `Call` ops numbered in program order, as the
//!   lowering numbers sites).
//! * **End:** `x0` is the returned value, `x19..x27` the final values, `x28` the scratch base,
//!   `x29`/`x30` their entry values, `sp = STACK_TOP`; the scratch buffer as the stores left it.
//! * **A full call log:** a helper entered with the log full stops the run with
//!   `brk #BRK_LOG_FULL` before logging; the reference stops there too ([`End::LogFull`]).
//!
//! Registers the model leaves to the code (`x1..x15` after the last call, NZCV) are compared
//! between strategies and engines by [`super::dynamic`], not here.

use crate::asm::encode::AluOp;
use crate::engine::{Exit, Outcome};
use crate::layout::{self, LOG_CAPACITY, LOOP_END, SCRATCH_ADDR, STACK_TOP};
use crate::machine::runtime::helper_result;
use crate::model::program::{CmpOp, Op, Program, ShiftOp, NUM_VALUES};

/// One call the program must make.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExpectedCall {
    /// Helper id.
    pub helper: u16,
    /// The helper's address: the entry its routine logs.
    pub entry: u64,
    /// `x0..x15` at the helper's entry.
    pub regs: [u64; 16],
    /// The loop counters in the caller's frame, outermost first: one per loop the call is in.
    pub counters: Vec<u64>,
    /// The static call site (`Call` ops numbered in program order).
    pub site: u32,
    /// How many of `x0..x7` are the call's arguments (the rest hold what the caller left).
    pub arity: u8,
}

/// How the program must end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum End {
    /// It returns with `x0` = this value.
    Returned(u64),
    /// A helper entered with the log full ([`LOG_CAPACITY`] calls made) stopped it.
    LogFull,
}

/// What a program must do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Expected {
    /// How it ends.
    pub end: End,
    /// Every call, in order.
    pub calls: Vec<ExpectedCall>,
    /// The values `v0..v8` at the end.
    pub values: [u64; NUM_VALUES as usize],
    /// The scratch buffer at the end.
    pub scratch: Vec<u8>,
    /// Operations executed, each loop pass counted once more (its counter and back edge):
    /// what bounds the instructions a correct run executes ([`Expected::insns_bound`]).
    pub steps: u64,
}

/// The most instructions one step of [`Expected::steps`] other than a call executes in any
/// strategy's code: the longest lowering of one operation is a `const` (`movz` and three
/// `movk`), of an `if` its test, branch, a veneer hop and the `b` over the else block, of a
/// loop pass its load, increment, store, `tbz` and an inverted branch's `b`, plus the branch
/// over an island a reservation may place before it: under 8, doubled for margin.
pub const STEP_INSNS_MAX: u64 = 16;

/// The most instructions a call executes outside its helper: up to 8 argument moves, the
/// longest call sequence (`movz` and three `movk`, then `blr`; or `bl`, and a stub's `ldr`
/// and `br`), the move of the result and a branch over an island: under 16, doubled.
pub const CALL_INSNS_MAX: u64 = 32;

impl Expected {
    /// An upper bound on the instructions a correct run of `program` (whose evaluation this
    /// is) executes under any strategy: [`STEP_INSNS_MAX`] per step, and per call
    /// [`CALL_INSNS_MAX`] plus the longest helper routine (straight-line code), plus the
    /// prologue and epilogue. A run that stops at an engine's instruction limit below this
    /// bound is code that runs away; at or above it, a64call cannot tell.
    pub fn insns_bound(&self, program: &Program) -> u64 {
        let helper = program
            .helpers
            .iter()
            .enumerate()
            .map(|(id, h)| crate::machine::runtime::helper_code_len(id, h.arity))
            .max()
            .unwrap_or(0);
        let calls = self.calls.len() as u64;
        16 + self.steps.saturating_mul(STEP_INSNS_MAX)
            + calls.saturating_mul(CALL_INSNS_MAX + helper)
    }
}

/// `sp` at every call: the prologue's 48-byte frame below [`STACK_TOP`].
pub const SP_AT_CALL: u64 = STACK_TOP - 48;

struct Eval<'a> {
    program: &'a Program,
    values: [u64; NUM_VALUES as usize],
    /// `x0..x15` as the code leaves them between calls.
    regs: [u64; 16],
    /// The counter slot of each loop being run, outermost first.
    counters: Vec<u64>,
    scratch: Vec<u8>,
    calls: Vec<ExpectedCall>,
    /// Next static call-site number while walking the ops the first time; sites are numbered
    /// by position, so `site_of` maps each `Call` op (by address) to its number.
    site_of: std::collections::HashMap<*const Op, u32>,
    /// [`Expected::steps`] so far.
    steps: u64,
}

/// Evaluate `program` (which must be valid: [`Program::validate`]).
pub fn evaluate(program: &Program) -> Expected {
    let mut e = Eval {
        program,
        values: std::array::from_fn(|n| layout::initial_reg(19 + n as u8)),
        regs: std::array::from_fn(|n| layout::initial_reg(n as u8)),
        counters: Vec::new(),
        scratch: layout::initial_scratch(),
        calls: Vec::new(),
        site_of: Default::default(),
        steps: 0,
    };
    number_sites(&program.body, &mut e.site_of);
    let end = match e.ops(&program.body) {
        Ok(()) => End::Returned(e.values[program.ret.0 as usize]),
        Err(LogFull) => End::LogFull,
    };
    Expected {
        end,
        calls: e.calls,
        values: e.values,
        scratch: e.scratch,
        steps: e.steps,
    }
}

/// The lowering numbers call sites in program order: `then` before `else`, a loop body once.
fn number_sites(ops: &[Op], out: &mut std::collections::HashMap<*const Op, u32>) {
    for op in ops {
        match op {
            Op::Call { .. } => {
                let n = out.len() as u32;
                out.insert(op as *const Op, n);
            }
            Op::If { then, els, .. } => {
                number_sites(then, out);
                number_sites(els, out);
            }
            Op::Loop { body, .. } => number_sites(body, out),
            _ => {}
        }
    }
}

/// The run stopped at a full call log.
struct LogFull;

impl Eval<'_> {
    fn ops(&mut self, ops: &[Op]) -> Result<(), LogFull> {
        ops.iter().try_for_each(|op| self.op(op))
    }

    fn op(&mut self, op: &Op) -> Result<(), LogFull> {
        self.steps += 1;
        let v = |e: &Self, x: crate::model::program::Val| e.values[x.0 as usize];
        match op {
            Op::Const { dst, imm } => self.values[dst.0 as usize] = *imm,
            Op::Alu { op, dst, a, b } => {
                self.values[dst.0 as usize] = alu(*op, v(self, *a), v(self, *b));
            }
            Op::Shift {
                op,
                dst,
                src,
                amount,
            } => {
                let s = v(self, *src);
                self.values[dst.0 as usize] = match op {
                    ShiftOp::Lsl => s << amount,
                    ShiftOp::Lsr => s >> amount,
                };
            }
            Op::Load { dst, slot } => {
                let at = 8 * *slot as usize;
                let q = u64::from_le_bytes(self.scratch[at..at + 8].try_into().unwrap());
                self.values[dst.0 as usize] = q;
            }
            Op::Store { slot, src } => {
                let at = 8 * *slot as usize;
                let q = v(self, *src).to_le_bytes();
                self.scratch[at..at + 8].copy_from_slice(&q);
            }
            Op::Call { dst, helper, args } => self.call(op, *dst, *helper, args)?,
            Op::If {
                cmp,
                a,
                b,
                then,
                els,
            } => {
                let taken = holds(*cmp, v(self, *a), v(self, *b));
                self.ops(if taken { then } else { els })?;
            }
            Op::Loop { count, body } => {
                for pass in 0..*count {
                    self.steps += 1;
                    self.counters.push(u64::from(LOOP_END - count + pass));
                    let done = self.ops(body);
                    self.counters.pop();
                    done?;
                }
            }
        }
        Ok(())
    }

    fn call(
        &mut self,
        op: &Op,
        dst: Option<crate::model::program::Val>,
        helper: u16,
        args: &[crate::model::program::Val],
    ) -> Result<(), LogFull> {
        if self.calls.len() as u64 >= LOG_CAPACITY {
            return Err(LogFull);
        }
        for (i, a) in args.iter().enumerate() {
            self.regs[i] = self.values[a.0 as usize];
        }
        self.calls.push(ExpectedCall {
            helper,
            entry: self.program.helpers[helper as usize].addr,
            regs: self.regs,
            counters: self.counters.clone(),
            site: self.site_of[&(op as *const Op)],
            arity: args.len() as u8,
        });
        let arity = self.program.helpers[helper as usize].arity;
        let x0_7: [u64; 8] = std::array::from_fn(|n| self.regs[n]);
        let r = helper_result(helper as usize, arity, &x0_7);
        self.regs = std::array::from_fn(|n| r.wrapping_add(n as u64));
        if let Some(d) = dst {
            self.values[d.0 as usize] = r;
        }
        Ok(())
    }
}

/// `a op b` on 64-bit values, as the model defines each operation.
fn alu(op: AluOp, a: u64, b: u64) -> u64 {
    match op {
        AluOp::Add => a.wrapping_add(b),
        AluOp::Sub => a.wrapping_sub(b),
        AluOp::And => a & b,
        AluOp::Orr => a | b,
        AluOp::Eor => a ^ b,
        AluOp::Mul => a.wrapping_mul(b),
    }
}

/// Does `a cmp b` hold?
fn holds(cmp: CmpOp, a: u64, b: u64) -> bool {
    match cmp {
        CmpOp::Eq => a == b,
        CmpOp::Ne => a != b,
        CmpOp::Ult => a < b,
        CmpOp::Uge => a >= b,
        CmpOp::Ugt => a > b,
        CmpOp::Ule => a <= b,
        CmpOp::Slt => (a as i64) < (b as i64),
        CmpOp::Sge => (a as i64) >= (b as i64),
    }
}

/// The first way `outcome` differs from `expected`, in words; `site_of_return` maps a logged
/// return address to the static call site it follows (from the code that ran). Runaway code is
/// judged on the calls it made before its limit stopped it.
pub fn judge_run(
    expected: &Expected,
    outcome: &Outcome,
    site_of_return: impl Fn(u64) -> Option<u32>,
) -> Result<(), (Option<usize>, String)> {
    let runaway = outcome.exit == Exit::Runaway;
    if let Some(d) = first_call_difference(expected, outcome, &site_of_return, runaway) {
        return Err(d);
    }
    if runaway {
        return Err((
            Some(outcome.calls.len()),
            format!(
                "runaway (stopped by the engine's limit after {} calls) where the program {}",
                outcome.calls.len(),
                ends(expected.end)
            ),
        ));
    }
    match (expected.end, &outcome.exit) {
        (End::Returned(x0), Exit::Returned) => judge_return(expected, x0, outcome)?,
        (End::LogFull, Exit::Breakpoint(None | Some(crate::machine::runtime::BRK_LOG_FULL))) => {}
        (end, exit) => {
            return Err((
                Some(outcome.calls.len()),
                format!("exit: {exit} where the program {}", ends(end)),
            ))
        }
    }
    judge_scratch(expected, outcome)
}

fn ends(end: End) -> String {
    match end {
        End::Returned(x0) => format!("returns {x0:#x}"),
        End::LogFull => format!("fills the call log ({LOG_CAPACITY} calls)"),
    }
}

fn first_call_difference(
    expected: &Expected,
    outcome: &Outcome,
    site_of_return: &impl Fn(u64) -> Option<u32>,
    prefix_only: bool,
) -> Option<(Option<usize>, String)> {
    for (i, (want, got)) in expected.calls.iter().zip(&outcome.calls).enumerate() {
        let at = |what: String| Some((Some(i), format!("call {i}: {what}")));
        if got.entry != want.entry {
            return at(format!(
                "the routine at {:#x} ran, the program calls h{} at {:#x}",
                got.entry, want.helper, want.entry
            ));
        }
        if let Some(r) = (0..16).find(|&r| got.regs[r] != want.regs[r]) {
            let what = if r < usize::from(want.arity) {
                "the program passes"
            } else {
                "the caller left"
            };
            return at(format!(
                "h{}: x{r} = {:#x}, {what} {:#x}",
                want.helper, got.regs[r], want.regs[r]
            ));
        }
        if got.sp != SP_AT_CALL {
            return at(format!("sp = {:#x}, must be {SP_AT_CALL:#x}", got.sp));
        }
        if let Some(d) = (0..want.counters.len()).find(|&d| got.frame[d] != want.counters[d]) {
            return at(format!(
                "h{}: the caller's loop counter at depth {d} ([sp + {}]) = {:#x}, must be {}",
                want.helper,
                16 + 8 * d,
                got.frame[d],
                want.counters[d]
            ));
        }
        let site = site_of_return(got.ret);
        if site != Some(want.site) {
            return at(format!(
                "returns to {:#x} (site {site:?}), the call is site {}",
                got.ret, want.site
            ));
        }
    }
    let (n, m) = (outcome.calls.len(), expected.calls.len());
    if n > m || (n < m && !prefix_only) {
        return Some((
            Some(n.min(m)),
            format!(
                "{n} helper calls, the program makes {m}{}",
                if n < m {
                    format!(
                        " (the run ended early: {} at pc {:#x})",
                        outcome.exit, outcome.pc
                    )
                } else {
                    String::new()
                }
            ),
        ));
    }
    None
}

fn judge_return(expected: &Expected, x0: u64, o: &Outcome) -> Result<(), (Option<usize>, String)> {
    let mut want: Vec<(usize, u64)> = vec![(0, x0), (28, SCRATCH_ADDR)];
    want.extend((0..NUM_VALUES as usize).map(|n| (19 + n, expected.values[n])));
    want.extend([29, 30].map(|r| (r, layout::initial_reg(r as u8))));
    if let Some(&(r, w)) = want.iter().find(|&&(r, w)| o.regs[r] != w) {
        return Err((
            None,
            format!("x{r} = {:#x} at return, must be {w:#x}", o.regs[r]),
        ));
    }
    if o.sp != STACK_TOP {
        return Err((
            None,
            format!("sp = {:#x} at return, must be {STACK_TOP:#x}", o.sp),
        ));
    }
    Ok(())
}

fn judge_scratch(expected: &Expected, o: &Outcome) -> Result<(), (Option<usize>, String)> {
    if o.scratch.len() != expected.scratch.len() {
        return Err((None, format!("{} scratch bytes read back", o.scratch.len())));
    }
    let Some(slot) = o
        .scratch
        .chunks_exact(8)
        .zip(expected.scratch.chunks_exact(8))
        .position(|(got, want)| got != want)
    else {
        return Ok(());
    };
    let q = |s: &[u8]| u64::from_le_bytes(s[8 * slot..8 * slot + 8].try_into().unwrap());
    Err((
        None,
        format!(
            "scratch slot {slot} = {:#x}, the program leaves {:#x}",
            q(&o.scratch),
            q(&expected.scratch)
        ),
    ))
}
