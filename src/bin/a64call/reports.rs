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

/// `a64call planted`: hunt every planted bug on every engine named (default: the interpreter,
/// Unicorn, and qemu when found), each engine alone, `jobs` hunts at a time; the lines come out in
/// catalogue order. 1 if any bug is not caught on some engine.
pub(crate) fn cmd_planted(
    programs: u64,
    no_static_check: bool,
    engine_names: &[String],
    jobs: usize,
) -> Result<ExitCode, Fail> {
    if programs == 0 {
        return Err(Fail("--programs must be at least 1".into()));
    }
    let engines = planted_engines(engine_names)?;
    let hunts: Vec<(PlantedBug, EngineKind)> = PlantedBug::all()
        .iter()
        .flat_map(|&b| engines.iter().map(move |&e| (b, e)))
        .collect();
    let bar = crate::progress::counted(hunts.len() as u64, "hunts");
    let lines = a64call::differential::hunt::in_order(
        &hunts,
        jobs,
        |&(bug, engine)| {
            let line = hunt_line(bug, engine, programs, no_static_check);
            bar.inc(1);
            line
        },
        |(text, _)| bar.suspend(|| println!("{text}")),
    )?;
    bar.finish_and_clear();
    let missed = lines.iter().filter(|(_, caught)| !caught).count();
    Ok(exit_status(missed))
}

/// The engines `planted` hunts on: those named, or the interpreter and the default set.
fn planted_engines(names: &[String]) -> Result<Vec<EngineKind>, Fail> {
    if !names.is_empty() {
        return crate::args::named_engines(names);
    }
    let mut engines = crate::args::default_engines("hunting on interp and Unicorn");
    engines.insert(0, EngineKind::Interp);
    Ok(engines)
}

/// One bug hunted on one engine, as a line of `a64call planted`'s output, and whether it was
/// caught (a bug only the static oracle can see counts as caught when that oracle is off).
fn hunt_line(
    bug: PlantedBug,
    engine: EngineKind,
    programs: u64,
    no_static_check: bool,
) -> Result<(String, bool), Fail> {
    let name = format!("{:24} {:8}", bug.name(), engine.name());
    if no_static_check && !bug.observable_at_run_time() {
        return Ok((
            format!("{name} not observable at run time (only the static oracle can see it)"),
            true,
        ));
    }
    let limit = std::time::Duration::from_secs(300);
    let h =
        a64call::differential::hunt::hunt_bug(bug, !no_static_check, engine, 1, programs, limit)?;
    let line = match &h.caught {
        Some((seed, f)) => format!(
            "{name} caught at seed {seed} after {} programs, {:.2} s: {}",
            h.programs,
            h.elapsed.as_secs_f64(),
            f.summary()
        ),
        None => format!("{name} NOT CAUGHT in {} programs", h.programs),
    };
    let line = match h.judged_on_unicorn {
        0 => line,
        n => format!(
            "{line} ({n} runs outside {}'s subset judged on unicorn)",
            engine.name()
        ),
    };
    Ok((line, h.caught.is_some()))
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
