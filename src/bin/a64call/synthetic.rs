//! The synthetic pipeline's subcommands: `gen`, `emit`, `run`, `check`, `replay`, `repro`.

use crate::args::{config, engines, profile, read_program, Common};
use crate::Fail;
use a64call::differential::{self, campaign, Config, Report};
use a64call::emit::strategy::Strategy;
use a64call::emit::{emit, EmitOptions};
use a64call::engine::EngineKind;
use a64call::model::gen;
use a64call::model::profile::Profile;
use a64call::model::program::Program;
use a64call::model::text;
use a64call::oracle::check;
use a64call::Named;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// `a64call gen`: a program from a seed, printed or written to `output`.
pub(crate) fn cmd_gen(seed: u64, prof: &Profile, output: Option<&Path>) -> Result<ExitCode, Fail> {
    let t = text::print(&gen::from_seed(seed, prof));
    match output {
        Some(path) => std::fs::write(path, t)
            .map_err(|e| Fail(format!("cannot write {}: {e}", path.display())))?,
        None => print!("{t}"),
    }
    Ok(ExitCode::SUCCESS)
}

/// `throughput: N programs per CPU-second (...)` for `n` programs since `start` (CPU time of
/// this process and its children since `cpu0`, or wall time when unknown).
fn print_throughput(n: u64, start: Instant, cpu0: Option<f64>) {
    let wall = start.elapsed().as_secs_f64();
    match (cpu0, a64call::differential::cputime::cpu_seconds()) {
        (Some(a), Some(b)) if b > a => println!(
            "throughput: {} programs per CPU-second ({:.1} s CPU of a64call and its child \
             processes, {wall:.1} s wall)",
            rate(n, b - a),
            b - a
        ),
        _ => println!(
            "throughput: {} programs per wall-clock second ({wall:.1} s; CPU time unavailable)",
            rate(n, wall)
        ),
    }
}

/// `n` per `secs`, with two decimals below 10.
fn rate(n: u64, secs: f64) -> String {
    let r = n as f64 / secs;
    if r < 10.0 {
        format!("{r:.2}")
    } else {
        format!("{r:.0}")
    }
}

/// Each engine's share: programs it ran and the CPU time of its runs (this process's threads in
/// them, and its qemu processes).
fn print_engine_cpu(list: &[differential::EngineCpu]) {
    let parts: Vec<String> = list
        .iter()
        .map(|c| {
            let s = c.cpu.as_secs_f64();
            let rate = if s > 0.0 {
                format!("{} programs per CPU-second", rate(c.programs, s))
            } else {
                "no measurable CPU".into()
            };
            format!(
                "{} {} programs, {} runs, {s:.2} s CPU ({rate})",
                c.engine.name(),
                c.programs,
                c.runs
            )
        })
        .collect();
    println!("engines: {}", parts.join("; "));
}

/// `a64call run`: one program file under every strategy; 1 and a repro file on a divergence.
pub(crate) fn cmd_run(file: &Path, common: &Common, repro_dir: &Path) -> Result<ExitCode, Fail> {
    let prog = read_program(file)?;
    let cfg = config(common)?;
    let report = differential::run_on(&[&prog], &cfg, &engines(common)?)?
        .pop()
        .expect("one report");
    print_outcomes(&report);
    match &report.finding {
        None => {
            println!("verdict: agree ({} strategies)", report.emitted.len());
            print_log_full_note(&report);
            Ok(ExitCode::SUCCESS)
        }
        Some(f) if f.is_unsupported() => {
            println!("verdict: {}", f.summary());
            Ok(ExitCode::from(2))
        }
        Some(f) => {
            println!("verdict: {}\n{f}", f.heading());
            let prov = format!("a64call run {}{}", file.display(), common.as_args());
            let path = differential::repro::write_repro(repro_dir, &prog, f, &prov)?;
            println!("repro: {}", path.display());
            Ok(ExitCode::from(1))
        }
    }
}

/// When the runs stopped at the full call log, say so: what agreed is the calls up to it.
fn print_log_full_note(report: &differential::Report) {
    use a64call::engine::Exit;
    use a64call::machine::runtime::BRK_LOG_FULL;
    let full = |o: &a64call::engine::Outcome| o.exit == Exit::Breakpoint(Some(BRK_LOG_FULL));
    if !report.outcomes.is_empty() && report.outcomes.iter().all(|(_, _, o)| full(o)) {
        println!(
            "note: the program makes more calls than the call log holds ({}): every run stopped \
             there, as the reference evaluation says it must, so the calls up to it were \
             compared, and the return value, registers and scratch memory were not",
            a64call::layout::LOG_CAPACITY
        );
    }
}

