//! Tests of the counts reader and analysis.

use super::*;
use crate::jitcode::classify::{BR_X16, LDR_X16_PC8};

/// JIT code at 0x7f00_0000_0000 (anonymous, executable), python3.14 at 0x40_0000.
const MAPS: &str = "# a64count phase 1 calls
00400000-00800000 r-xp 00000000 08:01 42 /root/usr/bin/python3.14
7f0000000000-7f0000200000 r-xp 00000000 00:00 0 
7f1000000000-7f1000100000 r-xp 00000000 08:01 43 /root/usr/lib/aarch64-linux-gnu/libc.so.6
7f2000000000-7f2000100000 r-xp 00000000 08:01 44 /site/cinderx/_cinderx.cpython-314-aarch64-linux-gnu.so
# a64count end 1
";

const JIT: u64 = 0x7f00_0000_0000;

/// `bl` from `pc` to `target`.
fn bl(pc: u64, target: u64) -> u32 {
    BL_BITS | ((target.wrapping_sub(pc) as u32 >> 2) & 0x03FF_FFFF)
}

/// `ldr x16, <literal at pc+off>`.
fn ldr_x16_literal(off: u32) -> u32 {
    0x5800_0010 | ((off / 4) << 5)
}

const BLR_X16: u32 = 0xD63F_0200;
const BLR_X1: u32 = 0xD63F_0020;
/// `ldr x1, [x0, #8]`.
const LDR_X1_X0_8: u32 = 0xF940_0401;

/// A phase where the site at JIT+0 calls the stub at JIT+0x100 (3 times), JIT+0x10 loads x16
/// from a literal and calls it (5 times), JIT+0x20 calls python3.14 directly (2 times) and
/// JIT+0x30 calls a register loaded from memory (7 times).
fn sample() -> String {
    let stub = JIT + 0x100;
    format!(
        "a64count 1
phase 1 begin
block {JIT:x} 1 3
insn {JIT:x} {:08x} - 3
block {stub:x} 2 3
insn {stub:x} {LDR_X16_PC8:08x} - 3
insn {:x} {BR_X16:08x} {LDR_X16_PC8:08x} 3
block {:x} 2 5
insn {:x} {:08x} - 5
insn {:x} {BLR_X16:08x} {:08x} 5
block {:x} 1 2
insn {:x} {:08x} - 2
block {:x} 2 7
insn {:x} {BLR_X1:08x} {LDR_X1_X0_8:08x} 7
block 400100 10 100
block 7f1000000040 4 10
block 7f2000000040 3 1
phase 1 end 1078
exit 5000
",
        bl(JIT, stub),
        stub + 4,
        JIT + 0xC,
        JIT + 0xC,
        ldr_x16_literal(0x40),
        JIT + 0x10,
        ldr_x16_literal(0x40),
        JIT + 0x20,
        JIT + 0x20,
        bl(JIT + 0x20, 0x40_0100),
        JIT + 0x2C,
        JIT + 0x30,
    )
}

#[test]
fn classifies_stub_literal_direct_and_loaded_calls() {
    let c = parse_counts(&sample()).unwrap();
    let maps = parse_maps(MAPS).unwrap();
    let r = analyze(&c.phases[0], &maps);
    assert_eq!(r.name, "calls");
    assert_eq!(c.exit_total, Some(5000));
    assert_eq!(r.calls["bl->stub"], KindCount { execs: 3, sites: 1 });
    assert_eq!(r.calls["ldr-literal+blr"], KindCount { execs: 5, sites: 1 });
    assert_eq!(r.calls["bl direct"], KindCount { execs: 2, sites: 1 });
    assert_eq!(r.calls["ldr [mem]+blr"], KindCount { execs: 7, sites: 1 });
    assert_eq!(r.calls["bl local"].execs, 0);
    assert_eq!((r.stub_execs, r.stub_insns), (3, 6));
    // 3 + 6 + 10 + 2 + 14 in JIT code.
    assert_eq!(r.by_region["jit"], 35);
    assert_eq!(r.by_region["python3.14"], 1000);
    assert_eq!(r.by_region["libc"], 40);
    assert_eq!(r.by_region["_cinderx.so"], 3);
    assert_eq!(r.by_region["other"], 0);
    assert_eq!(r.by_region.values().sum::<u64>(), r.total);
    assert_eq!(r.by_file["libc.so.6"], 40);
}

