//! criterion benchmarks: differential throughput, engine time per strategy and profile, and the
//! ELF engine's batched throughput. Code size and instruction counts are exact, not timed: the
//! bench prints them as a table (the same numbers `a64call measure` reports) and writes it to
//! target/criterion/a64call-exact-counts.md.

use a64call::differential::{run_programs, run_unicorn, Config};
use a64call::emit::strategy;
use a64call::emit::{emit, EmitOptions};
use a64call::engine::{ElfEngine, Engine, UnicornEngine};
use a64call::machine::runtime::Image;
use a64call::model::gen::from_seed;
use a64call::model::profile::Profile;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use std::time::Duration;

fn exact_counts() {
    let profs: Vec<Profile> = ["cinderx", "far64"]
        .iter()
        .map(|n| Profile::named(n).unwrap())
        .collect();
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
    let prof = Profile::named("default").unwrap();
    for (label, names, static_check) in [
        ("movz-min+pool", vec!["movz-min", "pool"], true),
        (
            "movz-min+pool,no-static-check",
            vec!["movz-min", "pool"],
            false,
        ),
        (
            "all-strategies",
            strategy::all().iter().map(|s| s.name()).collect(),
            true,
        ),
    ] {
        let cfg = Config {
            static_check,
            ..Config::with_strategies(
                names
                    .iter()
                    .map(|n| strategy::by_name(n).unwrap())
                    .collect(),
            )
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
    for prof in ["cinderx", "far64"] {
        let p = from_seed(1, &Profile::named(prof).unwrap());
        for s in strategy::all() {
            let e = emit(&p, s, &EmitOptions::default()).unwrap();
            let img = Image::build(&p, &e, p.code_base).unwrap();
            // Alternate with another strategy's image at the same address so every iteration
            // reloads and retranslates, as the differential does (each iteration is two runs).
            let alt = if s.name() == "movz-fixed4" {
                "movz-min"
            } else {
                "movz-fixed4"
            };
            let other = Image::build(
                &p,
                &emit(&p, strategy::by_name(alt).unwrap(), &EmitOptions::default()).unwrap(),
                p.code_base,
            )
            .unwrap();
            g.bench_function(BenchmarkId::new(prof, s.name()), |b| {
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
    let prof = Profile::named("default").unwrap();
    let cfg = Config::with_strategies(vec![
        strategy::by_name("movz-min").unwrap(),
        strategy::by_name("pool").unwrap(),
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
