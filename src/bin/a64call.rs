//! `a64call`: generate call-heavy AArch64 functions, emit them under every call strategy, run
//! them on independent engines and compare everything observable.
//!
//! Exit status: 0 when everything agrees, 1 on a divergence (a repro file is written), 2 on bad
//! input (unreadable or malformed files, unknown names) or a harness failure.

use a64call::differential::{self, Config, Report};
use a64call::emit::strategy::{self, Strategy};
use a64call::emit::{emit, EmitOptions};
use a64call::engine::EngineKind;
use a64call::model::gen::{self, Profile};
use a64call::model::program::Program;
use a64call::planted::PlantedBug;
use a64call::{model::text, oracle::check};
use clap::{Parser, Subcommand};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

#[derive(Parser)]
#[command(
    name = "a64call",
    version,
    about = "Proves and measures how a JIT emits calls on AArch64"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(clap::Args, Clone)]
struct Common {
    /// Comma-separated strategies; the first is the reference (default: all).
    #[arg(long, value_delimiter = ',')]
    strategies: Vec<String>,
    /// Switch on a planted bug (tests of the oracles only; see `a64call bugs`).
    #[arg(long, hide = true)]
    plant: Option<String>,
    /// Skip the capstone static check (to show what the dynamic oracle alone catches).
    #[arg(long)]
    no_static_check: bool,
    /// Comma-separated engines: unicorn, qemu, native (aarch64 Linux hosts only). Default:
    /// unicorn and qemu when qemu-aarch64 is found, else unicorn alone, with a note.
    #[arg(long, value_delimiter = ',')]
    engines: Vec<String>,
}

