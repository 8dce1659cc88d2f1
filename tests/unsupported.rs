//! A valid program a64call cannot run (its code is larger than the 64 MiB code region) gets the
//! verdict `unsupported` and exit 2, never a divergence and never a repro file.

#[test]
fn a_program_too_large_for_the_code_region_is_unsupported() {
    let dir = std::env::temp_dir().join(format!("a64call-unsupported-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut text =
        String::from("a64call-program 1\ncode 0x2000000000\nhelper h0 0x2300000040 args 2\nbody\n");
    for _ in 0..17 {
        text.push_str("  repeat 1048576: v3 = add v3, v1\n"); // 17 Mi instructions: 68 MiB
    }
    text.push_str("  v4 = call h0(v3, v1)\nret v4\n");
    let file = dir.join("too-large.a64");
    std::fs::write(&file, text).unwrap();
    let repros = dir.join("repros");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_a64call"))
        .arg("run")
        .arg(&file)
        .args(["--engines", "unicorn", "--repro-dir"])
        .arg(&repros)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "{stdout}");
    assert!(
        stdout.contains("verdict: unsupported") && stdout.contains("larger than the code region"),
        "{stdout}"
    );
    assert!(!stdout.contains("DIVERGE") && !repros.exists(), "{stdout}");
    std::fs::remove_dir_all(&dir).unwrap();
}
