//! The analysis as text (for people) and JSON (for harness/cinderx/count_report.py).

use super::*;
use crate::Named;
use std::fmt::Write as _;

fn percent(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        100.0 * part as f64 / whole as f64
    }
}

/// A human-readable report.
pub fn render_text(reports: &[ProcessReport]) -> String {
    let mut s = String::new();
    for p in reports {
        let exit = p
            .exit_total
            .map_or("did not exit normally".to_string(), |t| {
                format!("{t} instructions in all")
            });
        let _ = writeln!(s, "pid {}: {exit}", p.pid);
        for n in &p.open_phases {
            let _ = writeln!(s, "  phase {n}: still open at exit, not analysed");
        }
        for r in &p.phases {
            let _ = writeln!(
                s,
                "  phase {} `{}`: {} instructions",
                r.number, r.name, r.total
            );
            for (region, n) in REGIONS.iter().map(|&k| (k, r.by_region[k])) {
                let _ = writeln!(s, "    {region:12} {n:14} {:6.2}%", percent(n, r.total));
            }
            let calls: Vec<String> = CallKind::COUNTED
                .iter()
                .map(|k| (k.name(), r.calls[k.name()]))
                .filter(|(_, c)| c.execs > 0)
                .map(|(k, c)| format!("{k} {} ({} sites)", c.execs, c.sites))
                .collect();
            let _ = writeln!(
                s,
                "    JIT calls: {}; stubs executed {} ({} instructions)",
                if calls.is_empty() {
                    "none".to_string()
                } else {
                    calls.join(", ")
                },
                r.stub_execs,
                r.stub_insns
            );
        }
    }
    s
}

/// The report as JSON: `{"processes":[{"pid","exit_total","phases":[{"phase","name","total",
/// "by_region","by_file","calls":{kind:{"execs","sites"}},"stub_execs","stub_insns"}],
/// "open_phases"}]}`, one line.
pub fn render_json(reports: &[ProcessReport]) -> String {
    #[derive(serde::Serialize)]
    struct Doc<'a> {
        processes: &'a [ProcessReport],
    }
    let mut s = serde_json::to_string(&Doc { processes: reports }).expect("counts serialise");
    s.push('\n');
    s
}
