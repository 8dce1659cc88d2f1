//! Lowering a [`Program`] to machine code under one [`Strategy`].
//!
//! The frame: `stp x29, x30, [sp, #-48]!; mov x29, sp; mov x28, x0` on entry, loop counters at
//! `[sp+16+8*depth]` (counted through IP1, `x17`), and `mov x0, vR; ldp x29, x30, [sp], #48; ret` on exit. Calls move their
//! arguments from `x19..x27` to `x0..x7`, let the strategy emit the call sequence, then copy `x0`
//! to the destination value. Every other operation is the instructions of its own (a `const` is
//! the shortest `movz`/`movn`/`movk` sequence, a load or store one instruction, a loop or `if` a
//! compare and conditional branch).

pub mod strategy;

use crate::asm::buffer::BranchTest;
use crate::asm::buffer::{CodeBuffer, EmitError, Faults, Finished, LabelUse, SizeBreakdown};
use crate::asm::encode::{mov_imm_minimal, AluOp, Cond, Inst, Reg, FP, LR, SP, X17};
use crate::emit::strategy::{Callee, SeqKind, SiteChoice, SizeFallback, Strategy, StrategyId};
use crate::layout::LOOP_END;
use crate::model::program::{Op, Program, ShiftOp, Val};

/// Sabotage for one emission, none by default. Only the planted-bug catalogue builds any other
/// ([`crate::planted::PlantedBug::emit_options`]): emission knows no bug, only these knobs.
#[derive(Clone, Copy, Default)]
pub struct EmitOptions {
    /// Breakages of the buffer to switch on.
    pub(crate) faults: Faults,
    /// Emits the call sequences in place of the strategy asked for (a planted bug's wrapper,
    /// which answers to the same [`Strategy::id`]).
    pub call_emitter: Option<&'static dyn Strategy>,
    /// Materialises each `const` in place of [`mov_imm_minimal`] (a planted bug of the lowering
    /// every strategy shares).
    pub const_emitter: Option<ConstEmitter>,
}

/// How the lowering puts a `const` into a register: the instructions for `(rd, imm)`.
pub type ConstEmitter = fn(Reg, u64) -> Vec<Inst>;

/// One call site of the emitted function.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CallSite {
    /// Static call-site number (order of appearance in the body).
    pub index: u32,
    /// Helper id called.
    pub helper: u16,
    /// Helper address.
    pub target: u64,
    /// Byte offset of the call sequence's first instruction.
    pub start: u32,
    /// Byte offset just after the branch-and-link: the return address minus the base.
    pub ret: u32,
    /// What the strategy did.
    pub choice: SiteChoice,
}

impl CallSite {
    /// Instructions of the inline sequence.
    pub fn inline_insns(&self) -> u32 {
        (self.ret - self.start) / 4
    }
}

/// The result of emitting one program under one strategy.
#[derive(Clone, Debug)]
pub struct Emitted {
    /// The strategy asked for (also when a [`Strategy::size_fallback`] emitted it).
    pub strategy: StrategyId,
    /// Whether the code may be copied to another address: the strategy claims it and the
    /// finished code shows it ([`Finished::position_independent`]).
    pub position_independent: bool,
    /// The finished code (slots, bytes, data ranges, size breakdown).
    pub code: Finished,
    /// Every call site in emission order.
    pub sites: Vec<CallSite>,
}

impl Emitted {
    /// Byte size breakdown.
    pub fn sizes(&self) -> &SizeBreakdown {
        &self.code.sizes
    }

    /// The call site whose return address is `ret` (absolute), if any. Sites are emitted in
    /// increasing offset order, so this is a binary search.
    pub fn site_by_return(&self, ret: u64) -> Option<&CallSite> {
        let off = ret.checked_sub(self.code.base)?;
        let i = self.sites.partition_point(|s| u64::from(s.ret) < off);
        self.sites.get(i).filter(|s| u64::from(s.ret) == off)
    }

    /// The same bytes placed at `base` instead, for strategies that claim position
    /// independence. Position-dependent code (pc-relative references to absolute targets) must be
    /// emitted again for the new address, so it is refused rather than copied.
    pub fn relocated(&self, base: u64) -> Result<Emitted, String> {
        if !self.position_independent {
            return Err(format!(
                "{} code is position-dependent: emit it again at {base:#x} instead of copying it",
                self.strategy
            ));
        }
        let mut e = self.clone();
        e.code.base = base;
        Ok(e)
    }

