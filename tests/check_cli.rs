//! `a64call check` by default: every program on the interpreter, 1 in 16 confirmed on Unicorn
//! (and qemu when found), on every core; the same seeds give the same summary whatever `--jobs`.

fn check(args: &[&str]) -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_a64call"))
        .args(["check", "--iterations", "40", "--seed", "1"])
        .args(args)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    text
}

/// The lines that do not depend on timing: the verdict with its counts, and the edges met.
fn stable_lines(out: &str) -> Vec<&str> {
    out.lines()
        .filter(|l| {
            l.starts_with("ok:") || l.starts_with("confirmed:") || l.starts_with("edges met")
        })
        .collect()
}

#[test]
fn the_default_check_runs_interp_and_confirms_a_sample_the_same_whatever_the_jobs() {
    let one = check(&["--jobs", "1"]);
    assert!(one.contains("strategies on interp each"), "{one}");
    // Seeds 1 to 15 of 1 to 40: the run of 16 seeds from 0 (seed / 16 a multiple of 16).
    assert!(
        one.contains("confirmed: 15 of them also on unicorn"),
        "{one}"
    );
    assert!(one.contains("engines: interp 40 programs"), "{one}");
    let two = check(&["--jobs", "2"]);
    assert_eq!(stable_lines(&one), stable_lines(&two));
    assert_eq!(stable_lines(&one).len(), 3, "{one}");
}

#[test]
fn the_first_run_of_seeds_is_confirmed_wherever_it_starts() {
    // Seeds 16..=35: the run of seeds 16-31 (the first) is confirmed, 32-35 (the next) not.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_a64call"))
        .args(["check", "--iterations", "20", "--seed", "16", "--jobs", "1"])
        .args(["--confirm-with", "unicorn"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("confirmed: 16 of them also on unicorn"),
        "{text}"
    );
}

#[test]
fn bad_job_sample_and_engine_choices_are_clear_errors() {
    for (args, says) in [
        (&["--jobs", "0"][..], "--jobs must be at least 1"),
        (
            &["--jobs", "100000"],
            "--jobs 100000: at most 256 worker threads",
        ),
        (
            &["--confirm-every", "0"],
            "--confirm-every must be at least 1",
        ),
        (&["--elf-batch", "0"], "--elf-batch must be at least 1"),
        (
            &["--engines", "interp", "--confirm-with", "interp"],
            "--confirm-with interp: every program already runs on interp",
        ),
    ] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_a64call"))
            .args(["check", "--iterations", "1"])
            .args(args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(says) && !err.contains("panicked"), "{err}");
    }
}

/// A finding made with a bug planted through A64CALL_PLANT gets a repro whose provenance line
/// names the bug, so two bugs found at the same seed write two files, each saying how to
/// reproduce it.
#[test]
fn a_repro_of_a_planted_finding_names_the_bug() {
    let dir = std::env::temp_dir().join(format!("a64call-plant-repro-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let bugs = ["pool-offset-off-by-4", "stub-wrong-target"];
    for bug in bugs {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_a64call"))
            .args([
                "check",
                "--iterations",
                "4",
                "--seed",
                "1",
                "--engines",
                "interp",
            ])
            .arg("--repro-dir")
            .arg(&dir)
            .env("A64CALL_PLANT", bug)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{bug}: the bug is found");
    }
    let files = a64call::differential::repro::find_repros(&dir).unwrap();
    assert_eq!(files.len(), 2, "{files:?}");
    for bug in bugs {
        let named = files.iter().filter(|f| {
            std::fs::read_to_string(f)
                .unwrap()
                .lines()
                .next()
                .unwrap()
                .ends_with(&format!(" --plant {bug}"))
        });
        assert_eq!(named.count(), 1, "one repro names {bug}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
