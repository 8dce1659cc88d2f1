//! The verifier on small hand-made guests: functions built with a64call's own code buffer, a
//! dump written like CinderX's, maps text, a perf map, and two stripped ELF files (a non-PIE
//! "python3.14" far away and a PIE "_cinderx.so" within `bl` range).

use super::testelf;
use super::*;
use crate::asm::buffer::{CodeBuffer, Faults};
use crate::asm::encode::{Cond, Inst, X16};

const JIT: u64 = 0x7f00_0000_0000;
const PY: u64 = 0x40_0000;
/// `PyNumber_Add` (a `.dynsym` function of the far executable).
const ADD: u64 = PY + 0x1000;
/// `_Py_Dealloc`.
const DEALLOC: u64 = PY + 0x1100;
/// A static function only an FDE names.
const STATIC_FN: u64 = PY + 0x1200;
/// The near library's load bias and its function `JITRT_Call` (file address 0x1040).
const LIB: u64 = JIT + 0x100_0000;
const NEAR: u64 = LIB + 0x1040;
const TRAMPOLINE: u64 = JIT + 0x8_0000;

/// Files of one test guest; removed on drop.
struct Guest {
    dir: PathBuf,
    inputs: Inputs,
}

impl Drop for Guest {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A guest whose JIT made `funcs` (name, bytes placed at their base).
fn guest(test: &str, funcs: &[(&str, u64, Vec<u8>)]) -> Guest {
    let dir = std::env::temp_dir().join(format!("a64call-verify-{}-{test}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let py = dir.join("python3.14");
    let lib = dir.join("_cinderx.so");
    let fdes = [ADD, DEALLOC, STATIC_FN];
    let py_elf = testelf::image(
        object::elf::ET_EXEC,
        PY,
        0x1000,
        &[("PyNumber_Add", ADD), ("_Py_Dealloc", DEALLOC)],
        &fdes,
    );
    std::fs::write(&py, py_elf).unwrap();
    std::fs::write(
        &lib,
        testelf::image(
            object::elf::ET_DYN,
            0,
            0x1000,
            &[("JITRT_Call", 0x1040)],
            &[],
        ),
    )
    .unwrap();
    let maps = format!(
        "00400000-00403000 r-xp 00000000 fe:00 11 {}\n\
         7f0000000000-7f0000100000 rwxp 00000000 00:00 0 \n\
         7f0001000000-7f0001003000 r-xp 00000000 fe:00 12 {}\n\
         7ffff0000000-7ffff0021000 rw-p 00000000 00:00 0    [stack]\n",
        py.display(),
        lib.display()
    );
    std::fs::write(dir.join("maps"), maps).unwrap();
    let mut perf = format!("{TRAMPOLINE:x} 40 __CINDER_INFRA_JIT:deopt_trampoline\n");
    for (name, base, bytes) in funcs {
        perf += &format!("{base:x} {:x} __CINDER_JIT:{name}\n", bytes.len());
    }
    std::fs::write(dir.join("perf.map"), perf).unwrap();
    let entries: Vec<(&str, &[u8], u32)> = funcs
        .iter()
        .map(|(n, _, b)| (*n, b.as_slice(), 0))
        .collect();
    std::fs::write(dir.join("dump.elf"), testelf::dump(&entries)).unwrap();
    let inputs = Inputs {
        dump: dir.join("dump.elf"),
        maps: dir.join("maps"),
        perf_map: Some(dir.join("perf.map")),
        elfs: vec![],
        allow: vec![],
    };
    Guest { dir, inputs }
}

fn bl_to(b: &mut CodeBuffer, target: u64) {
    let offset = (target as i64 - b.pc() as i64) as i32;
    b.push(Inst::Bl { offset });
}

/// What the CinderX patch emits: far calls through de-duplicated pool literals, near ones `bl`.
fn pool_bl(base: u64, faults: Faults, ret: bool) -> Vec<u8> {
    let mut b = CodeBuffer::with_faults(base, faults);
    b.load_const(0, 0x7f00_dead_0000); // an object constant, like CinderX's pool holds
    b.load_const(X16, ADD);
    b.push(Inst::Blr { rn: X16 });
    bl_to(&mut b, NEAR);
    b.load_const(X16, DEALLOC);
    b.push(Inst::Blr { rn: X16 });
    b.load_const(X16, ADD);
    b.push(Inst::Blr { rn: X16 });
    b.load_const(X16, STATIC_FN);
    b.push(Inst::Blr { rn: X16 });
    if ret {
        b.push(Inst::Ret);
    }
    b.finish().unwrap().bytes
}

/// What CinderX 2026.11 emits: far calls `bl` a stub; a deopt exit branches to a trampoline.
fn stubs(base: u64, faults: Faults) -> Vec<u8> {
    let mut b = CodeBuffer::with_faults(base, faults);
    b.call_via_stub(ADD);
    bl_to(&mut b, NEAR);
    b.call_via_stub(DEALLOC);
    b.call_via_stub(ADD);
    let offset = (TRAMPOLINE as i64 - b.pc() as i64) as i32;
    b.push(Inst::BCond {
        cond: Cond::Ne,
        offset,
    });
    b.push(Inst::Ret);
    // Unreachable: the walk must not count it.
    b.push(Inst::Bl { offset: 0x100 });
    b.finish().unwrap().bytes
}

fn verify_one(test: &str, bytes: Vec<u8>) -> Report {
    let g = guest(test, &[("m:f", JIT, bytes)]);
    run(&g.inputs).unwrap()
}

fn rules(r: &Report) -> Vec<&'static str> {
    r.functions
        .iter()
        .flat_map(|f| f.violations.iter().map(|v| v.rule))
        .collect()
}

#[test]
fn correct_pool_bl_function_passes() {
    let r = verify_one("pool-ok", pool_bl(JIT, Faults::default(), true));
    assert_eq!(r.violations(), 0, "{}", r.text());
    let f = &r.functions[0];
    assert_eq!(f.calls.get("ldr-literal+blr"), Some(&4), "{}", r.text());
    assert_eq!(f.calls.get("bl direct"), Some(&1));
    assert_eq!(f.resolved.get("symbol"), Some(&4), "{:?}", f.sites);
    assert_eq!(f.resolved.get("eh_frame"), Some(&1), "{:?}", f.sites);
    assert_eq!(f.pool_words, 8, "four 8-byte literals, de-duplicated");
}

#[test]
fn correct_stub_function_passes() {
    let r = verify_one("stub-ok", stubs(JIT, Faults::default()));
    assert_eq!(r.violations(), 0, "{}", r.text());
    let f = &r.functions[0];
    assert_eq!(f.calls.get("bl->stub"), Some(&3), "{}", r.text());
    assert_eq!(f.branches.get("br out"), Some(&2), "each stub's tail");
    assert_eq!(f.branches.get("b out"), Some(&1), "the deopt branch");
    assert_eq!(f.calls.values().sum::<u64>(), 4, "{:?}", f.calls);
    assert_eq!(f.resolved.get("perf-map"), Some(&1));
}

/// Re-encode every `ldr <literal>` with its offset moved by `delta` bytes.
fn shift_literals(mut bytes: Vec<u8>, delta: i64) -> Vec<u8> {
    for c in bytes.chunks_exact_mut(4) {
        let w = u32::from_le_bytes(c.try_into().unwrap());
        if let reach::Flow::Literal { offset, .. } = reach::flow(w) {
            let imm = (((offset + delta) / 4) as u32 & 0x7FFFF) << 5;
            c.copy_from_slice(&((w & !(0x7FFFF << 5)) | imm).to_le_bytes());
        }
    }
    bytes
}

#[test]
fn literal_offset_off_by_8_fails() {
    let r = verify_one(
        "off-by-8",
        shift_literals(pool_bl(JIT, Faults::default(), true), 8),
    );
    let got = rules(&r);
    assert!(got.contains(&"literal-outside-function"), "{}", r.text());
    // One load moved back by 8: the call of ADD now reads the object constant before it.
    let b = pool_bl(JIT, Faults::default(), true);
    let i = (0..b.len() / 4)
        .find(|&i| {
            matches!(
                reach::flow(reach::words(&b)[i]),
                reach::Flow::Literal { rt: 16, .. }
            )
        })
        .unwrap();
    let mut one = b.clone();
    one[4 * i..4 * i + 4].copy_from_slice(&shift_literals(b[4 * i..4 * i + 4].to_vec(), -8));
    let r2 = verify_one("off-by-8-one", one);
    assert!(rules(&r2).contains(&"unresolved-target"), "{}", r2.text());
}

/// Overwrite the pool literal holding `old` with `new`.
fn repoint(mut bytes: Vec<u8>, old: u64, new: u64) -> Vec<u8> {
    let at = (0..bytes.len() / 8)
        .find(|&k| bytes[8 * k..8 * k + 8] == old.to_le_bytes())
        .unwrap();
    bytes[8 * at..8 * at + 8].copy_from_slice(&new.to_le_bytes());
    bytes
}

#[test]
fn literal_holding_the_wrong_target_fails() {
    for (new, why) in [
        (DEALLOC + 4, "not at a function entry"),
        (JIT + 0x9_0000, "not the entry of any JIT function"),
        (0x1234_0000_0000, "is not mapped"),
        (0x7fff_f000_0010, "non-executable mapping"),
    ] {
        let r = verify_one(
            "wrong-target",
            repoint(pool_bl(JIT, Faults::default(), true), DEALLOC, new),
        );
        let f = &r.functions[0];
        assert_eq!(rules(&r), ["unresolved-target"], "{}", r.text());
        assert!(f.violations[0].message.contains(why), "{}", r.text());
    }
}

#[test]
fn pool_not_8_byte_aligned_fails() {
    let bytes = pool_bl(
        JIT,
        Faults {
            misalign_pool: true,
            ..Faults::default()
        },
        true,
    );
    let r = verify_one("misaligned", bytes.clone());
    let mut got = rules(&r);
    got.sort();
    // Four loads feed calls; the object constant's load is told apart.
    let want = [
        "constant-misaligned",
        "literal-misaligned",
        "literal-misaligned",
        "literal-misaligned",
        "literal-misaligned",
    ];
    assert_eq!(got, want, "{}", r.text());
    // Allowing the constants' rule keeps the call literals failing, and says what was allowed.
    let mut g = guest("misaligned-allow", &[("m:f", JIT, bytes)]);
    g.inputs.allow = vec!["constant-misaligned".into()];
    let r = run(&g.inputs).unwrap();
    assert_eq!(
        (r.violations(), r.totals.allowed.get("constant-misaligned")),
        (4, Some(&1))
    );
    assert!(
        r.text().contains("constant-misaligned (allowed)"),
        "{}",
        r.text()
    );
    g.inputs.allow = vec!["no-such-rule".into()];
    assert!(run(&g.inputs).unwrap_err().contains("unknown rule"));
}

#[test]
fn data_on_a_fall_through_path_fails() {
    // No `ret`: the last call returns into the pool.
    let r = verify_one("fallthrough", pool_bl(JIT, Faults::default(), false));
    let got = rules(&r);
    assert!(
        got.contains(&"pool-word-on-path") || got.contains(&"data-on-path"),
        "{}",
        r.text()
    );
    // A stub whose `ldr` reads [pc+4]: its literal overlaps its own `br`.
    let r = verify_one(
        "stub-ldr",
        stubs(
            JIT,
            Faults {
                stub_ldr_pc_plus_4: true,
                ..Faults::default()
            },
        ),
    );
    assert!(rules(&r).contains(&"pool-word-on-path"), "{}", r.text());
}

#[test]
fn unresolved_and_unplaced_targets_are_reported() {
    let r = verify_one(
        "unmapped",
        repoint(pool_bl(JIT, Faults::default(), true), ADD, 0x10),
    );
    assert_eq!(
        rules(&r),
        ["unresolved-target", "unresolved-target"],
        "{}",
        r.text()
    );
    // Without the perf map the direct `bl` cannot be placed: reported, not accepted.
    let mut g = guest(
        "unplaced",
        &[("m:f", JIT, pool_bl(JIT, Faults::default(), true))],
    );
    g.inputs.perf_map = None;
    let r = run(&g.inputs).unwrap();
    assert_eq!(rules(&r), ["unplaced-target"], "{}", r.text());
    assert!(r.functions[0].violations[0]
        .message
        .contains("unknown real address"));
    assert!(r.notes.iter().any(|n| n.contains("no perf map")));
}

#[test]
fn one_shorter_perf_map_entry_still_places_its_function() {
    // A function near 1 MiB carries data the perf map does not list: one entry of its name,
    // shorter than the dump's bytes, places it; two such entries would not.
    let g = guest(
        "shorter",
        &[("m:f", JIT, pool_bl(JIT, Faults::default(), true))],
    );
    let path = g.inputs.perf_map.clone().unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    let shorter: String = text
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.splitn(3, ' ').collect();
            let size = u64::from_str_radix(f[1], 16).unwrap() - 8;
            format!("{} {size:x} {}\n", f[0], f[2])
        })
        .collect();
    std::fs::write(&path, &shorter).unwrap();
    let r = run(&g.inputs).unwrap();
    assert_eq!(r.violations(), 0, "{}", r.text());
    assert!(r
        .notes
        .iter()
        .any(|n| n.contains("placed by its one perf-map entry")));
    let twice: String = shorter
        .lines()
        .chain(shorter.lines())
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(&path, twice).unwrap();
    let r = run(&g.inputs).unwrap();
    assert_eq!(rules(&r), ["unplaced-target"], "{}", r.text());
}