#[derive(Subcommand)]
enum Cmd {
    /// Generate a program from a seed and print it in text form.
    Gen {
        /// Seed.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Workload profile (see `a64call profiles`).
        #[arg(long, default_value = "default")]
        profile: String,
        /// Write to this file instead of stdout.
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
    /// Emit a program under each strategy: sizes, call sequences, optional listing.
    Emit {
        /// Program file (text form).
        file: PathBuf,
        /// Comma-separated strategies (default: all).
        #[arg(long, value_delimiter = ',')]
        strategies: Vec<String>,
        /// Print capstone's disassembly of every strategy's code.
        #[arg(long)]
        listing: bool,
    },
    /// Run a program file under every strategy and judge the outcomes (exit 0 agree, 1 diverge, 2 bad input).
    Run {
        /// Program file (text form).
        file: PathBuf,
        #[command(flatten)]
        common: Common,
        /// Directory for a repro file on divergence.
        #[arg(long, default_value = "corpus/repros")]
        repro_dir: PathBuf,
    },
    /// Check random programs until a divergence, an iteration count or a time budget.
    Check {
        /// Stop after this many programs.
        #[arg(long)]
        iterations: Option<u64>,
        /// Stop after this many seconds (default 10 when --iterations is not given).
        #[arg(long)]
        seconds: Option<f64>,
        /// First seed; program i uses seed + i.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Workload profile.
        #[arg(long, default_value = "default")]
        profile: String,
        #[command(flatten)]
        common: Common,
        /// Directory for the repro file of a divergence.
        #[arg(long, default_value = "corpus/repros")]
        repro_dir: PathBuf,
    },
    /// Re-run every repro file (*.a64) under a directory (default: corpus/).
    Replay {
        /// Directory searched recursively.
        #[arg(default_value = "corpus")]
        dir: PathBuf,
        #[command(flatten)]
        common: Common,
    },
    /// Measure every strategy on profiles: exact bytes, instructions and taken branches per call
    /// (report.md, report.json, report.svg).
    Measure {
        /// Comma-separated profiles.
        #[arg(
            long,
            value_delimiter = ',',
            default_value = "cinderx,far64,default,nested"
        )]
        profiles: Vec<String>,
        /// Programs per profile.
        #[arg(long, default_value_t = 20)]
        programs: u64,
        /// First seed.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Output directory.
        #[arg(long, default_value = "target/a64call-report")]
        out: PathBuf,
    },
    /// Turn a fuzz crash artifact into readable repro files (one per program the input makes).
    Repro {
        /// The artifact (raw fuzz input), e.g. fuzz/artifacts/strategies/crash-...
        artifact: PathBuf,
        /// Fuzz target that produced it (default: the artifact's directory name).
        #[arg(long)]
        target: Option<String>,
        /// Where to write the repro files.
        #[arg(long, default_value = "corpus/regressions")]
        out: PathBuf,
    },
    /// Check the size and instruction thresholds of a thresholds file (see ci/thresholds).
    Thresholds {
        /// The thresholds file.
        #[arg(default_value = "ci/thresholds")]
        file: PathBuf,
        /// Programs per profile.
        #[arg(long, default_value_t = 20)]
        programs: u64,
    },
    /// Hunt every planted bug with random programs and report which oracle caught it.
    Planted {
        /// Give up on a bug after this many programs.
        #[arg(long, default_value_t = 40)]
        programs: u64,
        /// Use only the dynamic oracle (no capstone static check).
        #[arg(long)]
        no_static_check: bool,
    },
    /// Verify every call sequence of a CinderX code dump against the guest's memory map and
    /// symbol tables (exit 0 clean, 1 violations, 2 bad input).
    Verify {
        /// The dump (`_cinderx.dump_elf`).
        dump: PathBuf,
        /// The guest's /proc/self/maps, captured after compiling.
        #[arg(long)]
        maps: PathBuf,
        /// CinderX's perf map (/tmp/perf-PID.map, CINDERX_JIT_PERF_MAP=1): places the dump.
        #[arg(long)]
        perf_map: Option<PathBuf>,
        /// ELF file for a mapped path: PATH (matched by file name) or MAPPED_NAME=PATH;
        /// other mapped files are read from the paths the maps give.
        #[arg(long)]
        elf: Vec<String>,
        /// Report violations of this rule as allowed instead of failing (e.g.
        /// constant-misaligned for CinderX 2026.11's unaligned constant pool).
        #[arg(long)]
        allow: Vec<String>,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Classify the call sequences in a JIT code dump (CinderX's `_cinderx.dump_elf`).
    Classify {
        /// The dump (ELF64).
        dump: PathBuf,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
        /// Print each function's shape as JSON instead: its instructions with constant values
        /// taken out (movz/movk runs, pool loads and adr/adrp+add become `const R`), data words
        /// dropped, in-function branch targets as token indices (see src/jitcode/shape.rs).
        #[arg(long)]
        shape: bool,
    },
    /// Exact instruction counts of marked guest phases (qemu counting plugin output in DIR):
    /// totals by mapping and executed call sequences in JIT code.
    Counts {
        /// Directory with counts-<pid>.txt and maps-<pid>-<phase>.txt files.
        dir: PathBuf,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// List the workload profiles.
    Profiles,
    /// List the strategies.
    Strategies,
    /// List the planted bugs (for oracle tests).
    Bugs,
}

/// A bad-input or harness error: printed and exit status 2.
struct Fail(String);

impl<E: std::fmt::Display> From<E> for Fail {
    fn from(e: E) -> Self {
        Fail(e.to_string())
    }
}

fn main() -> ExitCode {
    // Behave like other command-line tools when the reader of stdout goes away (`| head`):
    // end quietly instead of panicking on EPIPE.
    // SAFETY: setting a signal disposition to its default before any other thread exists.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = Cli::parse();
    match real_main(cli) {
        Ok(code) => code,
        Err(Fail(m)) => {
            eprintln!("a64call: error: {m}");
            ExitCode::from(2)
        }
    }
}

fn profile(name: &str) -> Result<Profile, Fail> {
    Profile::named(name).ok_or_else(|| {
        let names: Vec<&str> = Profile::all().iter().map(|p| p.name).collect();
        Fail(format!(
            "unknown profile `{name}` (known: {})",
            names.join(", ")
        ))
    })
}

fn strategies(names: &[String]) -> Result<Vec<&'static dyn Strategy>, Fail> {
    if names.is_empty() {
        return Ok(strategy::all());
    }
    names
        .iter()
        .map(|n| {
            strategy::by_name(n).ok_or_else(|| {
                Fail(format!(
                    "unknown strategy `{n}` (known: {})",
                    strategy::names()
                ))
            })
        })
        .collect()
}

fn config(c: &Common) -> Result<Config, Fail> {
    // A planted bug comes from --plant or, for whole-pipeline tests like `ci/gate --plant`, from
    // A64CALL_PLANT.
    let env = std::env::var("A64CALL_PLANT")
        .ok()
        .filter(|s| !s.is_empty());
    let bug = match c.plant.as_ref().or(env.as_ref()) {
        None => None,
        Some(n) => Some(PlantedBug::from_name(n).ok_or_else(|| {
            let names: Vec<&str> = PlantedBug::ALL.iter().map(|b| b.name()).collect();
            Fail(format!(
                "unknown planted bug `{n}` (known: {})",
                names.join(", ")
            ))
        })?),
    };
    Ok(Config {
        strategies: strategies(&c.strategies)?,
        bug,
        static_check: !c.no_static_check,
        dynamic: true,
    })
}

fn engines(c: &Common) -> Result<Vec<EngineKind>, Fail> {
    if !c.engines.is_empty() {
        let list = EngineKind::parse_list(&c.engines).map_err(Fail)?;
        if list.contains(&EngineKind::Qemu)
            && !cfg!(all(target_arch = "aarch64", target_os = "linux"))
        {
            a64call::engine::qemu::find_qemu()?;
        }
        return Ok(list);
    }
    match a64call::engine::qemu::find_qemu() {
        Ok(_) => Ok(vec![EngineKind::Unicorn, EngineKind::Qemu]),
        Err(e) => {
            eprintln!("note: {e}; running on Unicorn only");
            Ok(vec![EngineKind::Unicorn])
        }
    }
}

fn read_program(path: &Path) -> Result<Program, Fail> {
    let src = std::fs::read_to_string(path)
        .map_err(|e| Fail(format!("cannot read {}: {e}", path.display())))?;
    text::parse(&src).map_err(|e| Fail(format!("{}: {e}", path.display())))
}

fn real_main(cli: Cli) -> Result<ExitCode, Fail> {
    match cli.cmd {
        Cmd::Gen {
            seed,
            profile: p,
            output,
        } => {
            let prog = gen::from_seed(seed, &profile(&p)?);
            let t = text::print(&prog);
            match output {
                Some(path) => std::fs::write(&path, t)
                    .map_err(|e| Fail(format!("cannot write {}: {e}", path.display())))?,
                None => print!("{t}"),
            }
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Emit {
            file,
            strategies: names,
            listing,
        } => {
            let prog = read_program(&file)?;
            cmd_emit(&prog, &strategies(&names)?, listing)
        }
        Cmd::Run {
            file,
            common,
            repro_dir,
        } => {
            let prog = read_program(&file)?;
            let cfg = config(&common)?;
            let report = differential::run_on(&[&prog], &cfg, &engines(&common)?)?
                .pop()
                .expect("one report");
            print_outcomes(&report);
            match &report.finding {
                None => {
                    println!("verdict: agree ({} strategies)", report.emitted.len());
                    Ok(ExitCode::SUCCESS)
                }
                Some(f) => {
                    println!("verdict: DIVERGE\n{f}");
                    let path = differential::repro::write_repro(
                        &repro_dir,
                        &prog,
                        f,
                        &format!("a64call run {}", file.display()),
                    )?;
                    println!("repro: {}", path.display());
                    Ok(ExitCode::from(1))
                }
            }
        }
        Cmd::Check {
            iterations,
            seconds,
            seed,
            profile: p,
            common,
            repro_dir,
        } => {
            let prof = profile(&p)?;
            let cfg = config(&common)?;
            let budget = match (iterations, seconds) {
                (None, None) => Some(10.0),
                (_, s) => s,
            };
            cmd_check(
                &prof,
                &cfg,
                &engines(&common)?,
                seed,
                iterations,
                budget,
                &repro_dir,
            )
        }
        Cmd::Replay { dir, common } => cmd_replay(&dir, &config(&common)?, &engines(&common)?),
        Cmd::Measure {
            profiles,
            programs,
            seed,
            out,
        } => {
            let profs = profiles
                .iter()
                .map(|p| profile(p))
                .collect::<Result<Vec<_>, _>>()?;
            if programs == 0 {
                return Err(Fail("--programs must be at least 1".into()));
            }
            let report = a64call::report::measure::measure(&profs, seed, programs).map_err(Fail)?;
            std::fs::create_dir_all(&out)
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
        Cmd::Repro {
            artifact,
            target,
            out,
        } => cmd_repro(&artifact, target.as_deref(), &out),
        Cmd::Thresholds { file, programs } => {
            let text = std::fs::read_to_string(&file)
                .map_err(|e| Fail(format!("cannot read {}: {e}", file.display())))?;
            let rules = a64call::report::measure::parse_rules(&text)
                .map_err(|e| Fail(format!("{}: {e}", file.display())))?;
            if rules.is_empty() {
                return Err(Fail(format!("{} holds no rules", file.display())));
            }
            let mut names: Vec<&str> = rules.iter().map(|r| r.profile()).collect();
            names.dedup();
            names.sort();
            names.dedup();
            let profs = names
                .iter()
                .map(|n| profile(n))
                .collect::<Result<Vec<_>, _>>()?;
            let report = a64call::report::measure::measure(&profs, 1, programs).map_err(Fail)?;
            let mut failed = 0;
            for r in &rules {
                let pr = report
                    .profiles
                    .iter()
                    .find(|p| p.profile.name == r.profile())
                    .expect("measured");
                match r.check(pr) {
                    Ok(d) => println!("pass  {d}"),
                    Err(d) => {
                        println!("FAIL  {d}  ({}:{})", file.display(), r.line);
                        failed += 1;
                    }
                }
            }
            println!(
                "thresholds: {} passed, {failed} failed",
                rules.len() - failed
            );
            Ok(if failed > 0 {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            })
        }
        Cmd::Planted {
            programs,
            no_static_check,
        } => {
            let mut missed = 0;
            for bug in PlantedBug::ALL {
                if no_static_check && !bug.observable_at_run_time() {
                    println!(
                        "{:24} not observable at run time (only the static oracle can see it)",
                        bug.name()
                    );
                    continue;
                }
                let h = a64call::planted::hunt::hunt_bug(
                    bug,
                    !no_static_check,
                    1,
                    programs,
                    std::time::Duration::from_secs(300),
                )?;
                match h.caught {
                    Some((seed, f)) => println!(
                        "{:24} caught at seed {seed} after {} programs, {:.2} s: {}",
                        bug.name(),
                        h.programs,
                        h.elapsed.as_secs_f64(),
                        f.summary()
                    ),
                    None => {
                        println!("{:24} NOT CAUGHT in {} programs", bug.name(), h.programs);
                        missed += 1;
                    }
                }
            }
            Ok(if missed > 0 {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            })
        }
        Cmd::Verify {
            dump,
            maps,
            perf_map,
            elf,
            allow,
            json,
        } => cmd_verify(
            a64call::jitcode::verify::Inputs {
                dump,
                maps,
                perf_map,
                elfs: elf,
                allow,
            },
            json,
        ),
        Cmd::Classify { dump, json, shape } => {
            let d = std::fs::read(&dump)
                .map_err(|e| Fail(format!("cannot read {}: {e}", dump.display())))?;
            if shape {
                let j = a64call::jitcode::shape::shapes_json(&d)
                    .map_err(|e| Fail(format!("{}: {e}", dump.display())))?;
                println!("{j}");
                return Ok(ExitCode::SUCCESS);
            }
            let funcs = a64call::jitcode::classify::classify(&d)
                .map_err(|e| Fail(format!("{}: {e}", dump.display())))?;
            if json {
                let items: Vec<String> = funcs
                    .iter()
                    .map(|f| {
                        let calls: Vec<String> = f.calls.iter().map(|(k, v)| format!("\"{k}\":{v}")).collect();
                        format!(
                            "{{\"name\":\"{}\",\"size\":{},\"stubs\":{},\"data_words\":{},\"calls\":{{{}}}}}",
                            f.name.replace('\\', "\\\\").replace('"', "\\\""),
                            f.size,
                            f.stubs,
                            f.data_words,
                            calls.join(",")
                        )
                    })
                    .collect();
                println!("[{}]", items.join(","));
            } else {
                for f in &funcs {
                    let calls: Vec<String> =
                        f.calls.iter().map(|(k, v)| format!("{v}x {k}")).collect();
                    println!(
                        "{:40} {:6} bytes {:3} stubs  {}",
                        f.name,
                        f.size,
                        f.stubs,
                        calls.join(", ")
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Counts { dir, json } => cmd_counts(&dir, json),
        Cmd::Profiles => {
            for p in Profile::all() {
                println!("{:10} {}", p.name, p.about);
            }
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Strategies => {
            for s in strategy::all() {
                let pic = if s.position_independent() {
                    "position-independent"
                } else {
                    "position-dependent"
                };
                println!("{:12} {} ({pic})", s.name(), s.about());
            }
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Bugs => {
            for b in PlantedBug::ALL {
                println!(
                    "{:24} breaks {:12} exercised by profile {}",
                    b.name(),
                    b.strategy(),
                    b.profile()
                );
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// `a64call verify`: 0 clean, 1 on any violation, 2 on bad input.
fn cmd_verify(inputs: a64call::jitcode::verify::Inputs, json: bool) -> Result<ExitCode, Fail> {
    let report = a64call::jitcode::verify::run(&inputs).map_err(Fail)?;
    if json {
        println!("{}", report.json());
    } else {
        print!("{}", report.text());
    }
    Ok(if report.violations() > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn cmd_emit(
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
    println!(
        "{:12} {:>9} {:>9} {:>9} {:>9} {:>7} {:>12} {:>12}  sequences (fallbacks)",
        "strategy", "bytes", "body", "pool", "stubs", "sites", "inline/site", "exec/site",
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
            "{:12} {:>9} {:>9} {:>9} {:>9} {:>7} {:>12} {:>12}  {} ({} fallbacks)",
            s.name(),
            st.total_bytes,
            st.sizes.body,
            st.sizes.pool,
            st.sizes.stubs,
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

fn print_outcomes(r: &Report) {
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
}

fn cmd_check(
    prof: &Profile,
    cfg: &Config,
    engines: &[EngineKind],
    seed: u64,
    iterations: Option<u64>,
    seconds: Option<f64>,
    repro_dir: &Path,
) -> Result<ExitCode, Fail> {
    let start = Instant::now();
    let cpu0 = a64call::report::cputime::cpu_seconds();
    // With the ELF engine, programs go in batches so one qemu process serves many.
    let batch = if engines.contains(&EngineKind::Qemu) {
        24
    } else {
        1
    };
    let mut n = 0u64;
    let mut calls = 0u64;
    loop {
        if iterations.is_some_and(|it| n >= it)
            || seconds.is_some_and(|s| start.elapsed().as_secs_f64() >= s)
        {
            break;
        }
        let k = iterations.map_or(batch, |it| batch.min(it - n));
        let progs: Vec<Program> = (0..k)
            .map(|i| gen::from_seed(seed.wrapping_add(n + i), prof))
            .collect();
        let refs: Vec<&Program> = progs.iter().collect();
        let reports = differential::run_on(&refs, cfg, engines)?;
        for (i, report) in reports.iter().enumerate() {
            calls += report
                .outcomes
                .first()
                .map(|(_, _, o)| o.calls.len() as u64)
                .unwrap_or(0);
            if let Some(f) = &report.finding {
                let s = seed.wrapping_add(n + i as u64);
                println!("DIVERGENCE at seed {s} (profile {}):\n{f}", prof.name);
                let prov = format!("a64call check --profile {} --seed {s}", prof.name);
                let path = differential::repro::write_repro(repro_dir, &progs[i], f, &prov)?;
                println!("repro: {}", path.display());
                return Ok(ExitCode::from(1));
            }
        }
        n += k;
    }
    let wall = start.elapsed().as_secs_f64();
    let cpu = match (cpu0, a64call::report::cputime::cpu_seconds()) {
        (Some(a), Some(b)) if b > a => b - a,
        _ => wall,
    };
    let names: Vec<String> = engines
        .iter()
        .map(|e| format!("{e:?}").to_lowercase())
        .collect();
    println!(
        "ok: {n} programs (profile {}, seeds {seed}..{}), {} strategies on {} each, {calls} helper calls in the reference runs, no divergence",
        prof.name,
        seed.wrapping_add(n),
        cfg.strategies.len(),
        names.join("+")
    );
    println!(
        "throughput: {} programs per CPU-second ({:.1} s CPU of a64call and its qemu processes, {:.1} s wall)",
        {
            let rate = n as f64 / cpu;
            if rate < 10.0 { format!("{rate:.2}") } else { format!("{rate:.0}") }
        },
        cpu,
        wall
    );
    Ok(ExitCode::SUCCESS)
}

fn find_repros(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), Fail> {
    let rd = std::fs::read_dir(dir)
        .map_err(|e| Fail(format!("cannot read directory {}: {e}", dir.display())))?;
    for entry in rd {
        let p = entry?.path();
        if p.is_dir() {
            find_repros(&p, out)?;
        } else if p.extension().is_some_and(|e| e == "a64") {
            out.push(p);
        }
    }
    Ok(())
}

fn cmd_replay(dir: &Path, cfg: &Config, engines: &[EngineKind]) -> Result<ExitCode, Fail> {
    let mut files = Vec::new();
    find_repros(dir, &mut files)?;
    files.sort();
    if files.is_empty() {
        return Err(Fail(format!(
            "no *.a64 repro files under {}",
            dir.display()
        )));
    }
    let (mut ok, mut bad, mut diverged) = (0, 0, 0);
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
            Some(finding) => {
                println!("DIVERGE  {}\n{finding}", f.display());
                diverged += 1;
            }
        }
    }
    println!("replay: {ok} passed, {diverged} failed, {bad} bad input");
    Ok(if bad > 0 {
        ExitCode::from(2)
    } else if diverged > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn cmd_repro(artifact: &Path, target: Option<&str>, out: &Path) -> Result<ExitCode, Fail> {
    use a64call::fuzzing::{self, Target};
    let names = || {
        Target::ALL
            .iter()
            .map(|t| t.name())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let tname = match target {
        Some(t) => t.to_string(),
        None => artifact
            .parent()
            .and_then(|d| d.file_name())
            .and_then(|n| n.to_str())
            .filter(|n| Target::from_name(n).is_some())
            .ok_or_else(|| {
                Fail(format!(
                    "cannot tell which fuzz target produced {}: pass --target ({})",
                    artifact.display(),
                    names()
                ))
            })?
            .to_string(),
    };
    let t = Target::from_name(&tname).ok_or_else(|| {
        Fail(format!(
            "unknown fuzz target `{tname}` (known: {})",
            names()
        ))
    })?;
    let data = std::fs::read(artifact)
        .map_err(|e| Fail(format!("cannot read {}: {e}", artifact.display())))?;
    let progs = fuzzing::programs(t, &data);
    let result = fuzzing::run(t, &data);
    std::fs::create_dir_all(out)
        .map_err(|e| Fail(format!("cannot create {}: {e}", out.display())))?;
    let header = match &result {
        Err(case) => case.lines().next().unwrap_or("").to_string(),
        Ok(()) => {
            "no finding when replayed (fixed since, or found with A64CALL_PLANT set)".to_string()
        }
    };
    for (i, p) in progs.iter().enumerate() {
        let body = text::print(p);
        let name = format!(
            "fuzz-{tname}-{}-{i}.a64",
            artifact
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or("input")
        );
        let path = out.join(name);
        let src = format!("# a64call repro from fuzz artifact {} (target {tname}, program {i})\n# {header}\n{body}", artifact.display());
        std::fs::write(&path, src)
            .map_err(|e| Fail(format!("cannot write {}: {e}", path.display())))?;
        println!("wrote {}", path.display());
    }
    match result {
        Err(case) => println!("{case}"),
        Ok(()) => println!("{header}"),
    }
    Ok(ExitCode::SUCCESS)
}

/// `a64call counts DIR [--json]`.
fn cmd_counts(dir: &Path, json: bool) -> Result<ExitCode, Fail> {
    let reports = a64call::jitcode::counts::analyze_dir(dir).map_err(Fail)?;
    if json {
        print!("{}", a64call::jitcode::counts::render_json(&reports));
    } else {
        print!("{}", a64call::jitcode::counts::render_text(&reports));
    }
    Ok(ExitCode::SUCCESS)
}
