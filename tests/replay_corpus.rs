//! `cargo test` replays every program file (*.a64) under corpus/ on every engine (interp, Unicorn,
//! and qemu unless `A64CALL_SKIP_QEMU` is set).

use a64call::differential::repro::find_repros;
use a64call::differential::{run_on, Config};
use a64call::engine::EngineKind;
use std::path::Path;

#[test]
fn every_corpus_program_agrees_on_every_engine() {
    let all = find_repros(&Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus")).unwrap();
    assert!(all.len() >= 3, "corpus/ lost its program files");
    let engines = if std::env::var_os("A64CALL_SKIP_QEMU").is_some() {
        vec![EngineKind::Interp, EngineKind::Unicorn]
    } else {
        vec![EngineKind::Interp, EngineKind::Unicorn, EngineKind::Qemu]
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
