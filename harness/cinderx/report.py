"""Check the CinderX tier's outputs and write findings.md (runs on the host's Python).

    report.py [--thresholds FILE] [--findings PATH] [--extra FILE.md]... BUILD_OUT_DIR...
    report.py --check-bench BENCH_RUN_DIR...

A BUILD_OUT_DIR is what `ci/cinderx --wheel NAME` writes (target/cinderx/NAME/); findings.md gets
one section per build given, plus a comparison when there are several. Exit 1 (saying why) when,
in any build: the smoke test did not print jit-effective-ok or ran another build's cinderx, bytes
per call site exceed the threshold, the differential diverged or its planted divergence went
unnoticed, a benchmark run fails the worker check, a counted run is inconsistent (a JIT mode
without the JIT, an interpreted run executing JIT code, a force-compiled call-site function that
executed no JIT code), or `a64call verify` found violations or exited non-zero. --extra files are
appended verbatim, in order, before the Commands section.

The worker check (also alone with --check-bench, on harness/cinderx/bench output directories):
every process records itself (harness/cinderx/sitecustomize.py, DIR/procs/proc-PID.json); in a
JIT-mode run every pyperf worker (a process with `--worker` in argv; the manager does not count)
must have exited normally with the JIT enabled and compiled `__main__` functions, and there must
be at least as many worker records as pyperf recorded runs (and as `-p` asked for). In interp
mode no worker may have imported cinderx.

Exact instruction counts (BUILD_OUT_DIR/counts/sites.json and bench.json) are the primary
performance figures, and `a64call verify` results (BUILD_OUT_DIR/verify/) are reported per build;
they are rendered by report_counts.py and report_verify.py beside this file, which describe the shapes. Wall-clock
times are secondary: a speed ratio is printed only between rows that each have at least 2
values and are not flagged noisy."""
import argparse
import glob
import json
import os
import re
import sys

import report_counts  # beside this file
import report_verify  # beside this file
from bench_check import NOISY, check_bench, control_differs, noisy_flag, ratio_text, row_stats  # beside this file
from report_io import load, load_thresholds, read, shown_path  # beside this file


# ---------------------------------------------------------------- one build

def check_build(out, thresholds):
    problems = []
    b = {"out": out, "problems": problems}
    b["versions"] = json.loads(read(os.path.join(out, "versions.json"), "{}") or "{}")
    b["name"] = b["versions"].get("build", os.path.basename(os.path.normpath(out)))
    tag = b["name"]
    b["smoke"] = read(os.path.join(out, "smoke.txt")).strip()
    if "jit-effective-ok" not in b["smoke"]:
        problems.append(f"{tag} smoke: {b['smoke'] or 'no output'}")
    site, path = b["versions"].get("build_site"), b["versions"].get("cinderx_path", "")
    if site and not path.startswith(site.rstrip("/") + "/"):
        problems.append(f"{tag}: the guest imported cinderx from {path or '?'}, not from the build's {site}")

    sizes = (load(os.path.join(out, "sizes.json"), problems, {}) or {}).get("sizes", {})
    classes = load(os.path.join(out, "sizes-classify.json"), problems, []) or []
    by_n = {}
    for f in classes:
        m = re.search(r"sqrt_sites_(\d+)$", f["name"])
        if m:
            by_n[int(m.group(1))] = f
    ns = sorted(int(n) for n in sizes)
    b.update(sizes=sizes, by_n=by_n, ns=ns, per_site=None, per_site_kinds={})
    b["kinds"] = sorted({k for f in by_n.values() for k in f["calls"]})
    if len(ns) >= 2:
        lo, hi = ns[-2], ns[-1]
        b["per_site"] = (sizes[str(hi)] - sizes[str(lo)]) / (hi - lo)
        limit = thresholds.get("max_bytes_per_call_site")
        if limit is not None and b["per_site"] > limit:
            problems.append(f"{tag} sizes: {b['per_site']:.1f} bytes per call site > threshold {limit:.0f}")
        if lo in by_n and hi in by_n:
            for k in b["kinds"]:
                b["per_site_kinds"][k] = (by_n[hi]["calls"].get(k, 0) - by_n[lo]["calls"].get(k, 0)) / (hi - lo)
    else:
        problems.append(f"{tag} sizes: no size measurements")

    b["diff"] = load(os.path.join(out, "difftest.json"), problems, {}) or {}
    if b["diff"].get("divergences", 1) != 0:
        problems.append(f"{tag} differential: {b['diff'].get('divergences')} divergences, repros {b['diff'].get('repros')}")
    if b["diff"].get("functions", 0) == 0:
        problems.append(f"{tag} differential: no function was compared")
    b["plant"] = load(os.path.join(out, "difftest-plant.json"), problems, {}) or {}
    if b["plant"].get("divergences", 0) == 0:
        problems.append(f"{tag} differential: the planted divergence (compiled copy's min returns max) was not caught")

    b["bench"] = {}
    for d in sorted(glob.glob(os.path.join(out, "bench", "*"))):
        p, s = check_bench(d)
        problems.extend(p)
        s["stats"] = row_stats(s["values"])
        b["bench"][(s["name"], s["mode"])] = s
    b["counts"] = report_counts.load_counts(out, tag, problems, load)
    b["verify"] = report_verify.load_verify(out, tag, problems, load)
    return b


