//! The regression files under corpus/regressions/edges/ sit exactly on the edge they name (the
//! corpus replay runs them on every engine; this keeps a change of the lowering from moving them
//! off it, and checks what the strategies emit on each side).

use a64call::emit::strategy::{AdrpAdd, SeqKind, StrategyId};
use a64call::emit::{emit, EmitOptions};
use a64call::model::program::Program;
use a64call::model::text::parse;

fn edge(name: &str) -> Program {
    let path = format!(
        "{}/corpus/regressions/edges/{name}.a64",
        env!("CARGO_MANIFEST_DIR")
    );
    parse(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The helper's distance from the only call's first instruction under `strategy`, and the
/// sequence emitted there.
fn reach(p: &Program, strategy: StrategyId) -> (i64, SeqKind) {
    let e = emit(p, strategy.strategy(), &EmitOptions::default()).unwrap();
    let site = &e.sites[0];
    assert_eq!(
        site.start, 12,
        "{strategy}: the call follows the 3-instruction prologue"
    );
    let at = e.code.base + u64::from(site.start);
    (p.helpers[0].addr as i64 - at as i64, site.choice.kind)
}

/// `bl` reaches -2^27 ..= 2^27 - 4 bytes from the call site: each file is on one side of an
/// end, and every strategy that prefers a `bl` uses it exactly inside.
#[test]
fn bl_range_edges() {
    let files = [
        ("bl-forward-last-in-range", (1 << 27) - 4, true),
        ("bl-forward-first-out-of-range", 1 << 27, false),
        ("bl-backward-last-in-range", -(1 << 27), true),
        ("bl-backward-first-out-of-range", -(1 << 27) - 4, false),
    ];
    for (name, distance, reachable) in files {
        let p = edge(name);
        for s in [
            StrategyId::DirectBl,
            StrategyId::StubOrBl,
            StrategyId::PoolOrBl,
        ] {
            let (d, kind) = reach(&p, s);
            assert_eq!(d, distance, "{name}");
            assert_eq!(
                kind == SeqKind::DirectBl,
                reachable,
                "{name} under {s}: {kind:?}"
            );
        }
    }
}

/// `adrp` reaches the pages -2^20 ..= 2^20 - 1 from the call site's page.
#[test]
fn adrp_range_edges() {
    let files = [
        ("adrp-forward-last-in-range", (1 << 20) - 1, true),
        ("adrp-forward-first-out-of-range", 1 << 20, false),
        ("adrp-backward-last-in-range", -(1 << 20), true),
        ("adrp-backward-first-out-of-range", -(1 << 20) - 1, false),
    ];
    for (name, pages, reachable) in files {
        let p = edge(name);
        // `direct` takes adrp+add+blr beyond bl's reach, as `adrp` does.
        for s in [StrategyId::AdrpAdd, StrategyId::DirectBl] {
            let (d, kind) = reach(&p, s);
            let site = p.helpers[0].addr as i64 - d;
            assert_eq!(
                (p.helpers[0].addr as i64 >> 12) - (site >> 12),
                pages,
                "{name}"
            );
            assert_eq!(
                kind == SeqKind::AdrpAdd,
                reachable,
                "{name} under {s}: {kind:?}"
            );
        }
    }
}

#[test]
fn the_adrp_of_call_0_is_the_last_word_of_a_page() {
    let p = edge("adrp-last-word-of-page");
    let e = emit(&p, &AdrpAdd, &EmitOptions::default()).unwrap();
    let site = &e.sites[0];
    assert_eq!(
        (e.code.base + u64::from(site.start)) % 4096,
        4092,
        "call #0 starts at {:#x}",
        site.start
    );
    assert_eq!(site.ret - site.start, 12, "adrp, add, blr");
}

/// The generator's programs meet every range edge, one step inside, on and beyond, in both
/// directions, within the first 3,000 default-profile seeds (emission alone decides it).
#[test]
fn generated_programs_meet_every_edge() {
    use a64call::differential::edges::EdgeCounts;
    use a64call::model::gen::from_seed;
    use a64call::model::profile::BuiltIn;
    let profile = BuiltIn::Default.profile();
    let strategies = [
        StrategyId::DirectBl,
        StrategyId::StubOrBl,
        StrategyId::PoolOrBl,
        StrategyId::AdrpAdd,
    ];
    let mut edges = EdgeCounts::default();
    for seed in 1..=3000 {
        let p = from_seed(seed, &profile);
        let targets: Vec<u64> = p.helpers.iter().map(|h| h.addr).collect();
        for s in strategies {
            edges.add(
                &emit(&p, s.strategy(), &EmitOptions::default()).unwrap(),
                &targets,
            );
        }
    }
    assert!(edges.sites.iter().all(|&n| n > 0), "{}", edges.line());
}

/// The `big` profile's programs meet each backward label-use edge, a word inside and on it:
/// a pool entry reused from exactly 1 MiB back and a loop's `tbz` back edge exactly 32 KiB back
/// (its aimed loops), within its first 40 seeds under `pool` (islands) and `direct`.
#[test]
fn big_programs_meet_every_backward_label_use_edge() {
    use a64call::differential::edges::EdgeCounts;
    use a64call::model::gen::from_seed;
    use a64call::model::profile::BuiltIn;
    let profile = BuiltIn::Big.profile();
    let mut edges = EdgeCounts::default();
    for seed in 1..=40 {
        let p = from_seed(seed, &profile);
        let targets: Vec<u64> = p.helpers.iter().map(|h| h.addr).collect();
        for s in [StrategyId::LiteralPool, StrategyId::DirectBl] {
            edges.add(
                &emit(&p, s.strategy(), &EmitOptions::default()).unwrap(),
                &targets,
            );
        }
        if edges.label_uses.iter().all(|&n| n > 0) {
            return;
        }
    }
    panic!("{}", edges.line());
}
