//! `pool+bl` guesses near and far as CinderX's literal-pool patch does, before the code has an
//! address: a target within 96 MiB of the program's anchor (inclusive) is near, a `bl`; a near
//! guess that `bl` cannot reach from the call site is a `bl` to a stub after the pool, as asmjit
//! relaxes it; a far guess goes through the pool even where `bl` could reach. Each case runs on
//! Unicorn beside a correct reference, and the generator makes every case.

use a64call::differential::{run_unicorn, Config};
use a64call::emit::strategy::{SeqKind, StrategyId};
use a64call::emit::Emitted;
use a64call::model::gen::from_seed;
use a64call::model::profile::BuiltIn;
use a64call::model::program::{near_guess, Program, NEAR_GUESS_REACH};
use a64call::model::text;

const CODE: u64 = 0x20_0000_0000;
const MIB: u64 = 1 << 20;

/// A function at [`CODE`] that calls one helper at `helper` once, with `anchor`.
fn program(anchor: Option<u64>, helper: u64) -> Program {
    let anchor = anchor.map_or(String::new(), |a| format!("anchor {a:#x}\n"));
    let src = format!(
        "a64call-program 1\ncode {CODE:#x}\n{anchor}helper h0 {helper:#x} args 1\nbody\n  \
         v1 = call h0(v0)\nret v1\n"
    );
    text::parse(&src).unwrap()
}

/// `p` under `pool+bl` beside the reference on Unicorn, checked statically and run: its first
/// call site's sequence, why it is not the preferred one, and the emitted function.
fn emitted(p: &Program) -> (SeqKind, Option<&'static str>, Emitted) {
    let cfg = Config::with_strategies(vec![
        StrategyId::MovzMinimal.strategy(),
        StrategyId::PoolOrBl.strategy(),
    ]);
    let r = run_unicorn(p, &cfg).unwrap();
    assert!(r.finding.is_none(), "{}", r.finding.unwrap());
    assert_eq!(
        r.outcomes[1].2.calls.len(),
        p.call_sites(),
        "every call ran"
    );
    let e = r.emitted[1].clone();
    (e.sites[0].choice.kind, e.sites[0].choice.fallback, e)
}

#[test]
fn the_guess_is_within_96_mib_of_the_anchor_inclusive_either_way() {
    let a = CODE;
    for (target, near) in [
        (a + NEAR_GUESS_REACH, true),
        (a + NEAR_GUESS_REACH + 4, false),
        (a - NEAR_GUESS_REACH, true),
        (a - NEAR_GUESS_REACH - 4, false),
        (a, true),
    ] {
        assert_eq!(near_guess(a, target), near, "{target:#x}");
    }
}

#[test]
fn a_right_near_guess_is_a_direct_bl() {
    let (kind, why, _) = emitted(&program(Some(CODE), CODE + 32 * MIB));
    assert_eq!((kind, why), (SeqKind::DirectBl, None));
}

#[test]
fn a_wrong_near_guess_is_a_bl_to_a_stub_and_says_so() {
    // The code lies 8 GiB from the library its helpers are guessed near from.
    let helper = CODE + (8 << 30);
    let (kind, why, e) = emitted(&program(Some(helper - 16 * MIB), helper));
    assert_eq!(kind, SeqKind::Stub);
    assert!(why.unwrap().contains("guessed near"), "{why:?}");
    assert_eq!(e.sizes().stub_count, 1);
    assert_eq!(e.sizes().pool_entries, 0);
}

#[test]
fn a_wrong_far_guess_still_goes_through_the_pool() {
    // `bl` reaches 110 MiB, but the target is 110 MiB from the anchor: guessed far.
    let (kind, why, e) = emitted(&program(Some(CODE), CODE + 110 * MIB));
    assert_eq!((kind, why), (SeqKind::PoolLoad, None));
    assert_eq!(e.sizes().pool_entries, 1);
    // Without an anchor the same call is decided from the call site: a direct `bl`.
    let (kind, _, _) = emitted(&program(None, CODE + 110 * MIB));
    assert_eq!(kind, SeqKind::DirectBl);
}

#[test]
fn the_guess_edge_decides_the_sequence_at_exactly_96_mib() {
    let on = emitted(&program(Some(CODE), CODE + NEAR_GUESS_REACH)).0;
    let past = emitted(&program(Some(CODE), CODE + NEAR_GUESS_REACH + 4)).0;
    assert_eq!((on, past), (SeqKind::DirectBl, SeqKind::PoolLoad));
}

