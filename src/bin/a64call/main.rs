//! `a64call`: generate call-heavy AArch64 functions, emit them under every call strategy, run
//! them on independent engines and compare everything observable.
//!
//! Exit status: 0 when everything agrees, 1 on a divergence (a repro file is written), 2 on bad
//! input (unreadable or malformed files, unknown names), a program a64call cannot run
//! (`unsupported`: too large for its code region, a helper in the code's pages) or a harness
//! failure.
//!
//! This file parses the arguments and hands each subcommand to one function: [`synthetic`] (the
//! differential pipeline), [`reports`] (measurement and self-tests), [`jitcode`] (a real JIT's
//! code); [`args`] turns names into the library's values.

mod args;
mod jitcode;
mod progress;
mod reports;
mod synthetic;

use args::{config, engines, profile, read_program, strategies, Common};
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

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
    /// Run a program file under every strategy and judge the outcomes (exit 0 agree, 1 diverge, 2 bad input or unsupported).
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
    Check(synthetic::CheckArgs),
    /// Re-run every repro file (*.a64) under a directory (default: corpus/). Exit 1 when a file
    /// diverges, else 2 when a file is bad input or unsupported, else 0.
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
    /// Hunt every planted bug with random programs on each engine (default: interp, unicorn,
    /// and qemu when found), and report which oracle caught it.
    Planted {
        /// Give up on a bug after this many programs.
        #[arg(long, default_value_t = 40)]
        programs: u64,
        /// Use only the dynamic oracle (no capstone static check).
        #[arg(long)]
        no_static_check: bool,
        /// Comma-separated engines to hunt on, each on its own (see `check --engines`).
        #[arg(long, value_delimiter = ',')]
        engines: Vec<String>,
        /// Hunts run at once, each on its own thread and engines (default: every core; at most
        /// 256).
        #[arg(long)]
        jobs: Option<usize>,
    },
    /// Verify every call sequence of a CinderX code dump against the guest's memory map and
    /// symbol tables (exit 0 clean, 1 violations, 2 bad input).
    Verify(jitcode::VerifyArgs),
    /// Classify the call sequences in a JIT code dump (CinderX's `_cinderx.dump_elf`).
    Classify {
        /// The dump (ELF64).
        dump: PathBuf,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
        /// Print each function's shape as JSON instead: its instructions with constant values
        /// taken out (movz/movk runs, pool loads and adr/adrp+add become `const R`), data words
        /// dropped, in-function branch targets as token indices (see src/jitcode/shape/mod.rs).
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
pub(crate) struct Fail(pub(crate) String);

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

fn real_main(cli: Cli) -> Result<ExitCode, Fail> {
    match cli.cmd {
        Cmd::Gen {
            seed,
            profile: p,
            output,
        } => synthetic::cmd_gen(seed, &profile(&p)?, output.as_deref()),
        Cmd::Emit {
            file,
            strategies: names,
            listing,
        } => synthetic::cmd_emit(&read_program(&file)?, &strategies(&names)?, listing),
        Cmd::Run {
            file,
            common,
            repro_dir,
        } => synthetic::cmd_run(&file, &common, &repro_dir),
        Cmd::Check(a) => synthetic::cmd_check(&a),
        Cmd::Replay { dir, common } => {
            synthetic::cmd_replay(&dir, &config(&common)?, &engines(&common)?)
        }
        Cmd::Measure {
            profiles,
            programs,
            seed,
            out,
        } => reports::cmd_measure(&profiles, programs, seed, &out),
        Cmd::Repro {
            artifact,
            target,
            out,
        } => synthetic::cmd_repro(&artifact, target.as_deref(), &out),
        Cmd::Thresholds { file, programs } => reports::cmd_thresholds(&file, programs),
        Cmd::Planted {
            programs,
            no_static_check,
            engines,
            jobs,
        } => reports::cmd_planted(programs, no_static_check, &engines, args::jobs(jobs)?),
        Cmd::Verify(a) => jitcode::cmd_verify(a),
        Cmd::Classify { dump, json, shape } => jitcode::cmd_classify(&dump, json, shape),
        Cmd::Counts { dir, json } => jitcode::cmd_counts(&dir, json),
        Cmd::Profiles => Ok(reports::list_profiles()),
        Cmd::Strategies => Ok(reports::list_strategies()),
        Cmd::Bugs => Ok(reports::list_bugs()),
    }
}
