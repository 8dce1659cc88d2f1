//! Exact measurements per strategy and profile: bytes, instructions per call site, instructions
//! executed and taken branches per call, and the distance to the physical floor (a direct `bl`:
//! 4 bytes, 1 instruction, 1 taken branch).
//!
//! Everything here is a count, reproducible exactly for the same seeds. Executed counts come from
//! Unicorn's block counts, split into call-sequence and other instructions without trusting any
//! strategy: the non-call instructions executed are derived from the `movz-min` run (inline
//! sequences only, no islands or stubs) and must come out identical from every strategy without
//! islands, which is checked. Time is deliberately absent: emulated time is not ARM time
//! (`cargo bench` measures engine time separately).

use crate::differential::{run_unicorn, Config};
use crate::emit::strategy::{self, Strategy, StrategyId};
use crate::emit::Emitted;
use crate::engine::Outcome;
use crate::model::gen;
use crate::model::profile::Profile;

/// Sums for one strategy over a profile's programs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tally {
    /// The strategy.
    pub strategy: StrategyId,
    /// Programs measured.
    pub programs: u64,
    /// Static call sites.
    pub sites: u64,
    /// Calls executed.
    pub calls: u64,
    /// Total code bytes (function, pools, stubs).
    pub total_bytes: u64,
    /// Pool bytes (entries, padding, island branches).
    pub pool_bytes: u64,
    /// Stub bytes.
    pub stub_bytes: u64,
    /// Bytes attributable to calls: total minus the bytes of everything that is not a call
    /// sequence, pool or stub.
    pub call_bytes: u64,
    /// Inline instructions over all call sites.
    pub inline_insns: u64,
    /// Instructions executed for calls (inline, stubs, island branches).
    pub exec_call_insns: u64,
    /// Taken branches executed for calls (link, stub branch, island branches).
    pub taken_branches: u64,
    /// Instructions executed inside the function, as Unicorn counted them.
    pub in_code_insns: u64,
    /// Call sites where the strategy fell back.
    pub fallbacks: u64,
    /// Islands placed.
    pub islands: u64,
    /// Total bytes of each program, in seed order (for per-function thresholds).
    pub per_program_bytes: Vec<u64>,
}

impl Tally {
    /// All sums zero.
    pub fn new(strategy: StrategyId) -> Tally {
        Tally {
            strategy,
            programs: 0,
            sites: 0,
            calls: 0,
            total_bytes: 0,
            pool_bytes: 0,
            stub_bytes: 0,
            call_bytes: 0,
            inline_insns: 0,
            exec_call_insns: 0,
            taken_branches: 0,
            in_code_insns: 0,
            fallbacks: 0,
            islands: 0,
            per_program_bytes: Vec::new(),
        }
    }

    fn ratio(a: u64, b: u64) -> f64 {
        if b == 0 {
            0.0
        } else {
            a as f64 / b as f64
        }
    }
    /// Call bytes per static call site.
    pub fn bytes_per_site(&self) -> f64 {
        Self::ratio(self.call_bytes, self.sites)
    }
    /// Inline instructions per static call site.
    pub fn inline_per_site(&self) -> f64 {
        Self::ratio(self.inline_insns, self.sites)
    }
    /// Instructions executed per call.
    pub fn exec_per_call(&self) -> f64 {
        Self::ratio(self.exec_call_insns, self.calls)
    }
    /// Taken branches per call.
    pub fn branches_per_call(&self) -> f64 {
        Self::ratio(self.taken_branches, self.calls)
    }
    /// Code bytes per function.
    pub fn bytes_per_function(&self) -> f64 {
        Self::ratio(self.total_bytes, self.programs)
    }
    /// Pool bytes per function.
    pub fn pool_bytes_per_function(&self) -> f64 {
        Self::ratio(self.pool_bytes, self.programs)
    }
    /// Stub bytes per function.
    pub fn stub_bytes_per_function(&self) -> f64 {
        Self::ratio(self.stub_bytes, self.programs)
    }
}

