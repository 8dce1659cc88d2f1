//! What `a64call verify` reports: per function, its layout, call sites by kind, how their
//! targets resolved, and every violation; as text or JSON.

use super::dump::DumpFn;
use super::flow::Site;
use super::reach::Walk;
use super::symbols::Source;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// One broken rule.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Violation {
    /// Byte offset in the function.
    pub offset: u32,
    /// Which rule (one of [`super::RULES`]).
    pub rule: &'static str,
    /// What is wrong.
    pub message: String,
}

impl Violation {
    /// A violation at word `at`.
    pub fn new(at: usize, rule: &'static str, message: String) -> Self {
        Violation {
            offset: 4 * at as u32,
            rule,
            message,
        }
    }
}

/// One call or branch leaving the function.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SiteReport {
    /// Byte offset in the function.
    pub offset: u32,
    /// Kind (`bl direct`, `bl->stub`, `ldr-literal+blr`, ...).
    pub kind: &'static str,
    /// Guest address of the target, when known.
    pub target: Option<u64>,
    /// Byte offset in the function of the literal the target was loaded from (a literal-pool
    /// call), if it was.
    pub literal: Option<i64>,
    /// `source: name` of the entry it resolved to.
    pub entry: Option<String>,
    /// Is it a call?
    #[serde(skip)]
    call: bool,
    /// The source of the entry it resolved to.
    #[serde(skip)]
    source: Option<Source>,
}

impl SiteReport {
    /// Report a site.
    pub fn new(s: &Site, target: Option<u64>, resolved: Option<(Source, String)>) -> Self {
        SiteReport {
            offset: 4 * s.at as u32,
            kind: s.kind.name(),
            target,
            literal: s.literal,
            entry: resolved
                .as_ref()
                .map(|(src, n)| format!("{}: {n}", src.name())),
            call: s.kind.is_call(),
            source: resolved.map(|(src, _)| src),
        }
    }
}

/// One function's result.
#[derive(Clone, Debug, Serialize)]
pub struct FunctionReport {
    /// `module:qualname`.
    pub name: String,
    /// Address in the dump.
    pub dump_addr: u64,
    /// Real address (from the perf map), if placed.
    pub addr: Option<u64>,
    /// Size in bytes.
    pub size: u64,
    /// Entry offsets walked from.
    pub entries: Vec<u32>,
    /// Words reached as code.
    pub code_words: u64,
    /// Words read by literal loads (pool entries and stub literals).
    pub pool_words: u64,
    /// Words nothing reaches or reads (unreferenced data, or code only unknown entries reach).
    pub unreferenced_words: u64,
    /// Byte ranges `[start, end)` of maximal runs of words no path reaches (pools, stub
    /// literals, padding, unreferenced data).
    pub data: Vec<[u32; 2]>,
    /// Calls by kind.
    pub calls: BTreeMap<&'static str, u64>,
    /// Branches leaving the function by kind.
    pub branches: BTreeMap<&'static str, u64>,
    /// Resolved targets by the source of their entry.
    pub resolved: BTreeMap<&'static str, u64>,
    /// Every site.
    pub sites: Vec<SiteReport>,
    /// Every violation.
    pub violations: Vec<Violation>,
    /// Violations of rules the run allows (`--allow RULE`): reported, not failing.
    pub allowed: Vec<Violation>,
}

impl FunctionReport {
    /// Assemble a function's report.
    pub fn new(
        f: &DumpFn,
        addr: Option<u64>,
        walk: &Walk,
        pool: &[bool],
        sites: Vec<SiteReport>,
        violations: Vec<Violation>,
    ) -> Self {
        let count = |p: &dyn Fn(usize) -> bool| (0..pool.len()).filter(|&i| p(i)).count() as u64;
        let mut calls = BTreeMap::new();
        let mut branches = BTreeMap::new();
        let mut resolved = BTreeMap::new();
        for s in &sites {
            *(if s.call { &mut calls } else { &mut branches })
                .entry(s.kind)
                .or_insert(0) += 1;
            if let Some(src) = s.source {
                *resolved.entry(src.name()).or_insert(0) += 1;
            }
        }
        FunctionReport {
            name: f.name.clone(),
            dump_addr: f.addr,
            addr,
            size: f.bytes.len() as u64,
            entries: f.entries.clone(),
            code_words: count(&|i| walk.code[i]),
            pool_words: count(&|i| pool[i] && !walk.code[i]),
            unreferenced_words: count(&|i| !pool[i] && !walk.code[i]),
            data: data_runs(&walk.code),
            calls,
            branches,
            resolved,
            sites,
            violations,
            allowed: Vec::new(),
        }
    }
}

