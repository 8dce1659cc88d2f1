//! `cargo test` replays every program file (*.a64) under corpus/ on every engine.

use a64call::differential::{run_on, Config};
use a64call::engine::EngineKind;
use std::path::{Path, PathBuf};

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            files(&p, out);
        } else if p.extension().is_some_and(|x| x == "a64") {
            out.push(p);
        }
    }
}

#[test]
fn every_corpus_program_agrees_on_every_engine() {
    let mut all = Vec::new();
    files(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus"),
        &mut all,
    );
    assert!(all.len() >= 3, "corpus/ lost its program files");
    let engines = if std::env::var_os("A64CALL_SKIP_QEMU").is_some() {
        vec![EngineKind::Unicorn]
    } else {
        vec![EngineKind::Unicorn, EngineKind::Qemu]
    };
    let progs: Vec<_> = all
        .iter()
        .map(|f| {
            a64call::model::text::parse(&std::fs::read_to_string(f).unwrap())
                .unwrap_or_else(|e| panic!("{}: {e}", f.display()))
        })
        .collect();
    let refs: Vec<_> = progs.iter().collect();
    for (f, r) in all
        .iter()
        .zip(run_on(&refs, &Config::default(), &engines).unwrap())
    {
        assert!(
            r.finding.is_none(),
            "{}: {}",
            f.display(),
            r.finding.unwrap()
        );
    }
}
