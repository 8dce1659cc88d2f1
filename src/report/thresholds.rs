//! The gate's thresholds: rules over [`measure`](super::measure)'s exact counts, read from a
//! file (`ci/thresholds`). Lines read `PROFILE STRATEGY.METRIC OP VALUE`, where VALUE is a number
//! or `STRATEGY.METRIC`, OP is `<=`, `<`, `==`, `>=`, `>` or `<=each` (every function's value,
//! `bytes` only), and `#` starts a comment. Profiles, strategies, metrics and comparisons are
//! typed when the file is read, so a rule that parsed names only things that exist.

use crate::emit::strategy::StrategyId;
use crate::model::profile::{BuiltIn, Profile};
use crate::report::measure::{ProfileReport, Report, Tally};
use crate::Named;

/// What a rule measures of one strategy's [`Tally`].
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, strum::VariantArray, strum::IntoStaticStr, strum::EnumString,
)]
pub enum Metric {
    /// `bytes`: code bytes per function (mean; per function under `<=each`).
    #[strum(to_string = "bytes")]
    Bytes,
    /// `bytes_per_site`: call bytes per call site.
    #[strum(to_string = "bytes_per_site")]
    BytesPerSite,
    /// `inline_insns_per_site`: inline instructions per call site.
    #[strum(to_string = "inline_insns_per_site")]
    InlineInsnsPerSite,
    /// `exec_insns_per_call`: instructions executed per call.
    #[strum(to_string = "exec_insns_per_call")]
    ExecInsnsPerCall,
    /// `taken_branches_per_call`: taken branches per call.
    #[strum(to_string = "taken_branches_per_call")]
    TakenBranchesPerCall,
    /// `fallback_sites`: call sites that fell back (total).
    #[strum(to_string = "fallback_sites")]
    FallbackSites,
    /// `islands`: pool islands (total).
    #[strum(to_string = "islands")]
    Islands,
}

impl crate::Named for Metric {
    const WHAT: &'static str = "metric";
}

impl Metric {
    fn of(self, t: &Tally) -> f64 {
        match self {
            Metric::Bytes => t.bytes_per_function(),
            Metric::BytesPerSite => t.bytes_per_site(),
            Metric::InlineInsnsPerSite => t.inline_per_site(),
            Metric::ExecInsnsPerCall => t.exec_per_call(),
            Metric::TakenBranchesPerCall => t.branches_per_call(),
            Metric::FallbackSites => t.fallbacks as f64,
            Metric::Islands => t.islands as f64,
        }
    }
}

/// `STRATEGY.METRIC`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MetricRef {
    /// Whose tally.
    pub strategy: StrategyId,
    /// What of it.
    pub metric: Metric,
}

/// A comparison of two values.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, strum::VariantArray, strum::IntoStaticStr, strum::EnumString,
)]
pub enum Cmp {
    /// `<=`
    #[strum(to_string = "<=")]
    Le,
    /// `<`
    #[strum(to_string = "<")]
    Lt,
    /// `==`
    #[strum(to_string = "==")]
    Eq,
    /// `>=`
    #[strum(to_string = ">=")]
    Ge,
    /// `>`
    #[strum(to_string = ">")]
    Gt,
}

impl crate::Named for Cmp {
    const WHAT: &'static str = "comparison";
}

impl Cmp {
    /// Does `l OP r` hold (within 1e-9, for ratios)?
    fn holds(self, l: f64, r: f64) -> bool {
        let eps = 1e-9;
        match self {
            Cmp::Le => l <= r + eps,
            Cmp::Lt => l < r - eps,
            Cmp::Eq => (l - r).abs() <= eps,
            Cmp::Ge => l + eps >= r,
            Cmp::Gt => l > r + eps,
        }
    }
}

/// The right-hand side of a comparison.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Rhs {
    /// A number.
    Number(f64),
    /// Another strategy's metric.
    Metric(MetricRef),
}