# ---------------------------------------------------------------- findings

def build_section(b, thresholds, L):
    v = b["versions"]
    L.append(f"## Build `{b['name']}`\n")
    desc = v.get("build_json") or {}
    L.append(f"cinderx {v.get('cinderx', '?')} from `{shown_path(v.get('build_site', '?'))}`; "
             + (", ".join(f"{k}: {val}" for k, val in desc.items() if k != "name") or "no build.json") + ". "
             + f"Results in `{b['out']}` ({v.get('date', '?')}, a64call `{v.get('a64call', '?')}`).\n")
    report_counts.counts_section(b["counts"], L)
    report_verify.verify_section(b["verify"], L)
    L.append("### JIT-effective smoke\n")
    L.append(f"`{b['smoke'] or 'no output'}`\n")
    size_section(b, thresholds, L)
    d, p = b["diff"], b["plant"]
    L.append("### JIT-versus-interpreter differential\n")
    L.append(f"{d.get('functions', 0)} generated call-heavy functions (builtins, Python functions and methods, "
             f"C functions and methods, 0-4 arguments, loops, branches, try/except), each run on its own inputs "
             f"interpreted and force-compiled ({d.get('runs', 0)} runs in total): **{d.get('divergences', '?')} divergences** "
             f"({d.get('exceptions', 0)} runs raised, compared by type and message). The same run with a planted divergence "
             f"(the compiled copy's `min` returns the maximum) reported {p.get('divergences', 0)} divergences, "
             f"so the comparison is live.\n")
    bench_section(b, L)


def size_section(b, thresholds, L):
    L.append("### Code size per call site (static: what is emitted, not what executes)\n")
    L.append("Functions with N repeated `x = math.sqrt(x) + 1.0` call sites, force-compiled; `get_compiled_size` per N, "
             "and every call sequence in the dumped code (`_cinderx.dump_elf`) classified by `a64call classify`. "
             "These are exact counts of emitted code, not of executed instructions.\n")
    kinds, by_n = b["kinds"], b["by_n"]
    if b["ns"]:
        L.append("| N | compiled bytes | stubs | " + " | ".join(kinds) + " |")
        L.append("|---:|---:|---:|" + "---:|" * len(kinds))
        for n in b["ns"]:
            f = by_n.get(n, {"calls": {}, "stubs": "?"})
            L.append(f"| {n} | {b['sizes'][str(n)]} | {f['stubs']} | "
                     + " | ".join(str(f["calls"].get(k, 0)) for k in kinds) + " |")
        L.append("")
    if b["per_site"] is not None:
        L.append(f"Bytes per added call site: **{b['per_site']:.1f}** (threshold "
                 f"{thresholds.get('max_bytes_per_call_site', 'none')}, `ci/cinderx-thresholds`). Per added call site "
                 "the emitted code contains: "
                 + ", ".join(f"{v:g} × {k}" for k, v in b["per_site_kinds"].items() if v) + ".\n")
        stub_calls = b["per_site_kinds"].get("bl->stub", 0)
        if stub_calls:
            L.append(static_against_executed(b, stub_calls))


