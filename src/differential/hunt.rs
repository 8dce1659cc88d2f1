//! Hunting a planted bug: random programs from the bug's profile, the bug's strategy beside a
//! correct reference, on one engine, until a finding or a budget runs out ([`hunt_bug`]); and
//! [`in_order`], which runs many hunts on several threads and hands their results over in order.

use super::{run_on, Config, Finding};
use crate::engine::{EngineError, EngineKind};
use crate::planted::PlantedBug;

/// The result of hunting one planted bug with random programs.
#[derive(Debug)]
pub struct Hunt {
    /// The bug.
    pub bug: PlantedBug,
    /// The engine the programs ran on.
    pub engine: EngineKind,
    /// Programs tried (including the one that caught it).
    pub programs: u64,
    /// Seed of the catching program, and what caught it.
    pub caught: Option<(u64, Finding)>,
    /// Wall-clock time spent.
    pub elapsed: std::time::Duration,
    /// Runs the engine could not make, judged on Unicorn instead
    /// ([`crate::differential::Report::judged_on_unicorn`]).
    pub judged_on_unicorn: u64,
}

/// Generate programs from the bug's profile (seeds `first_seed..`) and run the bug's strategy
/// beside a correct reference on `engine` until a finding, `max_programs` or `time_limit`.
pub fn hunt_bug(
    bug: PlantedBug,
    static_check: bool,
    engine: EngineKind,
    first_seed: u64,
    max_programs: u64,
    time_limit: std::time::Duration,
) -> Result<Hunt, EngineError> {
    let start = std::time::Instant::now();
    let profile = bug.profile().profile();
    let strategies = bug.hunted_with();
    let cfg = Config {
        strategies,
        bug: Some(bug),
        static_check,
        dynamic: true,
    };
    let (mut programs, mut judged_on_unicorn) = (0, 0);
    while programs < max_programs && start.elapsed() < time_limit {
        let seed = first_seed + programs;
        let p = crate::model::gen::from_seed(seed, &profile);
        programs += 1;
        let report = run_on(&[&p], &cfg, &[engine])?
            .pop()
            .expect("one report per program");
        judged_on_unicorn += report.judged_on_unicorn.len() as u64;
        if let Some(f) = report.finding {
            return Ok(Hunt {
                bug,
                engine,
                programs,
                caught: Some((seed, f)),
                elapsed: start.elapsed(),
                judged_on_unicorn,
            });
        }
    }
    Ok(Hunt {
        bug,
        engine,
        programs,
        caught: None,
        elapsed: start.elapsed(),
        judged_on_unicorn,
    })
}

/// Runs `work` on every item with `jobs` threads (at least one), each taking the next item from
/// one counter, and hands each result to `emit` in item order as soon as every earlier item's
/// result has been handed over, so output comes in order while the work does not wait. Returns
/// the results in item order, or an error a worker met (after one, no worker takes another
/// item; when several failed, the error of the lowest-numbered thread).
pub fn in_order<T: Sync, R: Send, E: Send>(
    items: &[T],
    jobs: usize,
    work: impl Fn(&T) -> Result<R, E> + Sync,
    emit: impl FnMut(&R) + Send,
) -> Result<Vec<R>, E> {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::sync::Mutex;
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    // (results emitted so far, each item's result once done, the emitter)
    let done = Mutex::new((
        0usize,
        (0..items.len()).map(|_| None).collect::<Vec<_>>(),
        emit,
    ));
    let worker = || -> Result<(), E> {
        while !failed.load(Ordering::SeqCst) {
            let i = next.fetch_add(1, Ordering::SeqCst);
            let Some(item) = items.get(i) else {
                return Ok(());
            };
            let r = work(item).inspect_err(|_| failed.store(true, Ordering::SeqCst))?;
            let mut guard = done.lock().expect("no worker panics holding it");
            let (emitted, results, emit) = &mut *guard;
            results[i] = Some(r);
            while let Some(Some(r)) = results.get(*emitted) {
                emit(r);
                *emitted += 1;
            }
        }
        Ok(())
    };
    std::thread::scope(|s| {
        let workers: Vec<_> = (0..jobs.max(1)).map(|_| s.spawn(worker)).collect();
        workers
            .into_iter()
            .try_for_each(|w| w.join().expect("a worker panicked"))
    })?;
    let (_, results, _) = done.into_inner().expect("the workers are done");
    Ok(results.into_iter().flatten().collect())
}

#[cfg(test)]
mod tests {
    use super::in_order;
    use std::time::Duration;

    /// Results come back and are emitted in item order whatever order the work finishes in.
    #[test]
    fn in_order_emits_in_item_order_whatever_finishes_first() {
        let items: Vec<u64> = (0..12).collect();
        let mut seen = Vec::new();
        let out = in_order(
            &items,
            3,
            |&i| {
                std::thread::sleep(Duration::from_millis((12 - i) * 3));
                Ok::<u64, ()>(i * 10)
            },
            |&r| seen.push(r),
        )
        .unwrap();
        let want: Vec<u64> = items.iter().map(|i| i * 10).collect();
        assert_eq!(out, want);
        assert_eq!(seen, want);
    }

    /// An error stops the work and is returned; nothing past it is emitted.
    #[test]
    fn in_order_returns_the_first_error() {
        let items: Vec<u32> = (0..50).collect();
        let mut seen = Vec::new();
        let r = in_order(
            &items,
            2,
            |&i| if i == 5 { Err("five") } else { Ok(i) },
            |&r| seen.push(r),
        );
        assert_eq!(r, Err("five"));
        assert!(seen.iter().all(|&r| r < 5), "{seen:?}");
    }
}