/// What a rule asserts.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Assertion {
    /// `lhs OP rhs` on the profile's figures.
    Compare {
        /// Left side.
        lhs: MetricRef,
        /// Comparison.
        cmp: Cmp,
        /// Right side.
        rhs: Rhs,
    },
    /// `A.bytes <=each B.bytes`: function by function, A's code is no larger than B's.
    BytesEach {
        /// The strategy that must be no larger.
        lhs: StrategyId,
        /// The strategy it is compared with.
        rhs: StrategyId,
    },
}

/// One rule of the file.
#[derive(Clone, Debug, PartialEq)]
pub struct Rule {
    /// Line number in the file.
    pub line: usize,
    /// The rule as written.
    pub text: String,
    /// The profile it is about.
    pub profile: Profile,
    /// What it asserts.
    pub assertion: Assertion,
}

fn metric_ref(s: &str, line: usize) -> Result<MetricRef, String> {
    let (st, m) = s
        .rsplit_once('.')
        .ok_or_else(|| format!("line {line}: expected STRATEGY.METRIC, found `{s}`"))?;
    let strategy = StrategyId::parse_name(st).map_err(|e| format!("line {line}: {e}"))?;
    let metric = Metric::parse_name(m).map_err(|e| format!("line {line}: {e}"))?;
    Ok(MetricRef { strategy, metric })
}

fn assertion(lhs: &str, op: &str, rhs: &str, line: usize) -> Result<Assertion, String> {
    let lhs = metric_ref(lhs, line)?;
    let rhs = match rhs.parse::<f64>() {
        Ok(v) => Rhs::Number(v),
        Err(_) => Rhs::Metric(metric_ref(rhs, line)?),
    };
    if op == "<=each" {
        return match rhs {
            Rhs::Metric(r) if lhs.metric == Metric::Bytes && r.metric == Metric::Bytes => {
                Ok(Assertion::BytesEach {
                    lhs: lhs.strategy,
                    rhs: r.strategy,
                })
            }
            _ => Err(format!(
                "line {line}: `<=each` compares STRATEGY.bytes with STRATEGY.bytes"
            )),
        };
    }
    let cmp = Cmp::from_name(op).ok_or_else(|| {
        format!(
            "line {line}: unknown comparison `{op}` (known: {}, <=each)",
            Cmp::known()
        )
    })?;
    Ok(Assertion::Compare { lhs, cmp, rhs })
}

/// Parse a thresholds file.
pub fn parse_rules(text: &str) -> Result<Vec<Rule>, String> {
    let mut rules = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let l = raw.split('#').next().unwrap_or("").trim();
        if l.is_empty() {
            continue;
        }
        let parts: Vec<&str> = l.split_whitespace().collect();
        let [profile, lhs, op, rhs] = parts[..] else {
            return Err(format!(
                "line {line}: expected `PROFILE STRATEGY.METRIC OP VALUE`, found `{l}`"
            ));
        };
        let profile = BuiltIn::parse_name(profile)
            .map_err(|e| format!("line {line}: {e}"))?
            .profile();
        rules.push(Rule {
            line,
            text: l.to_string(),
            profile,
            assertion: assertion(lhs, op, rhs, line)?,
        });
    }
    Ok(rules)
}

/// Every rule checked against the report (which must cover each rule's profile): the rule and
/// its verdict, `Ok(description)` or `Err(description)`.
pub fn check_rules<'r>(
    rules: &'r [Rule],
    report: &Report,
) -> Vec<(&'r Rule, Result<String, String>)> {
    rules
        .iter()
        .map(|r| {
            let verdict = match report
                .profiles
                .iter()
                .find(|p| p.profile.name == r.profile.name)
            {
                Some(pr) => r.check(pr),
                None => Err(format!("profile {} was not measured", r.profile.name)),
            };
            (r, verdict)
        })
        .collect()
}