    /// Copy the bytes to `base` even when the strategy is position-dependent. Exists only so a
    /// test can show what [`Emitted::relocated`] protects against.
    #[doc(hidden)]
    pub fn copied_unchecked(&self, base: u64) -> Emitted {
        let mut e = self.clone();
        e.code.base = base;
        e
    }

    /// Number of call sites that fell back from the strategy's preferred form.
    pub fn fallbacks(&self) -> usize {
        self.sites
            .iter()
            .filter(|s| s.choice.fallback.is_some())
            .count()
    }
}

struct Lower<'a> {
    buf: CodeBuffer,
    program: &'a Program,
    strategy: &'a dyn Strategy,
    konst: ConstEmitter,
    sites: Vec<CallSite>,
}

/// Bytes reserved before each leaf operation: the largest call is 8 argument moves, a 5-word
/// sequence and a result move (14 words); everything else is smaller.
const LEAF_RESERVE: u32 = 64;

/// Emit `program` under `strategy`, or, for a function the strategy must not emit its way, under
/// its [`Strategy::size_fallback`] (recorded at each far call site).
pub fn emit(
    program: &Program,
    strategy: &dyn Strategy,
    opts: &EmitOptions,
) -> Result<Emitted, EmitError> {
    let emitter: &dyn Strategy = opts.call_emitter.unwrap_or(strategy);
    let l = lower(program, emitter, opts);
    if let Some(fallback) = strategy.size_fallback() {
        if l.buf.code_and_pool_len() >= fallback.limit {
            return emit_instead(program, strategy, &fallback);
        }
    }
    let code = l.buf.finish()?;
    Ok(Emitted {
        strategy: strategy.id(),
        position_independent: strategy.position_independent() && code.position_independent,
        code,
        sites: l.sites,
    })
}

/// `program` emitted by `fallback.strategy` in place of `strategy`: named after `strategy`, each
/// site that is not a direct `bl` marked with the reason.
fn emit_instead(
    program: &Program,
    strategy: &dyn Strategy,
    fallback: &SizeFallback,
) -> Result<Emitted, EmitError> {
    let mut e = emit(program, fallback.strategy, &EmitOptions::default())?;
    e.strategy = strategy.id();
    e.position_independent &= strategy.position_independent();
    for s in &mut e.sites {
        if s.choice.kind != SeqKind::DirectBl {
            s.choice.fallback = Some(fallback.why);
        }
    }
    Ok(e)
}

/// The whole function lowered into a buffer not yet finished.
fn lower<'a>(program: &'a Program, strategy: &'a dyn Strategy, opts: &EmitOptions) -> Lower<'a> {
    let mut l = Lower {
        buf: CodeBuffer::with_faults(program.code_base, opts.faults),
        program,
        strategy,
        konst: opts.const_emitter.unwrap_or(mov_imm_minimal),
        sites: Vec::new(),
    };
    l.buf.set_pool_placement(strategy.pool_placement());
    l.buf.push_all(&[
        Inst::StpPre {
            rt: FP,
            rt2: LR,
            rn: SP,
            imm7: -6,
        },
        Inst::AddImm {
            rd: FP,
            rn: SP,
            imm12: 0,
        },
        Inst::MovReg { rd: 28, rm: 0 },
    ]);
    l.ops(&program.body, 0);
    l.buf.reserve(LEAF_RESERVE);
    l.buf.push_all(&[
        Inst::MovReg {
            rd: 0,
            rm: program.ret.reg(),
        },
        Inst::LdpPost {
            rt: FP,
            rt2: LR,
            rn: SP,
            imm7: 6,
        },
        Inst::Ret,
    ]);
    l
}

