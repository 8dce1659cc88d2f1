//! Tests of the parent module.

use super::*;

const SAMPLE: &str = "a64call-program 1
code 0x3f0000000000
helper h0 0x3f0000400010 args 2
helper h1 0x12345670000 args 0
body
  v1 = call h0(v0, v3)
  store [5], v1   # keep it
  if v1 ult v2 {
v4 = add v1, v2
  } else {
call h1()
  }
  loop 3 {
v2 = load [5]
v3 = lsr v2, 7
  }
  v5 = const 0xdeadbeef
ret v1
";

#[test]
fn parses_and_round_trips_sample() {
    let p = parse(SAMPLE).unwrap();
    assert_eq!(p.helpers.len(), 2);
    assert_eq!(p.call_sites(), 2);
    let printed = print(&p);
    assert_eq!(parse(&printed).unwrap(), p);
    assert_eq!(print(&parse(&printed).unwrap()), printed);
}

#[test]
fn errors_name_line_and_expectation() {
    let bad = SAMPLE.replace("v4 = add v1, v2", "v4 = frob v1, v2");
    let e = parse(&bad).unwrap_err();
    assert_eq!(e.line, 9);
    assert!(e.message.contains("expected an operation"), "{e}");
    let e = parse(&SAMPLE.replace("args 2", "args two")).unwrap_err();
    assert_eq!(e.line, 3);
    assert!(e.to_string().contains("argument count"), "{e}");
    let e = parse("a64call-program 1\ncode 0x3f0000000000\n").unwrap_err();
    assert_eq!(e.line, 0);
    assert!(e.message.contains("input ended"), "{e}");
    let e = parse(&SAMPLE.replace("call h0(v0, v3)", "call h0(v0)")).unwrap_err();
    assert!(e.message.contains("passes 1 args; it takes 2"), "{e}");
    let e = parse("not a program").unwrap_err();
    assert_eq!(e.line, 1);
    let e = parse(&SAMPLE.replace("v5 = const", "v9 = const")).unwrap_err();
    assert!(e.message.contains("v0..v8"), "{e}");
    let e = parse(&SAMPLE.replace("0xdeadbeef", "0x1ffffffffffffffff")).unwrap_err();
    assert!(e.message.contains("at most 64 bits"), "{e}");
    let e = parse(&SAMPLE.replace("0xdeadbeef", "-1")).unwrap_err();
    assert!(
        e.message
            .contains("negative numbers are written in 0x form"),
        "{e}"
    );
    // The loop left open: `ret` is reported as inside it.
    let e = parse(&SAMPLE.replace("v3 = lsr v2, 7\n  }\n", "v3 = lsr v2, 7\n")).unwrap_err();
    assert_eq!(e.line, 17, "{e}");
    assert!(e.message.contains("still open"), "{e}");
}

#[test]
fn a_run_longer_than_one_repeat_line_prints_as_lines_that_parse() {
    let text = SAMPLE.replace(
        "v4 = add v1, v2",
        "v4 = add v1, v2\n    repeat 1048576: v4 = add v4, v2\n    repeat 1048576: v4 = add v4, v2\n    repeat 7: v4 = add v4, v2",
    );
    let p = parse(&text).unwrap();
    let printed = print(&p);
    assert_eq!(
        printed.matches("repeat 1048576: v4 = add v4, v2").count(),
        2,
        "{printed}"
    );
    assert!(printed.contains("repeat 7: v4 = add v4, v2"), "{printed}");
    assert_eq!(parse(&printed).unwrap(), p);
}

#[test]
fn repeat_expands_and_runs_print_as_repeat() {
    let text = SAMPLE.replace(
        "v4 = add v1, v2",
        "v4 = add v1, v2\n    repeat 5000: v4 = add v4, v2\n    repeat 2: store [3], v4",
    );
    let p = parse(&text).unwrap();
    let printed = print(&p);
    // The run of 5000 prints as one line; a run of two prints plainly.
    assert!(
        printed.contains("repeat 5000: v4 = add v4, v2"),
        "{printed}"
    );
    assert_eq!(printed.matches("store [3], v4").count(), 2, "{printed}");
    assert!(printed.lines().count() < 30, "{printed}");
    assert_eq!(parse(&printed).unwrap(), p);
    let bad = |r: &str| {
        parse(&SAMPLE.replace("v4 = add v1, v2", r))
            .unwrap_err()
            .to_string()
    };
    assert!(
        bad("repeat 0: v4 = add v1, v2").contains("1..="),
        "repeat 0"
    );
    assert!(bad("repeat 3 v4 = add v1, v2").contains("expected `repeat N: OP`"));
    assert!(bad("repeat 3: loop 2 {").contains("one-line operation"));
    assert!(bad("repeat x: v4 = add v1, v2").contains("repeat count"));
    assert!(bad("repeat 3: v4 = frob v1, v2").contains("line 9"));
}

