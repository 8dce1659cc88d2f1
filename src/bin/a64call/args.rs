//! Turning command-line names into the library's values (profiles, strategies, configs,
//! engines, programs), with errors that name what is known.

use crate::Fail;
use a64call::differential::Config;
use a64call::emit::strategy::{self, Strategy, StrategyId};
use a64call::engine::EngineKind;
use a64call::model::profile::{BuiltIn, Profile};
use a64call::model::program::Program;
use a64call::model::text;
use a64call::planted::PlantedBug;
use a64call::Named;
use std::path::Path;

#[derive(clap::Args, Clone)]
pub(crate) struct Common {
    /// Comma-separated strategies; the first is the reference (default: all).
    #[arg(long, value_delimiter = ',')]
    pub(crate) strategies: Vec<String>,
    /// Switch on a planted bug (tests of the oracles only; see `a64call bugs`).
    #[arg(long, hide = true)]
    pub(crate) plant: Option<String>,
    /// Skip the capstone static check (to show what the dynamic oracle alone catches).
    #[arg(long)]
    pub(crate) no_static_check: bool,
    /// Comma-separated engines: interp (a64call's own interpreter; images outside its subset are
    /// judged on unicorn), unicorn, qemu, native (aarch64 Linux hosts only). Default: unicorn
    /// and qemu when qemu-aarch64 is found, else unicorn alone, with a note; for `check`, interp
    /// with a confirmed sample (see --confirm-with).
    #[arg(long, value_delimiter = ',')]
    pub(crate) engines: Vec<String>,
}

impl Common {
    /// These options as command-line arguments (empty when all are defaults), so a repro
    /// file's provenance line reproduces the run that wrote it.
    pub(crate) fn as_args(&self) -> String {
        let mut out = String::new();
        if !self.strategies.is_empty() {
            out += &format!(" --strategies {}", self.strategies.join(","));
        }
        if !self.engines.is_empty() {
            out += &format!(" --engines {}", self.engines.join(","));
        }
        if self.no_static_check {
            out += " --no-static-check";
        }
        // The bug planted by --plant or, as `config` takes it, by A64CALL_PLANT: a repro of a
        // planted finding must say which bug found it.
        let env_bug = PlantedBug::from_env().ok().flatten().map(Named::name);
        if let Some(bug) = self.plant.as_deref().or(env_bug) {
            out += &format!(" --plant {bug}");
        }
        out
    }
}

pub(crate) fn profile(name: &str) -> Result<Profile, Fail> {
    BuiltIn::parse_name(name)
        .map(BuiltIn::profile)
        .map_err(Fail)
}

pub(crate) fn strategies(names: &[String]) -> Result<Vec<&'static dyn Strategy>, Fail> {
    if names.is_empty() {
        return Ok(strategy::all());
    }
    names
        .iter()
        .map(|n| {
            StrategyId::parse_name(n)
                .map(StrategyId::strategy)
                .map_err(Fail)
        })
        .collect()
}

pub(crate) fn config(c: &Common) -> Result<Config, Fail> {
    // A planted bug comes from --plant or, for whole-pipeline tests like `ci/gate --plant`, from
    // A64CALL_PLANT.
    let bug = match &c.plant {
        Some(n) => Some(PlantedBug::parse_name(n).map_err(Fail)?),
        None => PlantedBug::from_env().map_err(Fail)?,
    };
    Ok(Config {
        strategies: strategies(&c.strategies)?,
        bug,
        static_check: !c.no_static_check,
        dynamic: true,
    })
}

pub(crate) fn engines(c: &Common) -> Result<Vec<EngineKind>, Fail> {
    if c.engines.is_empty() {
        return Ok(default_engines("running on Unicorn only"));
    }
    named_engines(&c.engines)
}

/// [`EngineKind::default_set`], its note (why qemu is left out, then `consequence`: what that
/// means for this command) printed on stderr.
pub(crate) fn default_engines(consequence: &str) -> Vec<EngineKind> {
    let (list, note) = EngineKind::default_set();
    if let Some(note) = note {
        eprintln!("note: {note}: {consequence}");
    }
    list
}

/// [`EngineKind::select`]: engines by name, each once, each available here.
pub(crate) fn named_engines(names: &[String]) -> Result<Vec<EngineKind>, Fail> {
    EngineKind::select(names).map_err(Fail)
}

pub(crate) fn read_program(path: &Path) -> Result<Program, Fail> {
    let src = std::fs::read_to_string(path)
        .map_err(|e| Fail(format!("cannot read {}: {e}", path.display())))?;
    text::parse(&src).map_err(|e| Fail(format!("{}: {e}", path.display())))
}

/// Most worker threads `--jobs` may ask for: each has its own engines (a Unicorn emulator
/// reserves 1 GiB of address space for its translations), and 100,000 threads exhausted this
/// machine's memory inside the thread library, where no error can be reported.
const MAX_JOBS: usize = 256;

/// The number of worker threads: `n`, or every core the system offers when not given.
pub(crate) fn jobs(n: Option<usize>) -> Result<usize, Fail> {
    match n {
        Some(0) => Err(Fail("--jobs must be at least 1".into())),
        Some(n) if n > MAX_JOBS => Err(Fail(format!(
            "--jobs {n}: at most {MAX_JOBS} worker threads (each has its own engines)"
        ))),
        Some(n) => Ok(n),
        None => Ok(std::thread::available_parallelism().map_or(1, |n| n.get())),
    }
}
