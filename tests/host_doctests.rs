//! The doctests of the CinderX tier's host-side comparison scripts, run by the test command
//! (their tools run them too, but only where a CinderX build exists): the fidelity verdicts
//! (a flipped branch or a missing call is never accepted; a folded heap address is not judged),
//! `--same-code`'s shape comparison, and the findings' verdicts on noisy rows and on instructions
//! saved that the pool calls do not explain.

use std::process::Command;

fn doctest(script: &str) {
    let out = Command::new("python3")
        .args(["-m", "doctest", "-v", script])
        .output()
        .expect("python3 runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{script}: doctests fail\n{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // `-v` ends with "N passed and 0 failed." / "Test passed.": at least one example ran.
    assert!(
        text.contains("Test passed.") && !text.contains(" 0 passed"),
        "{script}: no doctest ran\n{text}"
    );
}

#[test]
fn fidelity_compare_doctests_pass() {
    doctest("harness/cinderx/fidelity_compare.py");
}

#[test]
fn target_compare_doctests_pass() {
    doctest("harness/cinderx/target_compare.py");
}

#[test]
fn benchmark_report_doctests_pass() {
    doctest("harness/cinderx/bench_check.py");
    doctest("harness/cinderx/report.py");
}

#[test]
fn literal_pool_report_doctests_pass() {
    doctest("harness/cinderx/literal_pool_report.py");
}