/// The optional anchor line round-trips, and a malformed one is an error naming its line.
#[test]
fn the_anchor_line_round_trips_and_errors_name_it() {
    let with = SAMPLE.replace(
        "code 0x3f0000000000\n",
        "code 0x3f0000000000\nanchor 0x3f0000c00010\n",
    );
    let p = parse(&with).unwrap();
    assert_eq!(p.anchor, Some(0x3f00_00c0_0010));
    assert_eq!(parse(&print(&p)).unwrap(), p);
    assert!(print(&p).contains("\nanchor 0x3f0000c00010\n"));
    assert_eq!(parse(SAMPLE).unwrap().anchor, None);
    for (bad, want) in [
        ("anchor", "expected `anchor <address>`"),
        ("anchor 1 2", "expected `anchor <address>`"),
        ("anchor zz", "the anchor address"),
        ("anchor 0x400000000000", "outside the user range"),
    ] {
        let e = parse(&SAMPLE.replace(
            "code 0x3f0000000000\n",
            &format!("code 0x3f0000000000\n{bad}\n"),
        ))
        .unwrap_err();
        assert_eq!(e.line, 3, "{bad}: {e}");
        assert!(e.message.contains(want), "{bad}: {e}");
    }
}

/// Nesting past [`MAX_NESTING`] and operations that could never fit the code region are
/// errors naming their line, found while parsing (deep nesting overflowed the parser's stack;
/// a few `repeat` lines made gigabytes of operations before emission refused them).
#[test]
fn deep_nesting_and_too_many_operations_are_errors_naming_the_line() {
    let head = "a64call-program 1\ncode 0x2000000000\nhelper h0 0x2300000040 args 0\nbody\n";
    let nested = |levels: usize| {
        let mut t = head.to_string();
        t.push_str(&"if v1 eq v2 {\n".repeat(levels));
        t.push_str("v1 = add v1, v2\n");
        t.push_str(&"}\n".repeat(levels));
        t.push_str("ret v1\n");
        t
    };
    parse(&nested(MAX_NESTING)).unwrap();
    let e = parse(&nested(MAX_NESTING + 1)).unwrap_err();
    assert_eq!(e.line, 5 + MAX_NESTING, "{e}");
    assert!(e.message.contains("nested deeper than 256"), "{e}");
    let e = parse(&nested(100_000)).unwrap_err();
    assert_eq!(e.line, 5 + MAX_NESTING, "{e}");
    let filler = |lines: usize, extra: &str| {
        let mut t = head.to_string();
        t.push_str(&"repeat 1048576: v1 = add v1, v2\n".repeat(lines));
        t.push_str(extra);
        t.push_str("ret v1\n");
        t
    };
    assert_eq!(parse(&filler(16, "")).unwrap().op_count() as u64, MAX_WORDS);
    let e = parse(&filler(16, "v2 = add v1, v1\n")).unwrap_err();
    assert_eq!(e.line, 21, "{e}");
    assert!(
        e.message.contains("cannot fit the 64 MiB code region"),
        "{e}"
    );
    let e = parse(&filler(40, "")).unwrap_err();
    assert_eq!(e.line, 21, "{e}");
    // A call with two arguments and a result is at least 4 words: 4 lines of a million pass,
    // a fifth does not.
    let head2 = head.replace("args 0", "args 2");
    let calls = |lines: usize| {
        let mut t = head2.clone();
        t.push_str(&"repeat 1048576: v3 = call h0(v1, v2)\n".repeat(lines));
        t.push_str("ret v1\n");
        t
    };
    parse(&calls(4)).unwrap();
    let e = parse(&calls(5)).unwrap_err();
    assert_eq!(e.line, 9, "{e}");
}
