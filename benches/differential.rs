//! criterion benchmarks: differential throughput, engine time per strategy and profile, and the
//! ELF engine's batched throughput. Code size and instruction counts are exact, not timed: the
//! bench prints them as a table (the same numbers `a64call measure` reports) and writes it to
//! target/criterion/a64call-exact-counts.md.

use a64call::differential::{run_programs, run_unicorn, Config};
use a64call::emit::strategy::{self, StrategyId};
use a64call::emit::{emit, EmitOptions};
use a64call::engine::{ElfEngine, Engine, UnicornEngine};
use a64call::machine::runtime::Image;
use a64call::model::gen::from_seed;
use a64call::model::profile::BuiltIn;
use a64call::model::profile::Profile;
use a64call::Named;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use std::time::Duration;

fn exact_counts() {
    let profs: Vec<Profile> = [BuiltIn::Cinderx, BuiltIn::Far64]
        .map(BuiltIn::profile)
        .to_vec();
    match a64call::report::measure::measure(&profs, 1, 10) {
        Ok(r) => {
            let md = r.markdown();
            println!("{md}");
            let _ = std::fs::create_dir_all("target/criterion");
            let _ = std::fs::write("target/criterion/a64call-exact-counts.md", md);
        }
        Err(e) => panic!("exact counts: {e}"),
    }
}

fn differential(c: &mut Criterion) {
    exact_counts();
    let mut g = c.benchmark_group("differential");
    g.sample_size(10).measurement_time(Duration::from_secs(5));
    g.throughput(Throughput::Elements(1));
    let prof = BuiltIn::Default.profile();
    let two = vec![StrategyId::MovzMinimal, StrategyId::LiteralPool];
    for (label, ids, static_check) in [
        ("movz-min+pool", two.clone(), true),
        ("movz-min+pool,no-static-check", two, false),
        ("all-strategies", StrategyId::all().to_vec(), true),
    ] {
        let cfg = Config {
            static_check,
            ..Config::with_strategies(ids.iter().map(|s| s.strategy()).collect())
        };
        let mut seed = 0u64;
        g.bench_function(BenchmarkId::new("default-profile", label), |b| {
            b.iter(|| {
                seed += 1;
                let p = from_seed(seed, &prof);
                assert!(run_unicorn(&p, &cfg).unwrap().finding.is_none());
            })
        });
    }
    g.finish();
}

fn engine_run(c: &mut Criterion) {
    let mut g = c.benchmark_group("unicorn-run");
    g.sample_size(20).measurement_time(Duration::from_secs(2));
    let mut u = UnicornEngine::new().unwrap();
    for prof in [BuiltIn::Cinderx, BuiltIn::Far64] {
        let p = from_seed(1, &prof.profile());
        for s in strategy::all() {
            let e = emit(&p, s, &EmitOptions::default()).unwrap();
            let img = Image::build(&p, &e, p.code_base).unwrap();
            // Alternate with another strategy's image at the same address so every iteration
            // reloads and retranslates, as the differential does (each iteration is two runs).
            let alt = if s.id() == StrategyId::MovzFixed4 {
                StrategyId::MovzMinimal
            } else {
                StrategyId::MovzFixed4
            };
            let alt_code = emit(&p, alt.strategy(), &EmitOptions::default()).unwrap();
            let other = Image::build(&p, &alt_code, p.code_base).unwrap();
            g.bench_function(BenchmarkId::new(prof.name(), s.name()), |b| {
                b.iter(|| {
                    u.run(&other).unwrap();
                    u.run(&img).unwrap()
                })
            });
        }
    }
    g.finish();
}

fn elf_batch(c: &mut Criterion) {
    let Ok(mut q) = ElfEngine::new() else {
        eprintln!("elf-batch: qemu-aarch64 not found (run harness/setup); skipping the ELF engine benchmark");
        return;
    };
    let mut g = c.benchmark_group("elf-engine");
    g.sample_size(10).measurement_time(Duration::from_secs(10));
    let prof = BuiltIn::Default.profile();
    let cfg = Config::with_strategies(vec![
        StrategyId::MovzMinimal.strategy(),
        StrategyId::LiteralPool.strategy(),
    ]);
    for batch in [1u64, 24, 96] {
        g.throughput(Throughput::Elements(batch));
        let progs: Vec<_> = (0..batch).map(|s| from_seed(s, &prof)).collect();
        let refs: Vec<_> = progs.iter().collect();
        g.bench_function(BenchmarkId::new("programs-per-process", batch), |b| {
            b.iter(|| {
                let r = run_programs(&refs, &cfg, &mut [&mut q as &mut dyn Engine]).unwrap();
                assert!(r.iter().all(|r| r.finding.is_none()));
            })
        });
    }
    g.finish();
}

criterion_group!(benches, differential, engine_run, elf_batch);
criterion_main!(benches);