#[test]
fn a_function_can_hold_a_pool_and_relaxed_stubs_together() {
    // h0 is far and guessed far (the pool), h1 far but guessed near (a stub after the pool).
    let (far, guessed) = (CODE + (16 << 30), CODE + (8 << 30));
    let src = format!(
        "a64call-program 1\ncode {CODE:#x}\nanchor {:#x}\nhelper h0 {far:#x} args 1\n\
         helper h1 {guessed:#x} args 1\nbody\n  v1 = call h0(v0)\n  v2 = call h1(v1)\n  \
         v3 = call h0(v2)\nret v3\n",
        guessed + MIB
    );
    let p = text::parse(&src).unwrap();
    let (_, _, e) = emitted(&p);
    let kinds: Vec<SeqKind> = e.sites.iter().map(|s| s.choice.kind).collect();
    assert_eq!(kinds, [SeqKind::PoolLoad, SeqKind::Stub, SeqKind::PoolLoad]);
    // The stub site's `bl` lands after the pool, which follows the code.
    let site = e.sites[1].start as usize;
    let bl = u32::from_le_bytes(e.code.bytes[site..site + 4].try_into().unwrap());
    assert_eq!(bl >> 26, 0b100101, "a bl at the stub site");
    let stub = site as i64 + (((bl & 0x03FF_FFFF) << 6) as i32 >> 4) as i64;
    let pool = &e.code.pool[0];
    assert!(
        u64::from(pool.start) >= e.sizes().body,
        "the pool follows the code"
    );
    assert!(
        stub >= i64::from(pool.end),
        "the stub at {stub:#x} follows the pool {pool:?}"
    );
    assert_eq!(e.sizes().stub_count, 1);
}

/// Over the `cinderx` profile's seeds, every kind of guess the patch makes occurs, and only where
/// the patch makes it: the library's helpers (within 8 MiB of the anchor) are guessed near, and
/// are out of `bl`'s reach only where the library lies far from the code; otherwise only a
/// helper at the 96 MiB edge (met a word inside, on it and a word outside) is guessed against
/// its reach.
#[test]
fn the_cinderx_profile_makes_every_kind_of_guess_where_the_patch_does() {
    let prof = BuiltIn::Cinderx.profile();
    let mut seen = std::collections::BTreeSet::new();
    for seed in 0..400 {
        let p = from_seed(seed, &prof);
        let Some(a) = p.anchor else {
            seen.insert("no anchor".to_string());
            continue;
        };
        for h in &p.helpers {
            let from_anchor = i128::from(h.addr) - i128::from(a);
            let edge = from_anchor.unsigned_abs() as i128 - i128::from(NEAR_GUESS_REACH);
            let library = from_anchor.unsigned_abs() <= 8 << 20;
            // The functions are under 1 MiB: `bl` reaches a helper within 127 MiB of the code's
            // base from every site, and none beyond 129 MiB; between, it depends on the site.
            let from_code = (i128::from(h.addr) - i128::from(p.code_base)).unsigned_abs();
            if (127 << 20..=129 << 20).contains(&from_code) {
                continue;
            }
            let reach = from_code < 127 << 20;
            let kind = match (near_guess(a, h.addr), reach) {
                (true, true) => "right near guess",
                (true, false) => "wrong near guess",
                (false, true) => "wrong far guess",
                (false, false) => "right far guess",
            };
            assert!(
                !library || near_guess(a, h.addr),
                "seed {seed}: a library helper guessed far"
            );
            assert!(
                kind != "wrong near guess" || library || edge.abs() <= 4,
                "seed {seed}: {kind} outside the library"
            );
            assert!(
                kind != "wrong far guess" || edge.abs() <= 4,
                "seed {seed}: {kind} off the edge"
            );
            if edge.abs() <= 4 {
                seen.insert(format!("{edge:+} from the guess edge"));
            }
            seen.insert(kind.to_string());
        }
    }
    assert_eq!(
        seen.into_iter().collect::<Vec<_>>(),
        [
            "+0 from the guess edge",
            "+4 from the guess edge",
            "-4 from the guess edge",
            "no anchor",
            "right far guess",
            "right near guess",
            "wrong far guess",
            "wrong near guess"
        ]
    );
}
