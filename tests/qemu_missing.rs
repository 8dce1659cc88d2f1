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
