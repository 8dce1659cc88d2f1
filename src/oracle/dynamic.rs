//! The dynamic oracle: compares runs of one program and checks each run's own invariants.
//!
//! It knows no strategy's or engine's workings, only their identities (a strategy's
//! [`StrategyId`], an [`EngineKind`] and whether the code was moved: [`RunOn`]), the emitted code (to map return addresses to call sites and
//! to print disassembly) and the outcomes.
//!
//! * **Per run:** every helper call has `sp % 16 == 0`, returns to just after a call site of the
//!   function, and that site is a call to the helper that ran; a returned function has restored
//!   `sp`.
//! * **Against the reference ([`super::reference`]), per strategy:** each run must do what the
//!   program's model says. When every engine's run of a strategy differs from the reference the
//!   code is wrong: a [`Kind::WrongResult`] (a fault all strategies share is one too). When
//!   some engines match and others do not, the same bytes behaved differently: an
//!   [`Kind::EngineDisagreement`].
//! * **Across engines (same bytes):** exit, pc, x0..x30, sp, NZCV, scratch memory and call log
//!   must be identical. A difference is an [`Kind::EngineDisagreement`].
//! * **Across strategies:** exit class, x0..x30 except x16/x17, sp, NZCV, scratch memory, and the
//!   call log (helper, x0..x15, sp, call-site number) must be identical. A difference is a
//!   [`Kind::StrategyDivergence`].

use crate::emit::strategy::StrategyId;
use crate::emit::Emitted;
use crate::engine::{EngineKind, Exit, Outcome};
use crate::layout::STACK_TOP;
use crate::oracle::check::disassemble;
use crate::oracle::reference::{self, Expected};
use crate::Named;

/// Where a run ran: an engine, on the code as emitted or on a copy moved to another address
/// (the relocation oracle).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RunOn {
    /// The engine.
    pub engine: EngineKind,
    /// Whether the code ran moved from where it was emitted.
    pub moved: bool,
}

impl RunOn {
    /// The code as emitted, on `engine`.
    pub fn emitted(engine: EngineKind) -> RunOn {
        RunOn {
            engine,
            moved: false,
        }
    }

    /// The code moved to another address, on `engine`.
    pub fn moved(engine: EngineKind) -> RunOn {
        RunOn {
            engine,
            moved: true,
        }
    }
}

impl std::fmt::Display for RunOn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let moved = if self.moved { " (moved)" } else { "" };
        write!(f, "{}{moved}", self.engine.name())
    }
}

/// One run to compare.
#[derive(Clone, Copy)]
pub struct Run<'a> {
    /// The strategy.
    pub strategy: StrategyId,
    /// Where it ran.
    pub on: RunOn,
    /// The code that ran.
    pub emitted: &'a Emitted,
    /// What happened.
    pub outcome: &'a Outcome,
}

/// What kind of finding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// One run broke an invariant on its own.
    Invariant,
    /// Two strategies disagree on one engine: a miscompile.
    StrategyDivergence,
    /// Two engines disagree on the same bytes: an emulator or harness bug.
    EngineDisagreement,
    /// A strategy's code, on every engine, does not do what the program's model says: a
    /// miscompile, whether or not other strategies share it.
    WrongResult,
}

impl Kind {
    /// Report label.
    pub fn label(self) -> &'static str {
        match self {
            Kind::Invariant => "invariant violated",
            Kind::StrategyDivergence => "strategy divergence",
            Kind::EngineDisagreement => "engine disagreement",
            Kind::WrongResult => "wrong result (against the program's reference evaluation)",
        }
    }
}

/// The first difference found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Divergence {
    /// What kind.
    pub kind: Kind,
    /// The runs involved: one for an invariant, two otherwise.
    pub runs: Vec<(StrategyId, RunOn)>,
    /// The first difference, in words.
    pub what: String,
    /// Disassembly around the difference, one block per run.
    pub context: String,
}

impl std::fmt::Display for Divergence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let runs: Vec<String> = self.runs.iter().map(|(s, e)| format!("{s}@{e}")).collect();
        writeln!(
            f,
            "{}: {} [{}]",
            self.kind.label(),
            self.what,
            runs.join(" vs ")
        )?;
        write!(f, "{}", self.context)
    }
}