#[test]
fn a_bl_to_jit_code_that_is_not_a_stub_is_local() {
    let text = format!(
        "a64count 1\nphase 1 begin\nblock {JIT:x} 1 4\ninsn {JIT:x} {:08x} - 4\nphase 1 end 4\n",
        bl(JIT, JIT + 0x80)
    );
    let r = analyze(
        &parse_counts(&text).unwrap().phases[0],
        &parse_maps(MAPS).unwrap(),
    );
    assert_eq!(r.calls["bl local"], KindCount { execs: 4, sites: 1 });
    assert_eq!(r.stub_execs, 0);
}

/// A phase where `ldr x16, <literal>` is the last word of a page (JIT+0xFFC) and `blr x16` the
/// first of the next, so qemu translated them into two blocks; `rewrite` adds a second, different
/// word executed at JIT+0xFFC in the same phase.
fn straddling_pair(rewrite: bool) -> String {
    let (ldr, blr) = (JIT + 0xFFC, JIT + 0x1000);
    let mut t = format!(
        "a64count 1\nphase 1 begin\nblock {ldr:x} 1 6\ninsn {ldr:x} {:08x} - 6\n\
         block {blr:x} 1 6\ninsn {blr:x} {BLR_X16:08x} - 6\n",
        ldr_x16_literal(0x100)
    );
    if rewrite {
        t += &format!(
            "block {ldr:x} 1 1\ninsn {ldr:x} {:08x} - 1\n",
            bl(ldr, 0x40_0100)
        );
    }
    t + &format!("phase 1 end {}\n", if rewrite { 13 } else { 12 })
}

#[test]
fn a_call_pair_split_over_two_blocks_is_still_one_call_sequence() {
    let maps = parse_maps(MAPS).unwrap();
    let r = analyze(
        &parse_counts(&straddling_pair(false)).unwrap().phases[0],
        &maps,
    );
    assert_eq!(r.calls["ldr-literal+blr"], KindCount { execs: 6, sites: 1 });
    assert_eq!(r.calls["blr other"].execs, 0);
    // Two different words executed before the `blr`: which one loaded x16 is unknown.
    let r = analyze(
        &parse_counts(&straddling_pair(true)).unwrap().phases[0],
        &maps,
    );
    assert_eq!(r.calls["ldr-literal+blr"].execs, 0);
    assert_eq!(r.calls["blr other"], KindCount { execs: 6, sites: 1 });
    // The `ldr`'s block runs on past the `blr` (a branch lands on the `blr`): not a pair.
    let reached = straddling_pair(false)
        .replace(
            &format!("block {:x} 1 6", JIT + 0xFFC),
            &format!("block {:x} 2 6", JIT + 0xFFC),
        )
        .replace("phase 1 end 12", "phase 1 end 18");
    let r = analyze(&parse_counts(&reached).unwrap().phases[0], &maps);
    assert_eq!(r.calls["ldr-literal+blr"].execs, 0);
}

#[test]
fn a_stub_split_over_two_blocks_is_still_a_stub() {
    let (site, stub) = (JIT + 0x10, JIT + 0xFF8);
    let text = format!(
        "a64count 1\nphase 1 begin\nblock {site:x} 1 2\ninsn {site:x} {:08x} - 2\n\
         block {stub:x} 2 2\ninsn {:x} {LDR_X16_PC8:08x} {:08x} 2\n\
         block {:x} 1 2\ninsn {:x} {BR_X16:08x} - 2\nphase 1 end 8\n",
        bl(site, stub + 4),
        stub + 4,
        0xD503_201F_u32, // nop
        stub + 8,
        stub + 8,
    );
    let r = analyze(
        &parse_counts(&text).unwrap().phases[0],
        &parse_maps(MAPS).unwrap(),
    );
    assert_eq!(r.calls["bl->stub"], KindCount { execs: 2, sites: 1 });
    assert_eq!((r.stub_execs, r.stub_insns), (2, 4));
}

#[test]
fn calls_outside_jit_code_are_not_counted() {
    let text = format!(
        "a64count 1\nphase 1 begin\nblock 400000 1 4\ninsn 400000 {:08x} - 4\nphase 1 end 4\n",
        bl(0x40_0000, JIT)
    );
    let r = analyze(
        &parse_counts(&text).unwrap().phases[0],
        &parse_maps(MAPS).unwrap(),
    );
    assert!(r.calls.values().all(|c| c.execs == 0));
}