def static_against_executed(b, stub_calls):
    """The static stub calls per added call site against the far calls that executed per added
    site (exact counts, when this build has them)."""
    text = (f"Static, not executed: each added call site contains {stub_calls:g} `bl`→stub call sequences "
            "(`bl` → `ldr x16, [pc+8]; br x16`). ")
    c = b["counts"]
    executed = None
    if c is not None:
        vals = [report_counts.slope(c, "jit", f"calls {k}") for k in ("bl->stub", "ldr-literal+blr")]
        executed = None if any(v is None for v in vals) else sum(vals)
    if executed is None:
        text += "Executed far calls per call site: not measured in these results. "
    else:
        text += (f"Executed per added call site (exact counts, force-compiled): {float(executed):g} far calls through a "
                 f"stub or the pool, so {float(stub_calls - executed):g} of the static sequences do not run in this "
                 "test. ")
    return text + ("By the shapes, per far call that executes, the literal pool's sequence (`ldr x16, literal; "
                   "blr x16`) runs one instruction fewer than a stub call (`bl`, `ldr`, `br`) and one unconditional "
                   "branch fewer (the stub's `br`).\n")


def bench_section(b, L):
    v = b["versions"]
    L.append(f"### Benchmarks: emulated wall-clock (secondary; pyperformance, pyperf `{v.get('pyperf_args', '?')}`)\n")
    load = v.get("load_at_start")
    L.append("Secondary figures: time under qemu-user, not ARM time"
             + (f" (this machine: {v.get('cpus', '?')} CPUs, load average over 1, 5 and 15 minutes "
                f"{', '.join(load)} when this build's tier started: decaying averages, so they include the "
                "minutes before it, this run's earlier steps and whatever ran before them; other load during "
                "the run is not recorded)"
                if load else "")
             + "; the exact counts above "
             "are the primary performance figures. A row whose stdev is over "
             f"{NOISY:.0%} of its mean is flagged noisy, "
             "and the flag says in how many of its pyperf runs the first timed value was the largest: where "
             "it is, the spread is each run's start (the JIT compiling during the first values, or a cold "
             "start), where it is not, the spread is over the run (as load beside it gives).\n")
    if not b["bench"]:
        L.append("No benchmarks were run.\n")
        return
    L.append("| benchmark | mode | mean | stdev | values | pyperf workers | workers with JIT-compiled `__main__` | "
             "distinct `__main__` functions compiled in workers |")
    L.append("|---|---|---:|---:|---:|---:|---:|---:|")
    for (name, mode), s in sorted(b["bench"].items()):
        st = s["stats"]
        jit = mode != "interp"
        tail = f"{s['workers']} | {s['jit_workers'] if jit else '-'} | {len(s['functions']) if jit else '-'} |"
        if st:
            sd = f"{st['sd'] * 1000:.0f} ms" if st["sd"] is not None else "-"
            flag = noisy_flag(st, s["first_largest"]) if st["noisy"] else ""
            L.append(f"| {name} | {mode} | {st['mean'] * 1000:.0f} ms | {sd}{flag} | {st['n']} | {tail}")
        else:
            L.append(f"| {name} | {mode} | failed | | | {tail}")
    L.append("")
    for (name, mode), s in sorted(b["bench"].items()):
        base = b["bench"].get((name, "interp"))
        if mode == "interp" or base is None:
            continue
        r, why = ratio_text(base["stats"], s["stats"])
        if r is None:
            L.append(f"- {name}, {mode}: no speed ratio ({why}).")
        else:
            L.append(f"- {name}, {mode}: {r:.2f}x the interpreter's speed under emulation (not an ARM figure).")
    L.append("")


def comparison_section(builds, L):
    L.append("## Builds compared\n")
    names = [b["name"] for b in builds]
    report_counts.comparison(builds, L)
    ns = sorted({n for b in builds for n in b["ns"]})
    if ns:
        L.append("### Code size compared (static)\n")
        L.append("Compiled bytes of the call-site functions:\n")
        L.append("| N | " + " | ".join(names) + " |")
        L.append("|---:|" + "---:|" * len(names))
        for n in ns:
            L.append(f"| {n} | " + " | ".join(str(b["sizes"].get(str(n), "-")) for b in builds) + " |")
        L.append("")
        L.append(size_effect(builds, ns))
    keys = sorted({k for b in builds for k in b["bench"]})
    if keys:
        L.append("### Emulated wall-clock compared (secondary)\n")
        L.append("Benchmark means under qemu-user (not ARM time), and each build's speed relative to the first. "
                 "The interpreter rows are the control: they run the same code with no CinderX in every build, so "
                 "a JIT row's ratio is printed only where that benchmark's interpreter rows agree (`bench_check.py` "
                 "`control_differs`: means within twice the standard error of their difference, 2 values or more, "
                 "not noisy); otherwise the machine changed between the runs and no ratio is given.\n")
        L.append("| benchmark | mode | " + " | ".join(names) + " |")
        L.append("|---|---|" + "---:|" * len(names))
        first = builds[0]
        for k in keys:
            cells = []
            for b in builds:
                s = b["bench"].get(k)
                st = s and s["stats"]
                if not st:
                    cells.append("-")
                    continue
                cell = f"{st['mean'] * 1000:.0f} ms"
                if b is not first:
                    base = first["bench"].get(k)
                    r, why = ratio_text(base and base["stats"], st, f"`{first['name']}`'s row", "this row")
                    if r is not None and k[1] != "interp":
                        why = control_differs(*(x["bench"].get((k[0], "interp"), {}).get("stats") for x in (first, b)))
                        r = None if why else r
                    if r is not None and k[1] == "interp":
                        failed = control_differs(base["stats"], st)
                        cell += f" ({r:.2f}x, control{': **failed**, ' + failed if failed else ' holds'})"
                    else:
                        cell += f" ({r:.2f}x)" if r is not None else f" (no ratio: {why})"
                cells.append(cell)
            L.append(f"| {k[0]} | {k[1]} | " + " | ".join(cells) + " |")
        L.append("")