pub(crate) fn cmd_emit(
    prog: &Program,
    strats: &[&'static dyn Strategy],
    listing: bool,
) -> Result<ExitCode, Fail> {
    println!(
        "{} call sites, {} helpers; helper distances: {}",
        prog.call_sites(),
        prog.helpers.len(),
        (0..prog.helpers.len())
            .map(|h| format!("h{h}={}", prog.distance(h).name()))
            .collect::<Vec<_>>()
            .join(" ")
    );
    // Bytes of code, call sites as a count, instructions per call site (inline in the caller;
    // executed per call, stub instructions included).
    println!(
        "{:12} {:>9} {:>9} {:>9} {:>9} {:>7} {:>7} {:>16} {:>16}  sequences (fallbacks)",
        "strategy",
        "total B",
        "body B",
        "pool B",
        "stubs B",
        "veneers",
        "sites",
        "inline insn/site",
        "exec insn/site",
    );
    let mut out = Vec::new();
    for s in strats {
        let e = emit(prog, *s, &EmitOptions::default())?;
        check::check(&e)
            .map_err(|err| Fail(format!("{}: static check failed: {err}", s.name())))?;
        let st = e.stats();
        let per = |n: u64| {
            if st.call_sites == 0 {
                "-".to_string()
            } else {
                format!("{:.3}", n as f64 / f64::from(st.call_sites))
            }
        };
        let kinds: Vec<String> = st
            .kinds
            .iter()
            .map(|(k, n)| format!("{}x{}", n, k.name()))
            .collect();
        println!(
            "{:12} {:>9} {:>9} {:>9} {:>9} {:>7} {:>7} {:>16} {:>16}  {} ({} fallbacks)",
            s.name(),
            st.total_bytes,
            st.sizes.body,
            st.sizes.pool,
            st.sizes.stubs,
            st.sizes.veneers,
            st.call_sites,
            per(st.inline_call_insns),
            per(st.executed_call_insns),
            kinds.join(" "),
            st.fallbacks
        );
        out.push(e);
    }
    if listing {
        for e in &out {
            println!("\n== {} ==", e.strategy);
            print!("{}", check::disassemble(e, 0..e.code.bytes.len() as u32));
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn print_outcomes(r: &Report) {
    for (i, engine, o) in &r.outcomes {
        let e = &r.emitted[*i];
        let insns = o
            .insns
            .map(|c| format!("{} in function, {} total", c.in_code, c.total))
            .unwrap_or_else(|| "-".into());
        println!(
            "{:12} {:8} {:>8} bytes  exit {:<10} calls {:>6}  x0 {:#018x}  insns {}",
            e.strategy,
            engine,
            e.code.bytes.len(),
            o.exit.class(),
            o.calls.len(),
            o.regs[0],
            insns
        );
    }
    for why in &r.judged_on_unicorn {
        println!("judged on unicorn instead: {why}");
    }
}

/// `a64call check`'s arguments.
#[derive(clap::Args)]
pub(crate) struct CheckArgs {
    /// Stop after this many programs.
    #[arg(long)]
    iterations: Option<u64>,
    /// Stop starting programs after this many seconds (default 10 when --iterations is not
    /// given); a program already running finishes.
    #[arg(long, allow_negative_numbers = true)]
    seconds: Option<f64>,
    /// First seed; program i uses seed + i (wrapping past 2^64 - 1).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Workload profile.
    #[arg(long, default_value = "default")]
    profile: String,
    /// Worker threads, each with its own engines (default: every core; at most 256). The same
    /// seeds give the same programs and the same finding whatever the number.
    #[arg(long)]
    jobs: Option<usize>,
    /// Engines that also run a sample of the programs (see --confirm-every) and every program
    /// that gave a finding. Default, when --engines is not given either: unicorn, and qemu when
    /// qemu-aarch64 is found (every program then runs on interp).
    #[arg(long, value_delimiter = ',')]
    confirm_with: Vec<String>,
    /// Confirm one run of 16 seeds in this many: its programs also run on the confirming
    /// engines. A run of 16 seeds shares one window of the fixed machine layout; the run that
    /// holds the first seed is always confirmed (it may be short when the first seed is not a
    /// multiple of 16, so the sample can fall just under 1 in N).
    #[arg(long, default_value_t = 16)]
    confirm_every: u64,
    /// Programs per qemu (or native) process, at most.
    #[arg(long, default_value_t = campaign::DEFAULT_ELF_BATCH)]
    elf_batch: u64,
    #[command(flatten)]
    common: Common,
    /// Directory for the repro file of a divergence.
    #[arg(long, default_value = "corpus/repros")]
    repro_dir: PathBuf,
}

/// The engines of `check`: those every program runs on, and the confirming ones (see
/// [`CheckArgs`]).
fn check_engines(a: &CheckArgs) -> Result<(Vec<EngineKind>, Vec<EngineKind>), Fail> {
    for (name, value) in [
        ("--confirm-every", a.confirm_every),
        ("--elf-batch", a.elf_batch),
    ] {
        if value == 0 {
            return Err(Fail(format!("{name} must be at least 1")));
        }
    }
    let (all, confirm) = if a.common.engines.is_empty() {
        let confirm = if a.confirm_with.is_empty() {
            crate::args::default_engines(
                "every program runs on interp, and a sample is confirmed on Unicorn alone",
            )
        } else {
            crate::args::named_engines(&a.confirm_with)?
        };
        (vec![EngineKind::Interp], confirm)
    } else {
        (
            engines(&a.common)?,
            crate::args::named_engines(&a.confirm_with)?,
        )
    };
    if let Some(k) = confirm.iter().find(|k| all.contains(k)) {
        return Err(Fail(format!(
            "--confirm-with {}: every program already runs on {} (--engines); confirm with \
             another engine",
            k.name(),
            k.name()
        )));
    }
    Ok((all, confirm))
}

/// `a64call check`: resolve the names, run the campaign ([`campaign::run`]) and print its end.
pub(crate) fn cmd_check(a: &CheckArgs) -> Result<ExitCode, Fail> {
    let seconds = check_budget(a)?;
    let (prof, cfg, (engines, confirm_with)) =
        (profile(&a.profile)?, config(&a.common)?, check_engines(a)?);
    let confirm = (!confirm_with.is_empty()).then_some(campaign::Confirm {
        engines: &confirm_with,
        every: a.confirm_every,
    });
    let plan = campaign::Plan {
        profile: &prof,
        config: &cfg,
        engines: &engines,
        confirm,
        first_seed: a.seed,
        iterations: a.iterations,
        budget: seconds.map(Duration::from_secs_f64),
        jobs: crate::args::jobs(a.jobs)?,
        elf_batch: a.elf_batch,
    };
    let start = Instant::now();
    let cpu0 = a64call::differential::cputime::cpu_seconds();
    let bar = match a.iterations {
        Some(it) => crate::progress::counted(it, "programs"),
        None => crate::progress::open_ended("programs"),
    };
    let end = campaign::run(&plan, |n| bar.set_position(n));
    bar.finish_and_clear();
    match end? {
        campaign::End::Found {
            seed,
            program,
            finding,
        } => {
            println!(
                "{} at seed {seed} (profile {}):\n{finding}",
                finding.heading(),
                prof.name
            );
            let prov = format!(
                "a64call check --profile {} --seed {seed} --iterations 1{}",
                prof.name,
                a.common.as_args()
            );
            let path = differential::repro::write_repro(&a.repro_dir, &program, &finding, &prov)?;
            println!("repro: {}", path.display());
            // A generated program a64call cannot run is the generator's fault, not the code's:
            // exit 2, as `run` does for it.
            Ok(ExitCode::from(if finding.is_unsupported() { 2 } else { 1 }))
        }
        campaign::End::Clean(totals) => {
            print_clean(&plan, a.seed, &totals);
            print_throughput(totals.programs, start, cpu0);
            print_engine_cpu(&totals.engine_cpu);
            println!("{}", totals.edges.line());
            if totals.judged_on_unicorn > 0 {
                println!(
                    "{} runs another engine did not make (outside the interpreter's subset, or an \
                     svc word the ELF engine does not run) were judged on unicorn",
                    totals.judged_on_unicorn
                );
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// `check`'s time budget in seconds (10 when neither it nor an iteration count is given), or why
/// the options are wrong.
fn check_budget(a: &CheckArgs) -> Result<Option<f64>, Fail> {
    let seconds = match (a.iterations, a.seconds) {
        (None, None) => Some(10.0),
        (_, s) => s,
    };
    if a.iterations == Some(0) {
        return Err(Fail("--iterations must be at least 1".into()));
    }
    if let Some(s) = seconds.filter(|s| !(s.is_finite() && *s > 0.0 && *s <= 1e9)) {
        return Err(Fail(format!(
            "--seconds must be a number of seconds over 0 (at most 1e9), not {s}"
        )));
    }
    Ok(seconds)
}

/// `first..=last` for `n` seeds from `first` (seeds wrap past 2^64 - 1, as `check` says).
fn seed_range(first: u64, n: u64) -> String {
    let last = first.wrapping_add(n.saturating_sub(1));
    let wraps = if last < first {
        ", wrapping past 2^64-1"
    } else {
        ""
    };
    format!("{first}..={last}{wraps}")
}

/// The first lines of a clean `check`: what ran, on which engines, and the confirmed sample.
fn print_clean(plan: &campaign::Plan, first_seed: u64, t: &campaign::Totals) {
    let names = |list: &[EngineKind]| list.iter().map(|e| e.name()).collect::<Vec<_>>().join("+");
    println!(
        "ok: {} programs (profile {}, seeds {}), {} strategies on {} each, {} helper calls in the reference runs, no divergence",
        t.programs,
        plan.profile.name,
        seed_range(first_seed, t.programs),
        plan.config.strategies.len(),
        names(plan.engines),
        t.calls,
    );
    if let Some(c) = &plan.confirm {
        println!(
            "confirmed: {} of them also on {} (1 in {} runs of 16 seeds)",
            t.confirmed,
            names(c.engines),
            c.every
        );
    }
}

pub(crate) fn cmd_replay(
    dir: &Path,
    cfg: &Config,
    engines: &[EngineKind],
) -> Result<ExitCode, Fail> {
    let files = differential::repro::find_repros(dir)
        .map_err(|e| Fail(format!("cannot read {}: {e}", dir.display())))?;
    if files.is_empty() {
        return Err(Fail(format!(
            "no *.a64 repro files under {}",
            dir.display()
        )));
    }
    let (mut ok, mut bad, mut diverged, mut unsupported) = (0, 0, 0, 0);
    for f in &files {
        let prog = match read_program(f) {
            Ok(p) => p,
            Err(Fail(m)) => {
                println!("BAD INPUT {m}");
                bad += 1;
                continue;
            }
        };
        let report = differential::run_on(&[&prog], cfg, engines)?
            .pop()
            .expect("one report");
        match &report.finding {
            None => {
                println!("ok       {}", f.display());
                ok += 1;
            }
            Some(finding) if finding.is_unsupported() => {
                println!("UNSUPPORTED {}: {}", f.display(), finding.summary());
                unsupported += 1;
            }
            Some(finding) => {
                println!("{}  {}\n{finding}", finding.heading(), f.display());
                diverged += 1;
            }
        }
    }
    println!("replay: {ok} passed, {diverged} failed, {bad} bad input, {unsupported} unsupported");
    // A divergence is the news: it decides the exit status over files that could not be judged.
    Ok(if diverged > 0 {
        ExitCode::from(1)
    } else if bad + unsupported > 0 {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}

pub(crate) fn cmd_repro(
    artifact: &Path,
    target: Option<&str>,
    out: &Path,
) -> Result<ExitCode, Fail> {
    use a64call::fuzzing::{self, Target};
    let t = match target {
        Some(t) => Target::parse_name(t).map_err(Fail)?,
        None => artifact
            .parent()
            .and_then(|d| d.file_name())
            .and_then(|n| n.to_str())
            .and_then(Target::from_name)
            .ok_or_else(|| {
                Fail(format!(
                    "cannot tell which fuzz target produced {}: pass --target ({})",
                    artifact.display(),
                    Target::known()
                ))
            })?,
    };
    let data = std::fs::read(artifact)
        .map_err(|e| Fail(format!("cannot read {}: {e}", artifact.display())))?;
    let progs = fuzzing::programs(t, &data);
    let result = fuzzing::run(t, &data);
    let header = match &result {
        Err(case) => case.lines().next().unwrap_or("").to_string(),
        Ok(()) => {
            "no finding when replayed (fixed since, or found with A64CALL_PLANT set)".to_string()
        }
    };
    let stem = artifact
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("input");
    for (i, p) in progs.iter().enumerate() {
        let name = format!("fuzz-{}-{stem}-{i}.a64", t.name());
        let comments = [
            format!(
                "a64call repro from fuzz artifact {} (target {}, program {i})",
                artifact.display(),
                t.name()
            ),
            header.clone(),
        ];
        let path = differential::repro::write_program(out, &name, p, &comments)
            .map_err(|e| Fail(format!("cannot write {}/{name}: {e}", out.display())))?;
        println!("wrote {}", path.display());
    }
    match result {
        Err(case) => println!("{case}"),
        Ok(()) => println!("{header}"),
    }
    Ok(ExitCode::SUCCESS)
}
