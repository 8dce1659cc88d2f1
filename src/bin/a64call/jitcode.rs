//! The real JIT's subcommands: `verify`, `classify`, `counts`.

use crate::Fail;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// `a64call verify`'s arguments.
#[derive(clap::Args)]
pub(crate) struct VerifyArgs {
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
    #[arg(long = "elf", value_name = "ELF")]
    elfs: Vec<String>,
    /// Report violations of this rule as allowed instead of failing (e.g.
    /// constant-misaligned for CinderX 2026.11's unaligned constant pool); repeatable.
    #[arg(long, value_name = "RULE",
          value_parser = clap::builder::PossibleValuesParser::new(a64call::jitcode::verify::RULES))]
    allow: Vec<String>,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

/// `a64call verify`: 0 clean, 1 on any violation, 2 on bad input.
pub(crate) fn cmd_verify(a: VerifyArgs) -> Result<ExitCode, Fail> {
    let json = a.json;
    let inputs = a64call::jitcode::verify::Inputs {
        dump: a.dump,
        maps: a.maps,
        perf_map: a.perf_map,
        elfs: a.elfs,
        allow: a.allow,
    };
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

/// `a64call classify`: every function's call sequences, as text, JSON or shapes (`--shape`).
pub(crate) fn cmd_classify(dump: &Path, json: bool, shape: bool) -> Result<ExitCode, Fail> {
    let d =
        std::fs::read(dump).map_err(|e| Fail(format!("cannot read {}: {e}", dump.display())))?;
    if shape {
        let j = a64call::jitcode::shape::shapes_json(&d)
            .map_err(|e| Fail(format!("{}: {e}", dump.display())))?;
        println!("{j}");
        return Ok(ExitCode::SUCCESS);
    }
    let funcs = a64call::jitcode::classify::classify(&d)
        .map_err(|e| Fail(format!("{}: {e}", dump.display())))?;
    if json {
        println!("{}", serde_json::to_string(&funcs)?);
    } else {
        for f in &funcs {
            let calls: Vec<String> = f.calls.iter().map(|(k, v)| format!("{v}x {k}")).collect();
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

/// `a64call counts DIR [--json]`.
pub(crate) fn cmd_counts(dir: &Path, json: bool) -> Result<ExitCode, Fail> {
    let reports = a64call::jitcode::counts::analyze_dir(dir).map_err(Fail)?;
    if json {
        print!("{}", a64call::jitcode::counts::render_json(&reports));
    } else {
        print!("{}", a64call::jitcode::counts::render_text(&reports));
    }
    Ok(ExitCode::SUCCESS)
}