/// Byte ranges of maximal runs of `false` in `code`.
fn data_runs(code: &[bool]) -> Vec<[u32; 2]> {
    let mut out: Vec<[u32; 2]> = Vec::new();
    for (i, _) in code.iter().enumerate().filter(|(_, &c)| !c) {
        let at = 4 * i as u32;
        match out.last_mut() {
            Some(r) if r[1] == at => r[1] = at + 4,
            _ => out.push([at, at + 4]),
        }
    }
    out
}

/// The whole result.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// The dump's path.
    pub dump: String,
    /// Per function.
    pub functions: Vec<FunctionReport>,
    /// What could not be placed or loaded.
    pub notes: Vec<String>,
    /// Sums over every function.
    pub totals: Totals,
}

/// Sums over every function.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Totals {
    /// Functions.
    pub functions: u64,
    /// Functions the perf map placed.
    pub placed: u64,
    /// Calls by kind.
    pub calls: BTreeMap<&'static str, u64>,
    /// Branches leaving functions by kind.
    pub branches: BTreeMap<&'static str, u64>,
    /// Resolved targets by source.
    pub resolved: BTreeMap<&'static str, u64>,
    /// Violations by rule.
    pub violations: BTreeMap<&'static str, u64>,
    /// Allowed violations by rule.
    pub allowed: BTreeMap<&'static str, u64>,
}

fn add(into: &mut BTreeMap<&'static str, u64>, from: &BTreeMap<&'static str, u64>) {
    for (k, v) in from {
        *into.entry(k).or_insert(0) += v;
    }
}

impl Report {
    /// Sum up.
    pub fn new(dump: String, functions: Vec<FunctionReport>, notes: Vec<String>) -> Self {
        let mut t = Totals::default();
        for f in &functions {
            t.functions += 1;
            t.placed += u64::from(f.addr.is_some());
            add(&mut t.calls, &f.calls);
            add(&mut t.branches, &f.branches);
            add(&mut t.resolved, &f.resolved);
            for v in &f.violations {
                *t.violations.entry(v.rule).or_insert(0) += 1;
            }
            for v in &f.allowed {
                *t.allowed.entry(v.rule).or_insert(0) += 1;
            }
        }
        Report {
            dump,
            functions,
            notes,
            totals: t,
        }
    }

    /// Number of violations.
    pub fn violations(&self) -> u64 {
        self.totals.violations.values().sum()
    }

    /// JSON.
    pub fn json(&self) -> String {
        serde_json::to_string_pretty(self).expect("report serializes")
    }

    /// Text: one line per function, its violations below it, then notes and totals.
    pub fn text(&self) -> String {
        let kinds = |m: &BTreeMap<&str, u64>| {
            let v: Vec<String> = m.iter().map(|(k, n)| format!("{n}x {k}")).collect();
            if v.is_empty() {
                "-".into()
            } else {
                v.join(", ")
            }
        };
        let mut s = String::new();
        for f in &self.functions {
            let at = f.addr.map_or("unplaced".to_string(), |a| format!("{a:#x}"));
            let _ = writeln!(
                s,
                "{} {:40} {at:>14} {:6} bytes  code {:5} pool {:4} unref {:4} words  calls: {}  out: {}",
                if f.violations.is_empty() { "ok  " } else { "FAIL" },
                f.name, f.size, f.code_words, f.pool_words, f.unreferenced_words,
                kinds(&f.calls), kinds(&f.branches)
            );
            for v in &f.violations {
                let _ = writeln!(s, "       +{:#06x} {}: {}", v.offset, v.rule, v.message);
            }
            for v in &f.allowed {
                let _ = writeln!(
                    s,
                    "       +{:#06x} {} (allowed): {}",
                    v.offset, v.rule, v.message
                );
            }
        }
        for n in &self.notes {
            let _ = writeln!(s, "note: {n}");
        }
        let t = &self.totals;
        let _ = writeln!(s, "calls: {}", kinds(&t.calls));
        let _ = writeln!(s, "branches out: {}", kinds(&t.branches));
        let _ = writeln!(
            s,
            "resolved targets by entry source: {}",
            kinds(&t.resolved)
        );
        let _ = writeln!(
            s,
            "verify: {} functions ({} placed), {} violations{}{}",
            t.functions,
            t.placed,
            self.violations(),
            if t.violations.is_empty() {
                String::new()
            } else {
                format!(" ({})", kinds(&t.violations))
            },
            if t.allowed.is_empty() {
                String::new()
            } else {
                format!(", allowed: {}", kinds(&t.allowed))
            }
        );
        s
    }
}