#[test]
fn malformed_counts_name_the_line() {
    let cases = [
        ("", "line 1: expected `a64count 1`"),
        ("a64count 2\n", "line 1: expected `a64count 1`"),
        (
            "a64count 1\nblock 10 1 1\n",
            "line 2: `block` outside a phase",
        ),
        (
            "a64count 1\nphase 1 begin\nblock 1x 1 1\n",
            "line 3: block address",
        ),
        (
            "a64count 1\nphase 1 begin\nblock 10 1\n",
            "line 3: expected `block",
        ),
        (
            "a64count 1\nphase 1 begin\ninsn 10 123 - 1\n",
            "line 3: word `123`",
        ),
        (
            "a64count 1\nphase 1 begin\nblock 10 2 3\n",
            "line 3: truncated: phase 1",
        ),
        (
            "a64count 1\nphase 1 begin\nblock 10 2 3\nphase 1 end 5\n",
            "line 4: phase 1 total 5 differs",
        ),
        (
            "a64count 1\nphase 1 end 0\n",
            "line 2: phase 1 ends but never began",
        ),
        (
            "a64count 1\nphase 1 begin\nphase 2 begin\n",
            "line 3: phase 2 begins inside",
        ),
        ("a64count 1\nfoo\n", "line 2: unknown record `foo`"),
        (
            "a64count 1\nphase 1 begin\nblock 10 99999999999 99999999999\nphase 1 end 0\n",
            "overflows",
        ),
    ];
    for (text, want) in cases {
        let e = parse_counts(text).unwrap_err();
        assert!(e.contains(want), "{text:?}: {e}");
    }
}

#[test]
fn malformed_maps_name_the_line() {
    let cases = [
        (
            "00400000-00800000 r-xp 0 0 0 /x\n",
            "line 1: expected `# a64count phase",
        ),
        ("# a64count phase x y\n", "line 1: phase number"),
        (
            "# a64count phase 1 y\n00400000 r-xp 0 0 0\n",
            "line 2: bad address range `00400000` (expected start-end)",
        ),
        (
            "# a64count phase 1 y\n00800000-00400000 r-xp 0 0 0\n",
            "line 2: empty or reversed",
        ),
        (
            "# a64count phase 1 y\nzz-00400000 r-xp 0 0 0\n",
            "line 2: start address `zz` is not a hex number",
        ),
        (
            "# a64count phase 1 y\n00400000-00800000\n",
            "line 2: missing permissions in `00400000-00800000` (expected a /proc/self/maps line)",
        ),
        (
            "# a64count phase 1 y\n00400000-00800000 r-xp 0 0 0 /x\n",
            "line 2: truncated: no `# a64count end 1` line",
        ),
        (
            "# a64count phase 1 y\n00400000-00800000 r-xp 0 0 0 /x\n# a64count end 2\n",
            "line 3: end line `# a64count end 2` does not close phase 1",
        ),
        (
            "# a64count phase 1 y\n# a64count end 1\n00400000-00800000 r-xp 0 0 0 /x\n",
            "line 3: text after the `# a64count end 1` line",
        ),
    ];
    for (text, want) in cases {
        let e = parse_maps(text).unwrap_err();
        assert!(e.contains(want), "{text:?}: {e}");
    }
}

#[test]
fn directory_errors_name_the_file() {
    let dir = std::env::temp_dir().join(format!("a64call-counts-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    assert!(analyze_dir(&dir)
        .unwrap_err()
        .contains("no counts-<pid>.txt"));
    std::fs::write(dir.join("counts-7.txt"), sample()).unwrap();
    let e = analyze_dir(&dir).unwrap_err();
    assert!(e.contains("counts-7.txt: phase 1 has no maps file"), "{e}");
    std::fs::write(dir.join("maps-7-1.txt"), MAPS).unwrap();
    let r = analyze_dir(&dir).unwrap();
    assert_eq!(r[0].pid, 7);
    let j = render_json(&r);
    assert!(j.contains("\"bl->stub\":{\"execs\":3,\"sites\":1}"), "{j}");
    assert!(render_text(&r).contains("bl->stub 3 (1 sites)"));
    std::fs::write(dir.join("maps-7-1.txt"), "# a64count phase 1 x\nnonsense\n").unwrap();
    let e = analyze_dir(&dir).unwrap_err();
    assert!(e.contains("maps-7-1.txt: line 2:"), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn open_phases_are_listed_not_analysed() {
    let text = "a64count 1\nphase 1 begin\nblock 10 2 3\nphase 1 open 6\n";
    let c = parse_counts(text).unwrap();
    assert!(c.phases[0].open);
    assert_eq!(c.exit_total, None);
}