/// Disassembly around call `call` of `run` (or around its last call, or its epilogue).
fn context_for(run: &Run, call: Option<usize>) -> String {
    let e = run.emitted;
    let idx = call
        .unwrap_or(usize::MAX)
        .min(run.outcome.calls.len().saturating_sub(1));
    let site = run
        .outcome
        .calls
        .get(idx)
        .and_then(|c| e.site_by_return(c.ret));
    let mut s = format!("--- {} on {} ---\n", run.strategy, run.on);
    match site {
        Some(site) => {
            s.push_str(&disassemble(
                e,
                site.start.saturating_sub(16)..site.ret + 12,
            ));
            let stub = e
                .code
                .slots
                .get((site.ret / 4 - 1) as usize)
                .and_then(|sl| match sl {
                    crate::asm::buffer::Slot::Inst(crate::asm::encode::Inst::Bl { offset }) => {
                        Some(i64::from(site.ret) - 4 + i64::from(*offset))
                    }
                    _ => None,
                });
            if let Some(st) = stub.filter(|&st| st >= 0 && (st as usize) < e.code.bytes.len()) {
                s.push_str("  ... stub:\n");
                s.push_str(&disassemble(e, st as u32..st as u32 + 16));
            }
        }
        None => {
            let end = e.code.sizes.body as u32;
            s.push_str(&disassemble(e, end.saturating_sub(32)..end));
        }
    }
    s
}

fn diverge(kind: Kind, a: &Run, b: Option<&Run>, what: String, call: Option<usize>) -> Divergence {
    let mut runs = vec![(a.strategy, a.on)];
    let mut context = context_for(a, call);
    if let Some(b) = b {
        runs.push((b.strategy, b.on));
        context.push_str(&context_for(b, call));
    }
    Divergence {
        kind,
        runs,
        what,
        context,
    }
}

/// The helper routine at `entry` as a finding names it: `h<id>` when a call site of `emitted`
/// targets it, else its address (a routine the program calls from nowhere, such as another
/// slot of a helper bank).
fn routine(emitted: &Emitted, entry: u64) -> String {
    match emitted.sites.iter().find(|s| s.target == entry) {
        Some(s) => format!("h{}", s.helper),
        None => format!("the routine at {entry:#x}"),
    }
}

/// Check the invariants of a single run.
pub fn check_run(run: &Run) -> Result<(), Divergence> {
    for (i, c) in run.outcome.calls.iter().enumerate() {
        let bad = |what: String| {
            Err(diverge(
                Kind::Invariant,
                run,
                None,
                format!("call {i}: {what}"),
                Some(i),
            ))
        };
        if c.sp % 16 != 0 {
            return bad(format!("sp {:#x} is not 16-byte aligned at the call", c.sp));
        }
        let Some(site) = run.emitted.site_by_return(c.ret) else {
            return bad(format!(
                "return address {:#x} is not just after a call site of the function",
                c.ret
            ));
        };
        if site.target != c.entry {
            return bad(format!(
                "call site #{} calls h{} at {:#x}, but {} ran",
                site.index,
                site.helper,
                site.target,
                routine(run.emitted, c.entry)
            ));
        }
    }
    if run.outcome.exit == Exit::Returned && run.outcome.sp != STACK_TOP {
        let what = format!(
            "returned with sp {:#x}, entered with {STACK_TOP:#x}",
            run.outcome.sp
        );
        return Err(diverge(Kind::Invariant, run, None, what, None));
    }
    Ok(())
}

