//! A missing qemu is a clear error naming the problem, never a panic or a silent pass.

#[test]
fn missing_qemu_is_a_clear_error() {
    // This test binary's other test does not read A64CALL_QEMU, so setting it here is harmless.
    std::env::set_var("A64CALL_QEMU", "/nonexistent/qemu-aarch64");
    let e = a64call::engine::qemu::find_qemu().unwrap_err();
    assert!(
        e.to_string()
            .contains("/nonexistent/qemu-aarch64 does not exist"),
        "{e}"
    );
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_a64call"))
        .args(["check", "--iterations", "1", "--engines", "qemu"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("does not exist") && !err.contains("panicked"),
        "{err}"
    );
}

#[test]
#[cfg(not(all(target_arch = "aarch64", target_os = "linux")))]
fn the_native_engine_says_it_is_absent_on_other_hosts() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_a64call"))
        .args(["check", "--iterations", "1", "--engines", "native"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("runs only on aarch64 Linux hosts"), "{err}");
}

/// A "qemu" that runs but never runs the ELF runner (here `true` and `false`) is an engine
/// error for every command, not a truncated run blamed on the code under test, and not a
/// planted bug "caught" by nothing.
#[test]
fn a_qemu_that_does_not_run_the_runner_is_a_clear_error() {
    for fake in ["/bin/true", "/bin/false"] {
        for args in [
            &["check", "--iterations", "3", "--engines", "qemu"][..],
            &["planted", "--engines", "qemu", "--no-static-check"][..],
        ] {
            let out = std::process::Command::new(env!("CARGO_BIN_EXE_a64call"))
                .args(args)
                .env("A64CALL_QEMU", fake)
                .output()
                .unwrap();
            let err = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{fake} {args:?}: {err}");
            assert!(
                err.contains(&format!("the ELF runner never started under {fake}"))
                    && !err.contains("panicked"),
                "{fake} {args:?}: {err}"
            );
        }
    }
}