def size_effect(builds, ns):
    """The size effect in words: bytes per added call site in each build (the slope between the
    two largest N both builds compiled) and the N at which each later build is smaller or larger
    than the first.

    >>> b = [{"name": "a", "sizes": {"1": 800, "16": 4664, "32": 8760}},
    ...      {"name": "b", "sizes": {"1": 784, "16": 4888, "32": 9240}}]
    >>> print(size_effect(b, [1, 16, 32]))
    Size effect (static): `a` 256.0 bytes per added call site; `b` 272.0 (+16.0, +6.2 %), smaller than `a` at N = 1; larger than `a` at N = 16, 32.
    <BLANKLINE>
    """
    both = [n for n in ns if all(str(n) in b["sizes"] for b in builds)]
    if len(both) < 2:
        return "Size effect: fewer than two sizes compiled by every build.\n"
    lo, hi = both[-2], both[-1]
    slope = [(b["sizes"][str(hi)] - b["sizes"][str(lo)]) / (hi - lo) for b in builds]
    parts = [f"`{builds[0]['name']}` {slope[0]:.1f} bytes per added call site"]
    for b, s in zip(builds[1:], slope[1:]):
        cmp = {k: [n for n in both if (b["sizes"][str(n)] > builds[0]["sizes"][str(n)]) - (b["sizes"][str(n)] <
               builds[0]["sizes"][str(n)]) == k] for k in (-1, 1)}
        where = "; ".join(f"{w} than `{builds[0]['name']}` at N = {', '.join(map(str, cmp[k]))}"
                          for k, w in ((-1, "smaller"), (1, "larger")) if cmp[k])
        parts.append(f"`{b['name']}` {s:.1f} ({s - slope[0]:+.1f}, {100 * (s - slope[0]) / slope[0]:+.1f} %)"
                     + (f", {where}" if where else ""))
    return "Size effect (static): " + "; ".join(parts) + ".\n"


