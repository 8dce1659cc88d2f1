//! Measurement and self-test subcommands: `measure`, `thresholds`, `planted`, and the lists
//! (`profiles`, `strategies`, `bugs`).

use crate::args::profile;
use crate::Fail;
use a64call::emit::strategy;
use a64call::engine::EngineKind;
use a64call::model::profile::Profile;
use a64call::planted::PlantedBug;
use a64call::report::{measure, thresholds};
use a64call::Named;
use std::path::Path;
use std::process::ExitCode;

fn exit_status(failed: usize) -> ExitCode {
    if failed > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

/// `a64call measure`: report.md, report.json and report.svg in `out`.
pub(crate) fn cmd_measure(
    profiles: &[String],
    programs: u64,
    seed: u64,
    out: &Path,
) -> Result<ExitCode, Fail> {
    let profs = profiles
        .iter()
        .map(|p| profile(p))
        .collect::<Result<Vec<_>, _>>()?;
    if programs == 0 {
        return Err(Fail("--programs must be at least 1".into()));
    }
    let bar = crate::progress::counted(profs.len() as u64, "profiles");
    let report = measure::measure_with_progress(&profs, seed, programs, |i, p| {
        bar.set_position(i as u64);
        bar.set_message(p.name);
    });
    bar.finish_and_clear();
    let report = report.map_err(Fail)?;
    std::fs::create_dir_all(out)
        .map_err(|e| Fail(format!("cannot create {}: {e}", out.display())))?;
    for (name, body) in [
        ("report.md", report.markdown()),
        ("report.json", report.json()),
        ("report.svg", report.svg()),
    ] {
        let path = out.join(name);
        std::fs::write(&path, body)
            .map_err(|e| Fail(format!("cannot write {}: {e}", path.display())))?;
    }
    print!("{}", report.markdown());
    println!("wrote {}/report.md, report.json, report.svg", out.display());
    Ok(ExitCode::SUCCESS)
}

/// `a64call thresholds FILE`: measure the profiles the rules name and check every rule.
pub(crate) fn cmd_thresholds(file: &Path, programs: u64) -> Result<ExitCode, Fail> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| Fail(format!("cannot read {}: {e}", file.display())))?;
    let rules =
        thresholds::parse_rules(&text).map_err(|e| Fail(format!("{}: {e}", file.display())))?;
    if rules.is_empty() {
        return Err(Fail(format!("{} holds no rules", file.display())));
    }
    let mut profs: Vec<Profile> = rules.iter().map(|r| r.profile.clone()).collect();
    profs.sort_by_key(|p| p.name);
    profs.dedup();
    let report = measure::measure(&profs, 1, programs).map_err(Fail)?;
    let mut failed = 0;
    for (rule, verdict) in thresholds::check_rules(&rules, &report) {
        match verdict {
            Ok(d) => println!("pass  {d}"),
            Err(d) => {
                println!("FAIL  {d}  ({}:{})", file.display(), rule.line);
                failed += 1;
            }
        }
    }
    println!(
        "thresholds: {} passed, {failed} failed",
        rules.len() - failed
    );
    Ok(exit_status(failed))
}

/// `a64call planted`: hunt every planted bug on every engine of the default set (Unicorn, and
/// qemu when found), each engine alone; 1 if any bug is not caught on some engine.
pub(crate) fn cmd_planted(programs: u64, no_static_check: bool) -> Result<ExitCode, Fail> {
    if programs == 0 {
        return Err(Fail("--programs must be at least 1".into()));
    }
    let (engines, note) = EngineKind::default_set();
    if let Some(note) = note {
        eprintln!("note: {note}");
    }
    let mut missed = 0;
    let hunts = (PlantedBug::all().len() * engines.len()) as u64;
    let bar = crate::progress::counted(hunts, "hunts");
    for &bug in PlantedBug::all() {
        for engine in &engines {
            bar.set_message(format!("{} on {}", bug.name(), engine.name()));
            let line = hunt_line(bug, *engine, programs, no_static_check, &mut missed)?;
            bar.suspend(|| println!("{line}"));
            bar.inc(1);
        }
    }
    bar.finish_and_clear();
    Ok(exit_status(missed))
}

/// One bug hunted on one engine, as a line of `a64call planted`'s output.
fn hunt_line(
    bug: PlantedBug,
    engine: EngineKind,
    programs: u64,
    no_static_check: bool,
    missed: &mut usize,
) -> Result<String, Fail> {
    let name = format!("{:24} {:8}", bug.name(), engine.name());
    if no_static_check && !bug.observable_at_run_time() {
        return Ok(format!(
            "{name} not observable at run time (only the static oracle can see it)"
        ));
    }
    let limit = std::time::Duration::from_secs(300);
    let h = a64call::planted::hunt::hunt_bug(bug, !no_static_check, engine, 1, programs, limit)?;
    Ok(match h.caught {
        Some((seed, f)) => format!(
            "{name} caught at seed {seed} after {} programs, {:.2} s: {}",
            h.programs,
            h.elapsed.as_secs_f64(),
            f.summary()
        ),
        None => {
            *missed += 1;
            format!("{name} NOT CAUGHT in {} programs", h.programs)
        }
    })
}

/// `a64call profiles`.
pub(crate) fn list_profiles() -> ExitCode {
    for p in Profile::all() {
        println!("{:10} {}", p.name, p.about);
    }
    ExitCode::SUCCESS
}

/// `a64call strategies`.
pub(crate) fn list_strategies() -> ExitCode {
    for s in strategy::all() {
        let pic = if s.position_independent() {
            "position-independent"
        } else {
            "position-dependent"
        };
        println!("{:12} {} ({pic})", s.name(), s.about());
    }
    ExitCode::SUCCESS
}

/// `a64call bugs`.
pub(crate) fn list_bugs() -> ExitCode {
    for &b in PlantedBug::all() {
        println!(
            "{:24} breaks {:12} exercised by profile {}",
            b.name(),
            b.strategy().name(),
            b.profile().name()
        );
    }
    ExitCode::SUCCESS
}