/// One profile's measurements.
#[derive(Clone, Debug, PartialEq)]
pub struct ProfileReport {
    /// The profile.
    pub profile: Profile,
    /// First seed; programs use seeds `first_seed..first_seed + programs`.
    pub first_seed: u64,
    /// One tally per strategy, in strategy order.
    pub tallies: Vec<Tally>,
}

/// Bytes of the non-call part of a function: its body minus its inline call sequences.
fn noncall_bytes(e: &Emitted) -> u64 {
    e.code.sizes.body
        - e.sites
            .iter()
            .map(|s| 4 * u64::from(s.inline_insns()))
            .sum::<u64>()
}

/// Instructions executed by call sequences in one run, from the call log mapped to sites.
fn callseq_exec(e: &Emitted, o: &Outcome) -> Result<(u64, u64), String> {
    let (mut insns, mut branches) = (0, 0);
    for c in &o.calls {
        let s = e.site_by_return(c.ret).ok_or_else(|| {
            format!(
                "{}: a call returned to {:#x}, not after a call site",
                e.strategy, c.ret
            )
        })?;
        insns += u64::from(s.inline_insns() + s.choice.kind.out_of_line_insns());
        branches += u64::from(s.choice.kind.taken_branches());
    }
    Ok((insns, branches))
}

/// Measure `programs` programs of `profile` from `first_seed` under every strategy.
pub fn measure_profile(
    profile: &Profile,
    first_seed: u64,
    programs: u64,
) -> Result<ProfileReport, String> {
    let strategies: Vec<&'static dyn Strategy> = strategy::all();
    let mut tallies: Vec<Tally> = strategies.iter().map(|s| Tally::new(s.id())).collect();
    for seed in first_seed..first_seed + programs {
        let p = gen::from_seed(seed, profile);
        let r = run_unicorn(&p, &Config::with_strategies(strategies.clone()))
            .map_err(|e| e.to_string())?;
        if let Some(f) = r.finding {
            return Err(format!(
                "profile {} seed {seed}: {}",
                profile.name,
                f.summary()
            ));
        }
        let k = (r.emitted.iter())
            .position(|e| e.strategy == strategy::reference().id())
            .ok_or("the reference strategy emitted nothing")?;
        let reference = &r.emitted[k];
        let noncall = noncall_bytes(reference);
        let ro = (r.outcomes.iter())
            .find(|(i, _, _)| *i == k)
            .map(|(_, _, o)| o)
            .ok_or("the reference strategy did not run")?;
        let (ref_call_exec, _) = callseq_exec(reference, ro)?;
        let ref_in_code = ro
            .insns
            .ok_or("Unicorn gave no instruction counts")?
            .in_code;
        let noncall_exec = ref_in_code - ref_call_exec;
        for ((i, _, o), t) in r.outcomes.iter().zip(tallies.iter_mut()) {
            add_program(t, &r.emitted[*i], o, (noncall, noncall_exec), seed)?;
        }
    }
    Ok(ProfileReport {
        profile: profile.clone(),
        first_seed,
        tallies,
    })
}