/// The first call that differs; with `prefix_only` (runaway code, stopped at an arbitrary
/// point by each run's limit) only the calls both runs made are compared.
fn first_call_difference(
    a: &Run,
    b: &Run,
    same_bytes: bool,
    prefix_only: bool,
) -> Option<(usize, String)> {
    let (ca, cb) = (&a.outcome.calls, &b.outcome.calls);
    for (i, (x, y)) in ca.iter().zip(cb.iter()).enumerate() {
        // Named only when a difference is reported: this loop runs for every call of every
        // comparison.
        let h = || routine(a.emitted, x.entry);
        if x.entry != y.entry {
            let other = routine(b.emitted, y.entry);
            return Some((i, format!("call {i}: {} vs {other}", h())));
        }
        if let Some(r) = (0..16).find(|&r| x.regs[r] != y.regs[r]) {
            return Some((
                i,
                format!(
                    "call {i} to {}: x{r} = {:#x} vs {:#x}",
                    h(),
                    x.regs[r],
                    y.regs[r]
                ),
            ));
        }
        if x.sp != y.sp {
            return Some((
                i,
                format!("call {i} to {}: sp {:#x} vs {:#x}", h(), x.sp, y.sp),
            ));
        }
        let site = |r: &Run, ret| r.emitted.site_by_return(ret).map(|s| s.index);
        let differs = if same_bytes {
            x.ret != y.ret
        } else {
            site(a, x.ret) != site(b, y.ret)
        };
        if differs {
            return Some((
                i,
                format!(
                    "call {i} to {}: returns to {:#x} (site {:?}) vs {:#x} (site {:?})",
                    h(),
                    x.ret,
                    site(a, x.ret),
                    y.ret,
                    site(b, y.ret)
                ),
            ));
        }
    }
    if ca.len() != cb.len() && !prefix_only {
        let i = ca.len().min(cb.len());
        return Some((i, format!("{} helper calls vs {}", ca.len(), cb.len())));
    }
    None
}

fn first_state_difference(a: &Outcome, b: &Outcome, same_bytes: bool) -> Option<String> {
    for r in 0..31usize {
        if !same_bytes && (r == 16 || r == 17) {
            continue;
        }
        if a.regs[r] != b.regs[r] {
            return Some(format!("x{r} = {:#x} vs {:#x}", a.regs[r], b.regs[r]));
        }
    }
    if a.sp != b.sp {
        return Some(format!("sp = {:#x} vs {:#x}", a.sp, b.sp));
    }
    if a.nzcv != b.nzcv {
        return Some(format!("nzcv = {:#x} vs {:#x}", a.nzcv, b.nzcv));
    }
    if same_bytes && a.pc != b.pc {
        return Some(format!("pc = {:#x} vs {:#x}", a.pc, b.pc));
    }
    None
}

fn first_scratch_difference(a: &Outcome, b: &Outcome) -> Option<String> {
    let i = a
        .scratch
        .iter()
        .zip(b.scratch.iter())
        .position(|(x, y)| x != y)?;
    let slot = i / 8;
    let q = |s: &[u8]| u64::from_le_bytes(s[slot * 8..slot * 8 + 8].try_into().unwrap());
    Some(format!(
        "scratch slot {slot} = {:#x} vs {:#x}",
        q(&a.scratch),
        q(&b.scratch)
    ))
}

/// Compare two runs. `same_bytes` is true when both ran identical code (an engine comparison).
pub fn compare(a: &Run, b: &Run, same_bytes: bool) -> Result<(), Divergence> {
    let kind = if same_bytes {
        Kind::EngineDisagreement
    } else {
        Kind::StrategyDivergence
    };
    let (oa, ob) = (a.outcome, b.outcome);
    let exit_differs = if same_bytes {
        oa.exit != ob.exit
    } else {
        oa.exit.class() != ob.exit.class()
    };
    if exit_differs {
        let what = format!("exit: {} vs {}", oa.exit, ob.exit);
        let call = oa.calls.len().min(ob.calls.len());
        return Err(diverge(kind, a, Some(b), what, Some(call)));
    }
    // Runaway code stops wherever each run's limit falls: the calls both made must agree, and
    // nothing after that point can be compared.
    let runaway = oa.exit == Exit::Runaway;
    if let Some((i, what)) = first_call_difference(a, b, same_bytes, runaway) {
        return Err(diverge(kind, a, Some(b), what, Some(i)));
    }
    if runaway {
        return Ok(());
    }
    if oa.scratch.len() != ob.scratch.len() {
        return Err(diverge(
            kind,
            a,
            Some(b),
            "scratch buffers differ in length".into(),
            None,
        ));
    }
    if let Some(what) = first_scratch_difference(oa, ob) {
        return Err(diverge(kind, a, Some(b), what, None));
    }
    if oa.exit == Exit::Returned || same_bytes {
        if let Some(what) = first_state_difference(oa, ob, same_bytes) {
            return Err(diverge(kind, a, Some(b), what, None));
        }
    }
    Ok(())
}

