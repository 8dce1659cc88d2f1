//! criterion benchmarks: differential throughput (on the interpreter and on Unicorn), engine time
//! per strategy and profile, and the ELF engine's batched throughput. Code size and instruction
//! counts are exact, not timed: the bench prints them as a table (the same numbers `a64call
//! measure` reports) and writes it to target/criterion/a64call-exact-counts.md. Before the
//! groups, every engine runs the same programs through the differential and the bench prints
//! programs per CPU-second for each, with the ratio to Unicorn
//! (target/criterion/a64call-engine-throughput.md).

use a64call::differential::{run_on, run_programs, run_unicorn, Config};
use a64call::emit::strategy::{self, StrategyId};
use a64call::emit::{emit, EmitOptions};
use a64call::engine::EngineKind;
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

/// Programs of the default profile each engine runs for the side-by-side figures.
const SIDE_BY_SIDE_PROGRAMS: u64 = 3000;

/// The same programs through the differential (two strategies, static check on) on each engine
/// in turn, each on a fresh thread: programs per CPU-second of this process and its qemu
/// children, and the ratio to Unicorn's.
fn engines_side_by_side() {
    use a64call::differential::cputime::cpu_seconds;
    let prof = BuiltIn::Default.profile();
    let cfg = Config::with_strategies(vec![
        StrategyId::MovzMinimal.strategy(),
        StrategyId::LiteralPool.strategy(),
    ]);
    let progs: Vec<_> = (1..=SIDE_BY_SIDE_PROGRAMS)
        .map(|s| from_seed(s, &prof))
        .collect();
    let mut rows: Vec<(EngineKind, f64)> = Vec::new();
    for kind in [EngineKind::Interp, EngineKind::Unicorn, EngineKind::Qemu] {
        if let Err(e) = kind.available() {
            eprintln!("side by side: {e}; left out");
            continue;
        }
        let batch = if kind.is_elf() {
            a64call::differential::campaign::DEFAULT_ELF_BATCH as usize
        } else {
            1
        };
        // Each engine's pass on a thread of its own: its engines and the static check's
        // per-thread caches start cold, as in a `check` worker, and no pass inherits the words
        // an earlier one already proved.
        let cpu0 = cpu_seconds().expect("/proc/self/stat");
        std::thread::scope(|s| {
            s.spawn(|| {
                for chunk in progs.chunks(batch) {
                    let refs: Vec<_> = chunk.iter().collect();
                    let reports = run_on(&refs, &cfg, &[kind]).unwrap();
                    assert!(reports.iter().all(|r| r.finding.is_none()));
                }
            });
        });
        rows.push((kind, cpu_seconds().expect("/proc/self/stat") - cpu0));
    }
    let unicorn = rows
        .iter()
        .find(|r| r.0 == EngineKind::Unicorn)
        .map(|r| r.1);
    let mut md = String::from(
        "| engine | programs | CPU s | programs per CPU-second | vs unicorn |\n|---|---:|---:|---:|---:|\n",
    );
    for (kind, cpu) in &rows {
        let ratio = unicorn.map_or("-".into(), |u| format!("{:.2}x", u / cpu));
        md.push_str(&format!(
            "| {} | {SIDE_BY_SIDE_PROGRAMS} | {cpu:.2} | {:.0} | {ratio} |\n",
            kind.name(),
            SIDE_BY_SIDE_PROGRAMS as f64 / cpu
        ));
    }
    println!("differential executions, default profile, movz-min+pool, static check on:\n{md}");
    let _ = std::fs::create_dir_all("target/criterion");
    let _ = std::fs::write("target/criterion/a64call-engine-throughput.md", md);
}

fn differential(c: &mut Criterion) {
    exact_counts();
    engines_side_by_side();
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
        let mut seed = 0u64;
        let label = format!("{label},interp");
        g.bench_function(BenchmarkId::new("default-profile", label), |b| {
            b.iter(|| {
                seed += 1;
                let p = from_seed(seed, &prof);
                let r = run_on(&[&p], &cfg, &[EngineKind::Interp]).unwrap();
                assert!(r[0].finding.is_none());
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