def findings(builds, thresholds, extras=(), generated_by="ci/cinderx"):
    L = ["# CinderX on aarch64 under emulation: findings\n"]
    v0 = builds[0]["versions"]
    L.append(f"Generated by `{generated_by}` from a64call commit `{v0.get('a64call', 'unknown')}`; builds: "
             + ", ".join(f"`{b['name']}`" for b in builds) + ".\n")
    L.append("| component | version |\n|---|---|")
    for k in ["qemu", "python", "pyperf", "host"]:
        L.append(f"| {k} | {v0.get(k, '?')} |")
    for b in builds:
        L.append(f"| cinderx (`{b['name']}`) | {b['versions'].get('cinderx', '?')} |")
    L.append("")
    if v0.get("qemu") == "none (native)":
        L.append("**Wall-clock here was measured natively on an aarch64 host**: real time on that core, still "
                 "noisy; the exact instruction counts (under the counting qemu) remain the primary figures.\n")
    L.append("**Wall-clock under qemu-user is not ARM time** (where the host is not aarch64). qemu translates every aarch64 instruction into "
             "several x86 ones, so times below are only comparable with each other (same machine, same run), "
             "and even then only roughly: ratios between interpreter and JIT under emulation need not match "
             "real hardware, and a loaded machine moves them a lot. Speed ratios are printed only between rows "
             "with at least 2 values each that are not flagged noisy. The primary performance figures are the "
             "exact executed-instruction counts (per build, section \"Exact instruction counts\", and compared "
             "between builds), which are deterministic but are not time either. Code sizes and call-sequence "
             "counts are exact but static (emitted, not executed).\n")
    for b in builds:
        build_section(b, thresholds, L)
    if len(builds) > 1:
        comparison_section(builds, L)
    L.append("## How the benchmarks are checked\n")
    L.append("Modes: `interp` is CPython 3.14 without cinderx; `autojit` imports cinderx with `CINDERX_JIT_AUTO=1` "
             "(compile after 1000 calls); `jitlist` compiles the benchmark's top-level functions and methods "
             "(`harness/cinderx/jitlist.py`) at their first call. Both JIT modes set `CINDERX_JIT_BACKGROUND_COMPILE=0` "
             "(background compilation silently skips the JIT in short runs) and pass the JIT variables to pyperf's "
             "workers with `--inherit-environ`. Every process writes a record (`harness/cinderx/sitecustomize.py`): "
             "pid, argv, whether it is a pyperf worker (`--worker` in argv), whether the JIT was enabled, and the "
             "`__main__` functions compiled at exit. In a JIT mode every worker must have compiled `__main__` "
             "functions, and there must be a worker record for every pyperf run; the manager process does not "
             "count. `harness/cinderx/test-withheld` runs a benchmark with the JIT withheld from the workers, which "
             "must fail this check (the literal-pool experiment reports its result).\n")
    problems = [p for b in builds for p in b["problems"]]
    for path in extras:
        text = read(path, None)
        if text is None:
            problems.append(f"--extra {path}: cannot read")
        else:
            L.append(text.rstrip("\n") + "\n")
    L.append("## Commands\n")
    L.append("```\nharness/cinderx/setup                  # root, qemu, pinned wheels\n"
             "harness/cinderx/build [--patches harness/cinderx/patches]   # baseline (patched) wheel from the sdist\n"
             "harness/qemu-plugin/setup                               # the counting qemu and plugin\n"
             "ci/cinderx --wheel official|baseline|patched|PATH.whl   # the tier, then target/cinderx/findings.md\n"
             "harness/cinderx/fidelity official baseline             # same code generated, function by function\n"
             "ci/cinderx --wheel baseline,patched --counts --verify  # exact counts and code verification too\n"
             "ci/cinderx-literal-pool                                # both builds, the tier on both, the experiment, then findings.md\n"
             "harness/cinderx/test-withheld                          # the worker check must fail a run without the JIT\n"
             "harness/cinderx/count-determinism                      # counted figures identical over two runs\n```\n")
    if problems:
        L.append("## Problems\n")
        L.extend(f"- {p}" for p in problems)
        L.append("")
    return "\n".join(L), problems


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--thresholds", default="ci/cinderx-thresholds")
    ap.add_argument("--findings", default=None, help="write findings.md here")
    ap.add_argument("--extra", action="append", default=[], metavar="FILE.md",
                    help="append this markdown file verbatim before the Commands section (repeatable)")
    ap.add_argument("--check-bench", action="store_true", help="only the worker check of bench run dirs")
    ap.add_argument("--generated-by", default="ci/cinderx", metavar="COMMAND",
                    help="the command named in the findings' first line (default ci/cinderx)")
    ap.add_argument("dirs", nargs="+")
    a = ap.parse_args()
    for d in a.dirs:
        if not os.path.isdir(d):
            print(f"report.py: {d}: no such directory", file=sys.stderr)
            sys.exit(2)
    if a.check_bench:
        problems = []
        for d in a.dirs:
            p, s = check_bench(d)
            problems.extend(p)
            if not p:
                print(f"cinderx: ok: {s['name']} {s['mode']}: {s['workers']} pyperf workers"
                      + (f", each compiled __main__ functions ({len(s['functions'])} distinct)" if s["mode"] != "interp" else ""))
        for p in problems:
            print(f"cinderx: FAIL: {p}")
        sys.exit(1 if problems else 0)
    thresholds = load_thresholds(a.thresholds)
    builds = [check_build(d, thresholds) for d in a.dirs]
    text, problems = findings(builds, thresholds, a.extra, a.generated_by)
    if a.findings:
        with open(a.findings, "w") as f:
            f.write(text)
    for p in problems:
        print(f"cinderx: FAIL: {p}")
    print(f"cinderx: {'FAILED' if problems else 'ok'}" + (f"; wrote {a.findings}" if a.findings else ""))
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