impl Lower<'_> {
    fn ops(&mut self, ops: &[Op], depth: u16) {
        for op in ops {
            self.buf.reserve(LEAF_RESERVE);
            self.op(op, depth);
        }
    }

    fn op(&mut self, op: &Op, depth: u16) {
        match op {
            Op::Call { dst, helper, args } => self.call(*dst, *helper, args),
            Op::If {
                cmp,
                a,
                b,
                then,
                els,
            } => self.if_else(cmp.cond(), a.reg(), b.reg(), (then, els), depth),
            Op::Loop { count, body } => self.counted_loop(*count, body, depth),
            leaf => self.leaf(leaf),
        }
    }

    /// An operation without calls or control flow: its instructions.
    fn leaf(&mut self, op: &Op) {
        let konst = self.konst;
        let b = &mut self.buf;
        match op {
            Op::Const { dst, imm } => b.push_all(&konst(dst.reg(), *imm)),
            Op::Alu { op, dst, a, b: rb } => b.push(Inst::Alu {
                op: *op,
                rd: dst.reg(),
                rn: a.reg(),
                rm: rb.reg(),
            }),
            Op::Shift {
                op,
                dst,
                src,
                amount,
            } => {
                let (rd, rn, shift) = (dst.reg(), src.reg(), *amount);
                b.push(match op {
                    ShiftOp::Lsl => Inst::Lsl { rd, rn, shift },
                    ShiftOp::Lsr => Inst::Lsr { rd, rn, shift },
                })
            }
            Op::Load { dst, slot } => b.push(Inst::LdrImm {
                rt: dst.reg(),
                rn: 28,
                imm12: *slot,
            }),
            Op::Store { slot, src } => b.push(Inst::StrImm {
                rt: src.reg(),
                rn: 28,
                imm12: *slot,
            }),
            Op::Call { .. } | Op::If { .. } | Op::Loop { .. } => {
                unreachable!("Lower::op handles calls and control flow")
            }
        }
    }

    /// Arguments into x0.., the strategy's call sequence (recorded as a call site), the result
    /// into `dst`.
    fn call(&mut self, dst: Option<Val>, helper: u16, args: &[Val]) {
        let b = &mut self.buf;
        for (i, a) in args.iter().enumerate() {
            b.push(Inst::MovReg {
                rd: i as u8,
                rm: a.reg(),
            });
        }
        let target = self.program.helpers[helper as usize].addr;
        let start = b.offset();
        let callee = Callee {
            target,
            anchor: self.program.anchor,
        };
        let choice = self.strategy.emit_call(b, callee);
        let ret = b.offset();
        self.sites.push(CallSite {
            index: self.sites.len() as u32,
            helper,
            target,
            start,
            ret,
            choice,
        });
        if let Some(d) = dst {
            self.buf.push(Inst::MovReg { rd: d.reg(), rm: 0 });
        }
    }

    /// `<test> else; then...; [b end; else: els...;] end:`, where the test of `a cond b` is
    /// `cmp a, b; b.<!cond>`, except for equality: `eor x17, a, b; cbnz x17` for `eq` and
    /// `cbz x17` for `ne` (as many instructions either way; the lowering's registers above
    /// `x15` are its own, see [`Lower::counted_loop`]).
    fn if_else(&mut self, cond: Cond, a: u8, b: u8, (then, els): (&[Op], &[Op]), depth: u16) {
        let else_l = self.buf.new_label();
        let to_else = match cond {
            Cond::Eq | Cond::Ne => {
                self.buf.push(Inst::Alu {
                    op: AluOp::Eor,
                    rd: X17,
                    rn: a,
                    rm: b,
                });
                BranchTest::Zero {
                    rt: X17,
                    nonzero: cond == Cond::Eq,
                }
            }
            _ => {
                self.buf.push(Inst::CmpReg { rn: a, rm: b });
                BranchTest::Flags(cond.invert())
            }
        };
        self.buf.branch_if(to_else, else_l);
        self.ops(then, depth);
        if els.is_empty() {
            self.buf.bind(else_l);
            return;
        }
        let end = self.buf.new_label();
        self.buf
            .push_use(Inst::B { offset: 0 }, end, LabelUse::Branch26);
        self.buf.bind(else_l);
        self.ops(els, depth);
        self.buf.bind(end);
    }

    /// The loop's pass counter in `[sp + 8 * (2 + depth)]`, counting up through IP1 (`x17`)
    /// from `16 - count` to 16: after each pass of `body` it is incremented, and the loop goes
    /// round while bit 4 is clear (`tbz x17, #4`), so `body` runs exactly `count` times
    /// (1..=16). The lowering writes no register below `x16` but the values and the call
    /// arguments (the reference evaluation predicts `x8..x15` at every helper entry from that,
    /// and the counter slots too).
    fn counted_loop(&mut self, count: u8, body: &[Op], depth: u16) {
        let slot = 2 + depth;
        let (ldr, str) = (
            Inst::LdrImm {
                rt: X17,
                rn: SP,
                imm12: slot,
            },
            Inst::StrImm {
                rt: X17,
                rn: SP,
                imm12: slot,
            },
        );
        let init = Inst::Movz {
            rd: X17,
            imm16: u16::from(LOOP_END - count),
            hw: 0,
        };
        self.buf.push_all(&[init, str]);
        let top = self.buf.new_label();
        self.buf.bind(top);
        self.ops(body, depth + 1);
        self.buf.reserve(LEAF_RESERVE);
        let inc = Inst::AddImm {
            rd: X17,
            rn: X17,
            imm12: 1,
        };
        self.buf.push_all(&[ldr, inc, str]);
        let not_done = BranchTest::Bit {
            rt: X17,
            bit: LOOP_END.trailing_zeros() as u8,
            nonzero: false,
        };
        self.buf.branch_if(not_done, top);
    }
}