/// Add one program's run under one strategy to its tally. `noncall` is the reference's
/// (non-call bytes, non-call instructions executed), which every strategy must match.
fn add_program(
    t: &mut Tally,
    e: &Emitted,
    o: &Outcome,
    (noncall, noncall_exec): (u64, u64),
    seed: u64,
) -> Result<(), String> {
    if noncall_bytes(e) != noncall {
        return Err(format!(
            "{}: non-call bytes {} differ from {}'s {noncall} (seed {seed})",
            e.strategy,
            noncall_bytes(e),
            strategy::reference().id()
        ));
    }
    let in_code = o.insns.ok_or("Unicorn gave no instruction counts")?.in_code;
    let (seq, br) = callseq_exec(e, o)?;
    let island_branches = (in_code - noncall_exec).checked_sub(seq).ok_or_else(|| {
        format!(
            "{}: fewer instructions than its call sequences (seed {seed})",
            e.strategy
        )
    })?;
    if island_branches > 0 && e.code.sizes.islands == 0 {
        return Err(format!(
            "{}: {island_branches} unexplained instructions executed (seed {seed})",
            e.strategy
        ));
    }
    t.programs += 1;
    t.sites += e.sites.len() as u64;
    t.calls += o.calls.len() as u64;
    t.total_bytes += e.code.bytes.len() as u64;
    t.pool_bytes += e.code.sizes.pool;
    t.stub_bytes += e.code.sizes.stubs;
    t.call_bytes += e.code.bytes.len() as u64 - noncall;
    t.inline_insns += e
        .sites
        .iter()
        .map(|s| u64::from(s.inline_insns()))
        .sum::<u64>();
    t.exec_call_insns += seq + island_branches;
    t.taken_branches += br + island_branches;
    t.in_code_insns += in_code;
    t.fallbacks += e.fallbacks() as u64;
    t.islands += u64::from(e.code.sizes.islands);
    t.per_program_bytes.push(e.code.bytes.len() as u64);
    Ok(())
}

/// A whole report.
#[derive(Clone, Debug, PartialEq)]
pub struct Report {
    /// Commit of a64call that produced it, when known.
    pub commit: String,
    /// Programs per profile.
    pub programs: u64,
    /// Per profile.
    pub profiles: Vec<ProfileReport>,
}

/// The commit of the working tree a64call runs from, if it is a git checkout.
pub fn current_commit() -> String {
    std::process::Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "unknown".into())
}

/// Measure every named profile.
pub fn measure(profiles: &[Profile], first_seed: u64, programs: u64) -> Result<Report, String> {
    measure_with_progress(profiles, first_seed, programs, |_, _| {})
}

/// [`measure`], calling `starting` with each profile and its index before measuring it (for a
/// progress bar).
pub fn measure_with_progress(
    profiles: &[Profile],
    first_seed: u64,
    programs: u64,
    mut starting: impl FnMut(usize, &Profile),
) -> Result<Report, String> {
    let profiles = profiles
        .iter()
        .enumerate()
        .map(|(i, p)| {
            starting(i, p);
            measure_profile(p, first_seed, programs)
        })
        .collect::<Result<_, _>>()?;
    Ok(Report {
        commit: current_commit(),
        programs,
        profiles,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn far64_counts_are_exact_and_reproducible() {
        let prof = crate::model::profile::BuiltIn::Far64.profile();
        let a = measure_profile(&prof, 1, 3).unwrap();
        assert_eq!(a, measure_profile(&prof, 1, 3).unwrap());
        let t = |id: StrategyId| a.tallies.iter().find(|t| t.strategy == id).unwrap().clone();
        // far64 is straight-line: every site runs once.
        for tally in &a.tallies {
            assert_eq!(tally.calls, tally.sites);
        }
        assert_eq!(
            t(StrategyId::LiteralPool).exec_call_insns,
            2 * t(StrategyId::LiteralPool).calls
        );
        assert_eq!(
            t(StrategyId::LiteralPool).taken_branches,
            t(StrategyId::LiteralPool).calls
        );
        assert_eq!(
            t(StrategyId::StubCall).exec_call_insns,
            3 * t(StrategyId::StubCall).calls
        );
        assert_eq!(
            t(StrategyId::StubCall).taken_branches,
            2 * t(StrategyId::StubCall).calls
        );
        assert_eq!(
            t(StrategyId::MovzFixed4).exec_call_insns,
            5 * t(StrategyId::MovzFixed4).calls
        );
        assert_eq!(
            t(StrategyId::MovzMinimal).exec_call_insns,
            t(StrategyId::MovzMinimal).inline_insns
        );
        assert!(t(StrategyId::LiteralPool).total_bytes < t(StrategyId::MovzMinimal).total_bytes);
    }
}