/// Check every run's invariants, then every strategy's runs against the reference, then every
/// engine against the first engine for the same strategy, then every strategy against the
/// first strategy (on the runs `pair_for` picks).
pub fn judge(runs: &[Run], expected: &Expected) -> Result<(), Divergence> {
    for r in runs {
        check_run(r)?;
    }
    judge_against_reference(runs, expected)?;
    for r in runs {
        if let Some(first) = runs.iter().find(|x| x.strategy == r.strategy) {
            if first.on != r.on {
                compare(first, r, true)?;
            }
        }
    }
    let Some(first_run) = runs.first() else {
        return Ok(());
    };
    let mut seen = vec![first_run.strategy];
    for r in runs {
        if !seen.contains(&r.strategy) {
            seen.push(r.strategy);
            let (a, b) = pair_for(runs, first_run, r.strategy);
            compare(a, b, false)?;
        }
    }
    Ok(())
}

/// The two runs that compare `strategy` with the first run's strategy: both on the first run's
/// engine if `strategy` ran there; else both on the first engine (in run order) where both ran;
/// else (an image one engine could not run, rerun on another alone) the first run and
/// `strategy`'s first run, so no strategy goes uncompared. In the first two cases the engines
/// have already agreed on each strategy's bytes, so the engine chosen changes only the names in
/// the report; in the last a difference may also be the two engines' (the report names both).
fn pair_for<'r, 'a>(
    runs: &'r [Run<'a>],
    first: &'r Run<'a>,
    strategy: StrategyId,
) -> (&'r Run<'a>, &'r Run<'a>) {
    let of = |s: StrategyId| runs.iter().filter(move |x| x.strategy == s);
    let on_first = of(strategy).find(|x| x.on == first.on);
    let common =
        || of(strategy).find_map(|b| of(first.strategy).find(|a| a.on == b.on).map(|a| (a, b)));
    match on_first {
        Some(b) => (first, b),
        None => common().unwrap_or_else(|| (first, of(strategy).next().expect("a run of it"))),
    }
}

/// A run against the reference: the first difference and the call it is at.
fn against_reference(run: &Run, expected: &Expected) -> Result<(), (Option<usize>, String)> {
    reference::judge_run(expected, run.outcome, |ret| {
        run.emitted.site_by_return(ret).map(|s| s.index)
    })
}

/// Each strategy's runs against the reference, blaming the code when every engine's run is
/// wrong and the engines when only some are.
pub fn judge_against_reference(runs: &[Run], expected: &Expected) -> Result<(), Divergence> {
    let mut seen: Vec<StrategyId> = Vec::new();
    for r in runs {
        if seen.contains(&r.strategy) {
            continue;
        }
        seen.push(r.strategy);
        let mine: Vec<&Run> = runs.iter().filter(|x| x.strategy == r.strategy).collect();
        let verdicts: Vec<_> = mine
            .iter()
            .map(|x| against_reference(x, expected))
            .collect();
        let first_wrong = verdicts
            .iter()
            .enumerate()
            .find_map(|(i, v)| v.as_ref().err().map(|e| (i, e)));
        let Some((bad, (call, what))) = first_wrong else {
            continue;
        };
        let good = verdicts.iter().position(Result::is_ok);
        return Err(match good {
            Some(g) => diverge(
                Kind::EngineDisagreement,
                mine[bad],
                Some(mine[g]),
                format!("{what} (the second run matches the reference)"),
                *call,
            ),
            None => diverge(Kind::WrongResult, mine[bad], None, what.clone(), *call),
        });
    }
    Ok(())
}