#[test]
fn elf_files_can_be_named_explicitly() {
    let mut g = guest(
        "named",
        &[("m:f", JIT, pool_bl(JIT, Faults::default(), true))],
    );
    let moved = g.dir.join("copy-of-python");
    std::fs::copy(g.dir.join("python3.14"), &moved).unwrap();
    std::fs::write(g.dir.join("python3.14"), b"garbage").unwrap();
    assert!(run(&g.inputs).unwrap_err().contains("not an ELF64 file"));
    g.inputs.elfs = vec![format!("python3.14={}", moved.display())];
    assert_eq!(run(&g.inputs).unwrap().violations(), 0);
    g.inputs.elfs = vec![moved.display().to_string()];
    assert!(run(&g.inputs)
        .unwrap_err()
        .contains("no executable mapping"));
    // A named file that cannot be read is bad input, not a crowd of unresolved targets.
    let missing = g.dir.join("no-such-python");
    g.inputs.elfs = vec![format!("python3.14={}", missing.display())];
    assert!(run(&g.inputs).unwrap_err().contains("no-such-python"));
}

#[test]
fn truncated_and_malformed_inputs_are_errors() {
    let g = guest(
        "malformed",
        &[("m:f", JIT, pool_bl(JIT, Faults::default(), true))],
    );
    let dump = std::fs::read(&g.inputs.dump).unwrap();
    for cut in [10, 0x800, 0x1010, dump.len() - 100] {
        std::fs::write(&g.inputs.dump, &dump[..cut]).unwrap();
        let e = run(&g.inputs).unwrap_err();
        assert!(e.contains("dump.elf"), "cut {cut}: {e}");
    }
    std::fs::write(&g.inputs.dump, testelf::dump(&[])).unwrap();
    assert!(run(&g.inputs).unwrap_err().contains("no functions"));
    std::fs::write(&g.inputs.dump, &dump).unwrap();
    std::fs::write(&g.inputs.maps, "00400000 r-xp\n").unwrap();
    assert!(run(&g.inputs).unwrap_err().contains("maps: line 1"));
    std::fs::write(&g.inputs.maps, "").unwrap();
    assert!(run(&g.inputs).unwrap_err().contains("no mappings"));
    let mut g2 = guest(
        "malformed2",
        &[("m:f", JIT, pool_bl(JIT, Faults::default(), true))],
    );
    std::fs::write(g2.inputs.perf_map.as_ref().unwrap(), "nonsense\n").unwrap();
    assert!(run(&g2.inputs).unwrap_err().contains("perf.map: line 1"));
    g2.inputs.perf_map = Some(g2.dir.join("missing"));
    assert!(run(&g2.inputs).unwrap_err().contains("cannot read"));
    let py = g2.dir.join("python3.14");
    let elf = std::fs::read(&py).unwrap();
    std::fs::write(&py, &elf[..0x1100]).unwrap();
    g2.inputs.perf_map = None;
    assert!(run(&g2.inputs).unwrap_err().contains("python3.14"));
}