fn tally(pr: &ProfileReport, s: StrategyId) -> Result<&Tally, String> {
    pr.tallies
        .iter()
        .find(|t| t.strategy == s)
        .ok_or_else(|| format!("strategy {s} not measured"))
}

impl Rule {
    /// Evaluate against a measured profile: `Ok(description)` when it holds, `Err` otherwise.
    pub fn check(&self, pr: &ProfileReport) -> Result<String, String> {
        match self.assertion {
            Assertion::Compare { lhs, cmp, rhs } => {
                let value = |m: MetricRef| Ok::<_, String>(m.metric.of(tally(pr, m.strategy)?));
                let l = value(lhs)?;
                let r = match rhs {
                    Rhs::Number(v) => v,
                    Rhs::Metric(m) => value(m)?,
                };
                let desc = format!("{}: {l:.4} {} {r:.4}", self.text, cmp.name());
                if cmp.holds(l, r) {
                    Ok(desc)
                } else {
                    Err(desc)
                }
            }
            Assertion::BytesEach { lhs, rhs } => self.check_each(pr, lhs, rhs),
        }
    }

    fn check_each(
        &self,
        pr: &ProfileReport,
        lhs: StrategyId,
        rhs: StrategyId,
    ) -> Result<String, String> {
        let (a, b) = (tally(pr, lhs)?, tally(pr, rhs)?);
        let pairs = a.per_program_bytes.iter().zip(&b.per_program_bytes);
        for (k, (x, y)) in pairs.enumerate() {
            if x > y {
                return Err(format!(
                    "{}: seed {}: {x} bytes > {y} bytes",
                    self.text,
                    pr.first_seed + k as u64
                ));
            }
        }
        Ok(format!(
            "{} (all {} functions)",
            self.text,
            a.per_program_bytes.len()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::measure::measure_profile;

    #[test]
    fn rules_parse_typed_and_errors_name_the_line() {
        let r = parse_rules(
            "# c\ncinderx pool.bytes <=each movz-min.bytes\nfar64 pool.exec_insns_per_call == 2\n",
        )
        .unwrap();
        assert_eq!(r.len(), 2);
        assert_eq!(
            r[0].assertion,
            Assertion::BytesEach {
                lhs: StrategyId::LiteralPool,
                rhs: StrategyId::MovzMinimal
            }
        );
        assert_eq!(r[1].line, 3);
        let err = |t: &str| parse_rules(t).unwrap_err();
        assert!(err("far64 nope.bytes < 3").contains("line 1: unknown strategy `nope`"));
        assert!(err("far64 pool.nope < 3").contains("unknown metric `nope`"));
        assert!(err("nope pool.bytes < 3").contains("unknown profile `nope`"));
        assert!(err("far64 pool.bytes ~ 3").contains("unknown comparison `~`"));
        assert!(err("far64 pool.islands <=each stub.bytes").contains("<=each"));
        assert!(err("far64 pool.bytes <").contains("expected `PROFILE"));
    }

    #[test]
    fn rules_hold_and_fail_on_measured_figures() {
        let far64 = crate::model::profile::BuiltIn::Far64.profile();
        let pr = measure_profile(&far64, 1, 2).unwrap();
        let verdicts = |t: &str| {
            let rules = parse_rules(t).unwrap();
            let report = Report {
                commit: String::new(),
                programs: 2,
                profiles: vec![pr.clone()],
            };
            check_rules(&rules, &report)
                .into_iter()
                .map(|(_, v)| v.is_ok())
                .collect::<Vec<_>>()
        };
        let text = "far64 pool.exec_insns_per_call == 2\nfar64 pool.exec_insns_per_call > 2\nfar64 pool.bytes <=each movz-min.bytes\nfar64 movz-min.bytes <=each pool.bytes\nfar64 stub.exec_insns_per_call > pool.exec_insns_per_call\ncinderx pool.islands == 0\n";
        assert_eq!(verdicts(text), [true, false, true, false, true, false]);
    }
}