/// Summary numbers of one emission, all exact.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EmitStats {
    /// Total bytes (body + pool + stubs).
    pub total_bytes: u64,
    /// Byte breakdown.
    pub sizes: SizeBreakdown,
    /// Static call sites.
    pub call_sites: u32,
    /// Inline instructions over all call sites.
    pub inline_call_insns: u64,
    /// Instructions executed per call summed statically (inline + stub).
    pub executed_call_insns: u64,
    /// Sites per sequence kind.
    pub kinds: Vec<(SeqKind, u32)>,
    /// Sites that fell back.
    pub fallbacks: u32,
}

impl Emitted {
    /// Exact static statistics.
    pub fn stats(&self) -> EmitStats {
        let mut kinds: Vec<(SeqKind, u32)> = Vec::new();
        for s in &self.sites {
            match kinds.iter_mut().find(|(k, _)| *k == s.choice.kind) {
                Some((_, n)) => *n += 1,
                None => kinds.push((s.choice.kind, 1)),
            }
        }
        kinds.sort();
        EmitStats {
            total_bytes: self.code.bytes.len() as u64,
            sizes: self.code.sizes.clone(),
            call_sites: self.sites.len() as u32,
            inline_call_insns: self.sites.iter().map(|s| u64::from(s.inline_insns())).sum(),
            executed_call_insns: self
                .sites
                .iter()
                .map(|s| u64::from(s.inline_insns() + s.choice.kind.out_of_line_insns()))
                .sum(),
            kinds,
            fallbacks: self.fallbacks() as u32,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::gen::from_seed;

    /// Each strategy's claim agrees with what its code shows (buffer invariant 7): a strategy
    /// that claims position independence never emits a reference outside the function, and each
    /// one that does not claim it emits one for some program.
    #[test]
    fn position_independence_claims_match_the_code() {
        for s in strategy::all() {
            let mut dependent = false;
            for prof in [
                crate::model::profile::BuiltIn::Default,
                crate::model::profile::BuiltIn::Far64,
                crate::model::profile::BuiltIn::Cinderx,
            ] {
                let p = prof.profile();
                for seed in 0..20 {
                    let e = emit(&from_seed(seed, &p), s, &EmitOptions::default()).unwrap();
                    assert!(
                        !s.position_independent() || e.code.position_independent,
                        "{} {prof} seed {seed}: claims independence, code refers outside",
                        s.name()
                    );
                    assert_eq!(
                        e.position_independent,
                        e.code.position_independent && s.position_independent()
                    );
                    dependent |= !e.code.position_independent;
                }
            }
            assert_eq!(dependent, !s.position_independent(), "{}", s.name());
        }
    }

    /// A `bl` pushed without a label use (as a planted bug does) still makes the code
    /// position-dependent: the buffer derives it from the slots, not from how they were pushed.
    #[test]
    fn a_raw_branch_out_of_the_function_is_position_dependent() {
        let mut b = CodeBuffer::new(0x1000_0000);
        b.push(Inst::Bl { offset: 0x100 });
        b.push(Inst::Ret);
        assert!(!b.finish().unwrap().position_independent);
        let mut b = CodeBuffer::new(0x1000_0000);
        b.push(Inst::Bl { offset: 4 });
        b.push(Inst::Ret);
        assert!(b.finish().unwrap().position_independent);
    }
}
