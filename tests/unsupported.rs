//! A valid program a64call cannot run (its code is larger than the 64 MiB code region, or a
//! helper lies inside its code) gets the verdict `unsupported` and exit 2, never a divergence
//! and never a repro file.

/// `a64call run` of `text` (written to a file named `name`) on `engines`: it must say
/// `unsupported` with `reason`, exit 2 and write no repro.
fn assert_unsupported(name: &str, text: &str, engines: &str, reason: &str) {
    let dir = std::env::temp_dir().join(format!("a64call-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join(format!("{name}.a64"));
    std::fs::write(&file, text).unwrap();
    let repros = dir.join("repros");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_a64call"))
        .arg("run")
        .arg(&file)
        .args(["--engines", engines, "--repro-dir"])
        .arg(&repros)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "{stdout}");
    assert!(
        stdout.contains("verdict: unsupported") && stdout.contains(reason),
        "{stdout}"
    );
    let verdicts = stdout.lines().filter(|l| l.starts_with("verdict:")).count();
    assert!(verdicts == 1 && !repros.exists(), "{stdout}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_program_too_large_for_the_code_region_is_unsupported() {
    let mut text =
        String::from("a64call-program 1\ncode 0x2000000000\nhelper h0 0x2300000040 args 2\nbody\n");
    for _ in 0..5 {
        // 4 instructions each (movz and three movk): 20 Mi instructions, 80 MiB, from 5 Mi
        // operations (fewer than the parser's bound of one instruction per operation).
        text.push_str("  repeat 1048576: v3 = const 0x1234567812345678\n");
    }
    text.push_str("  v4 = call h0(v3, v1)\nret v4\n");
    assert_unsupported("too-large", &text, "unicorn", "larger than the code region");
}

/// A correct program that runs longer than the engines' instruction limit (77 million
/// additions in two loops) is unsupported, on every engine: the interpreter and Unicorn would
/// stop it as runaway code while qemu, limited by time, finishes it.
#[test]
fn a_program_that_may_run_past_the_instruction_limit_is_unsupported() {
    let text = "a64call-program 1\ncode 0x2000000000\nhelper h0 0x2300000040 args 2\nbody\n  \
                loop 16 {\n  loop 16 {\n  repeat 300000: v3 = add v3, v1\n  }\n  }\n  \
                v4 = call h0(v3, v1)\nret v4\n";
    for engines in ["interp", "unicorn"] {
        assert_unsupported(
            "runs-long",
            text,
            engines,
            "not under the engines' limit of 50000000",
        );
    }
}

/// A helper past the code's first 64 KiB page but inside the code: every strategy's static
/// check would find the helper's words in its call sequence (the `direct` strategy's `bl`
/// lands there), so the placement is refused before any check runs.
#[test]
fn a_helper_inside_the_code_is_unsupported_before_the_static_check() {
    let text = "a64call-program 1\ncode 0x2000000000\nhelper h0 0x2000020040 args 2\nbody\n  \
                v4 = call h0(v3, v1)\n  repeat 100000: v3 = add v3, v1\nret v3\n";
    assert_unsupported(
        "helper-in-code",
        text,
        "interp",
        "shares a 64 KiB page with the emitted code",
    );
}

/// `replay` over a divergent file and an unsupported one exits 1: the divergence decides.
#[test]
fn replay_exits_1_when_a_divergence_sits_beside_an_unsupported_file() {
    let dir = std::env::temp_dir().join(format!("a64call-replay-mix-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let shared =
        std::fs::read_to_string("corpus/regressions/shared-faults/const-zero-and-ones.a64")
            .unwrap();
    std::fs::write(dir.join("a-diverges.a64"), shared).unwrap();
    let in_code = "a64call-program 1\ncode 0x2000000000\nhelper h0 0x2000020040 args 2\nbody\n  \
                   v4 = call h0(v3, v1)\n  repeat 100000: v3 = add v3, v1\nret v3\n";
    std::fs::write(dir.join("b-unsupported.a64"), in_code).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_a64call"))
        .arg("replay")
        .arg(&dir)
        .args(["--engines", "interp", "--plant", "const-trivial-dropped"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("1 failed") && stdout.contains("1 unsupported"),
        "{stdout}"
    );
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A program that fills the call log agrees on the calls up to it, and `run` says that only
/// those were compared.
#[test]
fn a_full_call_log_is_stated_beside_the_verdict() {
    let dir = std::env::temp_dir().join(format!("a64call-log-full-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("many-calls.a64");
    let text = "a64call-program 1\ncode 0x2000000000\nhelper h0 0x2300000040 args 2\nbody\n  \
                loop 16 {\n  loop 16 {\n  loop 16 {\n  repeat 30: v4 = call h0(v3, v1)\n  }\n  \
                }\n  }\nret v4\n";
    std::fs::write(&file, text).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_a64call"))
        .arg("run")
        .arg(&file)
        .args(["--engines", "interp", "--repro-dir"])
        .arg(dir.join("repros"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(
        stdout.contains("verdict: agree")
            && stdout.contains("more calls than the call log holds (95325)"),
        "{stdout}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
