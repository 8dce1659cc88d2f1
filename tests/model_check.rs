//! `harness/cinderx/model_check.py` (does the patched JIT's code have the `pool+bl` shape?) on
//! hand-made `a64call verify --json` reports: a function in the modelled shape passes, and each
//! rule catches a planted fault of its own.

use serde_json::{json, Value};
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

const FAR: u64 = 0x40_0000; // python3.14's code: far from the function below
const FUNC: u64 = 0x2a_0000_0000;

/// A placed 0x80-byte function with two far calls to one target and one to another, through a
/// pool of two literals at 0x60 and 0x68 right after its code (0x00..0x60), and its stub-free
/// rest; `edit` plants a fault.
fn report(edit: impl Fn(&mut Value)) -> Value {
    let mut f = json!({
        "name": "m:f", "dump_addr": 0x1000, "addr": FUNC, "size": 0x80,
        "data": [[0x60, 0x80]],
        "sites": [
            {"offset": 0x10, "kind": "ldr-literal+blr", "target": FAR, "literal": 0x60, "entry": "elf: PyFloat_FromDouble"},
            {"offset": 0x20, "kind": "ldr-literal+blr", "target": FAR + 0x40, "literal": 0x68, "entry": "elf: PyNumber_Add"},
            {"offset": 0x30, "kind": "ldr-literal+blr", "target": FAR, "literal": 0x60, "entry": "elf: PyFloat_FromDouble"},
            {"offset": 0x40, "kind": "bl direct", "target": FUNC + 0x100_0000, "literal": null, "entry": "elf: _cinderx.so: x"}
        ]
    });
    edit(&mut f);
    json!({ "functions": [f] })
}

fn run(reports: &[Value]) -> (i32, String) {
    static CALLS: AtomicUsize = AtomicUsize::new(0);
    let call = CALLS.fetch_add(1, Ordering::Relaxed);
    let dir =
        std::env::temp_dir().join(format!("a64call-model-check-{}-{call}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut args = vec![PathBuf::from("harness/cinderx/model_check.py")];
    for (i, r) in reports.iter().enumerate() {
        let p = dir.join(format!("{i}.json"));
        std::fs::write(&p, r.to_string()).unwrap();
        args.push(p);
    }
    let out = Command::new("python3")
        .args(&args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("python3 runs");
    std::fs::remove_dir_all(&dir).unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code().unwrap_or(-1), text)
}

fn site(f: &mut Value, i: usize) -> &mut Value {
    &mut f["sites"][i]
}

#[test]
fn the_modelled_shape_passes() {
    let (code, out) = run(&[report(|_| {})]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("model_check: 1/1 pool-form functions as modelled"),
        "{out}"
    );
}

#[test]
fn each_rule_catches_its_planted_fault() {
    type Plant = fn(&mut Value);
    let plants: [(&str, Plant); 7] = [
        ("P1", |f| f["data"] = json!([[0x58, 0x64], [0x68, 0x80]])), // code inside the pool
        ("P2", |f| f["addr"] = json!(FUNC + 4)),                     // pool not 8-byte aligned
        (
            "P3",
            |f| {
                *site(f, 2) = json!({"offset": 0x30, "kind": "ldr-literal+blr", "target": FAR, "literal": 0x70})
            },
        ),
        ("P4", |f| {
            site(f, 1)["literal"] = json!(0x70);
            f["data"] = json!([[0x60, 0x80]]);
        }),
        ("P5", |f| {
            site(f, 0)["literal"] = json!(0x68);
            site(f, 2)["literal"] = json!(0x68);
            site(f, 1)["literal"] = json!(0x60);
        }),
        (
            "P6",
            |f| *site(f, 3) = json!({"offset": 0x40, "kind": "bl->stub", "target": FAR + 0x80, "entry": "elf: PyLong_FromLong"}),
        ),
        ("P1", |f| site(f, 2)["offset"] = json!(0x64)), // a pool call after the pool
    ];
    for (rule, plant) in plants {
        let (code, out) = run(&[report(plant)]);
        assert_eq!(code, 1, "{rule} not caught:\n{out}");
        assert!(
            out.contains(&format!("BROKEN   m:f: {rule}:")),
            "{rule}:\n{out}"
        );
    }
}

#[test]
fn listed_exceptions_and_forms_do_not_fail() {
    let near_guess = report(
        |f| *site(f, 3) = json!({"offset": 0x40, "kind": "bl->stub", "target": FAR + 0x80, "entry": "elf: _cinderx.so: JITRT_Call"}),
    );
    let far_guess = report(|f| site(f, 1)["target"] = json!(FUNC + 0x1000));
    let stub_form = json!({"functions": [{"name": "m:g", "dump_addr": 0, "addr": FUNC, "size": 0x8_0000, "data": [],
        "sites": [{"offset": 0, "kind": "bl->stub", "target": FAR}]}]});
    let (code, out) = run(&[near_guess, far_guess, stub_form]);
    assert_eq!(code, 0, "{out}");
    for want in [
        "near guess relaxed to a stub at +0x40",
        "far guess within bl range at +0x20",
        "stubs    m:g: 524,288 bytes",
        "2/2 pool-form functions as modelled (P1-P7), 1 in stub form",
    ] {
        assert!(out.contains(want), "{want}:\n{out}");
    }
}

/// S1: a small function that still calls a far target through a stub is a call the patch missed.
#[test]
fn a_small_function_in_stub_form_is_broken() {
    let small = json!({"functions": [{"name": "m:g", "dump_addr": 0, "addr": FUNC, "size": 0x40, "data": [],
        "sites": [{"offset": 0, "kind": "bl->stub", "target": FAR, "entry": "elf: PyLong_FromLong"}]}]});
    let (code, out) = run(&[small]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("BROKEN   m:g: S1: 1 far calls through stubs"),
        "{out}"
    );
}

#[test]
fn bad_input_is_named_not_a_trace() {
    let (code, out) = run(&[json!({"no functions": 1})]);
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains("not a64call verify --json output") && !out.contains("Traceback"),
        "{out}"
    );
    let (code, out) = run(&[report(|f| drop(f.as_object_mut().unwrap().remove("data")))]);
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains("function m:f: missing or malformed field") && !out.contains("Traceback"),
        "{out}"
    );
}