#[test]
fn walk_does_not_decode_unreferenced_words_between_stubs() {
    // bl stub1; bl stub2; ret; nop | stub1 | 4 data words, two of which encode `bl` | stub2
    let bl = |from: u32, to: u32| 0x9400_0000 | ((to - from) / 4);
    let stub = [0x5800_0050u32, 0xD61F_0200, ADD as u32, 0];
    let mut w = vec![bl(0, 16), bl(4, 48), 0xD65F_03C0, 0xD503_201F];
    w.extend(stub);
    w.extend([0x9400_0010, 0, 0x9400_0001, 0]);
    w.extend(stub);
    let walk = reach::walk(&w, &[0]);
    let code: Vec<usize> = (0..w.len()).filter(|&i| walk.code[i]).collect();
    assert_eq!(
        code,
        [0, 1, 2, 4, 5, 12, 13],
        "the nop after ret is unreachable too"
    );
    let bytes: Vec<u8> = w.iter().flat_map(|x| x.to_le_bytes()).collect();
    let sites = flow::sites(&w, &bytes, &walk, Some(JIT));
    let calls = sites.iter().filter(|s| s.kind.is_call()).count();
    assert_eq!(calls, 2, "{sites:?}");
    // The same function, verified: clean; the four data words and the nop stay data.
    let r = verify_one("between-stubs", bytes);
    assert_eq!(r.violations(), 0, "{}", r.text());
    assert_eq!(r.functions[0].unreferenced_words, 5);
}

#[test]
fn entries_from_the_dump_notes_are_walked() {
    // b +8; <entry 2:> bl stub ... : the call at +4 is reached only from the note's entry.
    let mut b = CodeBuffer::new(JIT);
    b.push(Inst::B { offset: 8 });
    b.call_via_stub(ADD);
    b.push(Inst::Ret);
    let bytes = b.finish().unwrap().bytes;
    let words = reach::words(&bytes);
    assert!(!reach::walk(&words, &[0]).code[1]);
    assert!(reach::walk(&words, &[0, 1]).code[1]);
    let d = testelf::dump(&[("m:f", &bytes, 4)]);
    let f = dump::parse(&d).unwrap();
    assert_eq!(f[0].entries, [0, 4]);
}

mod over_1mib;
