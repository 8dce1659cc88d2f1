"""The literal-pool experiment's section of findings.md (host Python).

    literal_pool_report.py OUT_DIR > section.md

OUT_DIR is what ci/cinderx-literal-pool writes (target/cinderx/literal-pool): the fidelity
output, the regression test's output for patched and for baseline, a64call verify's output on
each deliberately broken variant, and the function over 1 MiB under both builds. Prints markdown;
exit 2 if OUT_DIR is missing."""
import glob
import os
import re
import sys

import report_counts  # beside this script
import report  # the tier's report, beside this script
from report import read
from literal_pool_checks import bigfunc, bigfunc_text, broken, load_json, model, targets, withheld

PATCH_DIR = "harness/cinderx/patches"


def measured_build(name):
    """The build description (build.json) of the build the tier measured, as its versions.json
    recorded it; {} when missing."""
    return (load_json(f"target/cinderx/{name}/versions.json") or {}).get("build_json") or {}


def patches():
    """The patches of the measured patched build, with the SHA-256 its build recorded."""
    rows = [f"| `{PATCH_DIR}/{p['file']}` | `{p['sha256']}` |" for p in measured_build("patched").get("patches", [])]
    return rows or ["| (no patched build measured) | - |"]


def near_reach():
    """The patch's near-call reach, read from the patch itself (kNearCallReach = int64_t{N} << 20)."""
    for p in sorted(glob.glob(f"{PATCH_DIR}/*.patch")):
        m = re.search(r"kNearCallReach = int64_t\{(\d+)\} << 20", read(p))
        if m:
            return f"{m.group(1)} MiB"
    return "a reach the patch defines (kNearCallReach not found)"


def fidelity(out):
    """(the `N/J equal` line, the line counting each verdict) of harness/cinderx/fidelity."""
    text = read(f"{out}/fidelity.txt").strip().splitlines()
    equal = [line for line in text if " equal (" in line]
    verdicts = [line for line in text if " exact (" in line and "DIFFERENT" in line]
    return (equal[-1] if equal else "not run"), (verdicts[-1] if verdicts else "")


FIDELITY_ARGUMENT = (
    "Why a function counts as equal when only its embedded constants differ, or when its shape is one the "
    "official wheel produced under another heap layout (`harness/cinderx/fidelity --help`): the constants are "
    "mostly addresses in `_cinderx.so` and the heap, which another binary lays out differently, and a value "
    "decides how many `movz`/`movk` build it or whether it goes to the constant pool; and CinderX's LIR "
    "backend iterates hash sets keyed by heap pointers, so the official wheel itself emits another block order "
    "or register choice for some functions when only the heap padding changes. Neither is a decision of the "
    "code generator that a build option could change. Everything else must match exactly: every instruction, "
    "every branch target (as an instruction index), every call sequence; a flipped branch or a missing call is "
    "never accepted (the doctests of `fidelity_compare.py`, run first, show both rejected). A function whose "
    "shape the official wheel never produced is DIFFERENT and fails the check.")


def determinism(out, L):
    """count-determinism's verdict on two identical counted runs of each build."""
    for b in ("baseline", "patched"):
        lines = read(f"{out}/determinism-{b}.txt").strip().splitlines()
        summary = [x for x in lines if x.startswith("count-determinism: ")]
        code = read(f"{out}/determinism-{b}.exit").strip() or "not run"
        if not summary:
            L.append(f"- `{b}`: not measured in this run (exit {code}).")
            continue
        verdict = "identical" if code == "0" else "**not identical**"
        args = [x[len("count-run arguments: "):] for x in lines if x.startswith("count-run arguments: ")]
        what = f"`harness/cinderx/count-run {args[0]}`" if args else "count-run (arguments not recorded)"
        L.append(f"- `{b}`: two identical counted runs of {what}: {verdict}, exit {code}. `{summary[-1]}`")
    L.append("\nThe other figures were counted once; determinism is shown on this sample of each build, and the "
             "layout spread measures what a different heap does.\n")


def layouts():
    """{build: the layout spread of its counts (report_counts.load_layout)} for baseline and patched."""
    problems = []
    found = {b: report_counts.load_layout(f"target/cinderx/{b}/counts", b, problems, report.load)
             for b in ("baseline", "patched")}
    for p in problems:
        print(f"literal_pool_report.py: {p}", file=sys.stderr)
    return found


def jit_spread(lay, key):
    """The per-iteration spread of JIT-code instructions over the heap paddings for benchmark/mode
    `key`, summed over the two builds (report_counts.layout_spread), or None when either was not
    measured."""
    spread = report_counts.layout_spread({"layout": lay["baseline"]}, {"layout": lay["patched"]}, "bench",
                                         tuple(key.split("/", 1)), "jit")
    return None if spread is None else float(spread)


def residual_by_pad(lay, key):
    """"PAD B: residual" per heap padding both builds were counted at (their layout runs), the
    residual there being the baseline's JIT-code instructions minus the patched build's minus the
    patched build's far calls (pool and stub), per iteration; None when either build has no layout
    run for `key`."""
    bench, mode = key.split("/", 1)
    figs = []
    for b in ("baseline", "patched"):
        f = ((lay.get(b) or {}).get("bench") or {}).get((bench, mode))
        if not f or "JIT code" not in f or "far calls" not in f:
            return None
        figs.append(dict(zip(lay[b]["pads"], zip(f["JIT code"]["values"], f["far calls"]["values"]))))
    base, pat = figs
    return "; ".join(f"{pad:,} B: {base[pad][0] - pat[pad][0] - pat[pad][1]:+,.1f}"
                     for pad in sorted(set(base) & set(pat)))


def regression(out, L):
    for build, want in (("patched", "0"), ("baseline", "1")):
        code = read(f"{out}/regression-{build}.exit").strip() or "not run"
        verdict = "as required" if code == want else "NOT as required"
        L.append(f"- against `{build}`: exit {code} ({verdict}: {'pass' if want == '0' else 'fail'} expected)")
    L.append("\nThe checks on `patched` (candidate) against `baseline`:\n")
    L.append("```")
    L.extend(read(f"{out}/regression-patched.txt").rstrip().splitlines())
    L.append("```\n")
    lines = read(f"{out}/regression-baseline.txt").rstrip().splitlines()
    failed = [ln for ln in lines if ln.startswith("FAIL")]
    last = (lines or ["no output"])[-1]
    if not failed:
        L.append(f"The same checks on `baseline` as the candidate failed none (its last line: `{last}`).\n")
        return
    L.append(f"The same checks on `baseline` as the candidate: `{last}`. The checks it failed, by kind "
             f"(the first of each; all are in `{out}/regression-baseline.txt`):\n")
    L.append("```")
    seen = {}
    for ln in failed:
        kind = ln.split(":", 1)[-1].split("(")[0].strip()
        kind = " ".join(w for w in kind.split() if not w.replace(",", "").isdigit())
        seen.setdefault(kind, [ln, 0])[1] += 1
    L.extend(f"{first}   [{n} of this kind]" if n > 1 else first for first, n in seen.values())
    L.append("```\n")


CALL_KINDS_SAME_TARGETS = ("calls bl direct", "calls bl local", "calls ldr [mem]+blr", "calls blr other",
                           "calls movz/movk+blr", "calls adrp+blr")


def same_calls(braw, praw):
    """Whether two phases executed the same calls: every kind the patch does not touch is equal, and
    the patched build's literal-pool calls equal the baseline's stub calls."""
    return (all(braw.get(k, 0) == praw.get(k, 0) for k in CALL_KINDS_SAME_TARGETS)
            and braw.get("calls bl->stub", 0) == praw.get("calls ldr-literal+blr", 0) + praw.get("calls bl->stub", 0))


def bench_phases():
    """Each JIT-mode benchmark phase both builds counted: (benchmark/mode, baseline phase, patched
    phase, baseline raw, patched raw), the raw counts with the marker subtracted; None when either
    build has no benchmark counts."""
    base = load_json("target/cinderx/baseline/counts/bench.json")
    pat = load_json("target/cinderx/patched/counts/bench.json")
    if not base or not pat:
        return None
    out = []
    for key in sorted(set(base) & set(pat)):
        if key.endswith("/interp"):
            continue
        for name in sorted(set(base[key]["phases"]) & set(pat[key]["phases"])):
            b, p = base[key]["phases"][name], pat[key]["phases"][name]
            braw = {k: v - base[key]["marker"].get(k, 0) for k, v in b["raw"].items()}
            praw = {k: v - pat[key]["marker"].get(k, 0) for k, v in p["raw"].items()}
            out.append((key, b, p, braw, praw))
    return out


def compiled_during(b, p):
    return b.get("jit_compiled_during_phase") or p.get("jit_compiled_during_phase")


def stub_brs(raw):
    """Executions of stubs' `br x16` (each a taken branch: it is unconditional)."""
    return raw.get("stub_insns", 0) - raw.get("stub_execs", 0)


def regression_passed(out):
    return read(f"{out}/regression-patched.exit").strip() == "0"


def residuals(out, phases, lay, L):
    """Benchmarks: JIT-code instructions saved against the calls the patch moved from stubs to the
    pool, the difference judged against the heap-layout spread `lay`; stub `br` executions removed
    (each a taken branch) measured from the stub instructions executed."""
    if phases is None:
        L.append("No benchmark counts for both builds.\n")
        return
    L.append("| benchmark/mode | far calls through stubs (baseline) | through the pool (patched) | through stubs "
             "(patched) | same calls executed | JIT-code instructions saved | saved − pool calls | per iteration | "
             "layout spread per iteration (JIT code) | per iteration at each heap padding | stub `br`s removed | "
             "clean |")
    L.append("|---|---:|---:|---:|---|---:|---:|---:|---|---|---:|---|")
    for key, b, p, braw, praw in phases:
        far, pool, left = braw["calls bl->stub"], praw["calls ldr-literal+blr"], praw["calls bl->stub"]
        saved = braw["jit"] - praw["jit"]
        same = "yes" if same_calls(braw, praw) else "**no**"
        clean = "no (JIT compiled during the phase)" if compiled_during(b, p) else "yes"
        its = b["iterations"] if b["iterations"] == p["iterations"] else None
        per_it = (saved - pool) / its if its else None
        spread = jit_spread(lay, key)
        judged = ("not measured" if spread is None or per_it is None else
                  f"{spread:,.1f}: residual within" if abs(per_it) <= spread else
                  f"{spread:,.1f}: residual **beyond** (by {abs(per_it) - spread:,.1f})")
        # A stub runs `ldr x16, [pc+8]; br x16`; the counter counts executions of the stub's first
        # instruction (stub_execs) and of both (stub_insns), so its `br`s are the difference.
        brs = stub_brs(braw) - stub_brs(praw)
        by_pad = (residual_by_pad(lay, key) if left == 0 else None) or "-"
        L.append(f"| {key} | {far:,} | {pool:,} | {left:,} | {same} | {saved:,} | {saved - pool:+,} | "
                 f"{'-' if per_it is None else f'{per_it:+,.1f}'} | {judged} | {by_pad} | {brs:,} | {clean} |")
    L.append("")
    exact = ("The call-site test above is exact: there the saving is exactly one instruction per far call "
             "(the regression test passed)." if regression_passed(out) else
             "**The regression test did not pass**, so not even the call-site test shows one instruction saved "
             "per far call.")
    L.append("A far call through a stub runs `bl`, `ldr`, `br`; through the pool, `ldr`, `blr`: one instruction "
             "and one taken branch fewer (the stub's `br`). Only calls the patch moved to the pool save anything "
             "(calls the patched build still makes through a stub, wrong near guesses, save nothing), so the "
             "residual is the instructions saved minus the pool calls. \"stub `br`s removed\": the executions of "
             "stubs' `br x16`, baseline minus patched, from the counter's stub counts (each stub's `ldr` and its "
             "whole body); that `br` is unconditional, so where it equals the pool calls each moved call ran one "
             "taken branch fewer (the counter does not count taken branches as such). \"same calls executed\" compares every executed call kind of "
             "the two runs (the pool's and the remaining stubs' calls against the baseline's stub calls, every "
             "other kind equal). The layout spread is the largest minus the smallest JIT-code instructions per "
             "iteration over the heap paddings each build was counted under in this run (`ci/cinderx --layout`), "
             "summed over the two builds (each build's figure moves by up to its own spread, so their difference "
             "by up to the sum): a residual within it is what moving the heap alone can do "
             "(CinderX's LIR backend iterates hash sets keyed by heap pointers, so a function can get another "
             "block order or register choice), not a per-call figure; a residual beyond it is a difference in the "
             f"code run that layout does not explain. \"At each heap padding\": the residual from the layout runs, "
             "both builds counted at the same padding (the first is this run's), where the patched build made no "
             "stub calls: a residual that is large at one padding only is that layout's code, not the pool's. "
             f"A phase during which the JIT compiled is not clean. {exact}\n")


def capture_sizes(L):
    """Per function of `harness/cinderx/capture.py`'s dump, both builds side by side (each build's
    `a64call verify --json`, target/cinderx/BUILD/verify/verify.json): compiled size in bytes and
    the call sites of each kind."""
    reports = {b: load_json(f"target/cinderx/{b}/verify/verify.json") for b in ("baseline", "patched")}
    if not all(reports.values()):
        missing = ", ".join(b for b, r in reports.items() if not r)
        L.append(f"No readable verify report for {missing}.\n")
        return
    funcs = {b: {f["name"]: f for f in r.get("functions", [])} for b, r in reports.items()}
    names = [n for n in funcs["baseline"] if n in funcs["patched"]]
    kinds = sorted({k for b in funcs.values() for f in b.values() for k in f.get("calls", {})})
    L.append("Sizes are each function's bytes in the dump (code, pool, constants and asmjit's stubs); call sites "
             "are static (emitted, not executed), by the kind `a64call verify` resolves, baseline → patched. "
             "These are the call-heavy functions of `harness/cinderx/capture.py`, JIT-compiled under each build "
             "in this run.\n")
    L.append("| function | bytes | Δ bytes | " + " | ".join(f"`{k}` sites" for k in kinds) + " |")
    L.append("|---|---:|---:|" + "---:|" * len(kinds))
    tb = tp = 0
    for n in names:
        fb, fp = funcs["baseline"][n], funcs["patched"][n]
        tb, tp = tb + fb["size"], tp + fp["size"]
        cells = [f"{fb.get('calls', {}).get(k, 0)} → {fp.get('calls', {}).get(k, 0)}" for k in kinds]
        L.append(f"| `{n}` | {fb['size']:,} → {fp['size']:,} | {fp['size'] - fb['size']:+,} | " + " | ".join(cells) + " |")
    only = [f"{n} ({b} only)" for b, other in (("baseline", "patched"), ("patched", "baseline"))
            for n in sorted(set(funcs[b]) - set(funcs[other]))]
    pct = f" ({100 * (tp - tb) / tb:+.2f} %)" if tb else ""
    L.append("")
    L.append(f"In all, {tb:,} → {tp:,} bytes{pct} over {len(names)} functions"
             + (f"; in one build only (not compared): {', '.join(only)}" if only else "") + ".\n")


ABOUT_3 = (2.5, 3.5)  # % : a JIT-code drop in this band is "about 3%"


def expectation(phases, lay, L):
    """The issue's expected result against the measured one, row by row: JIT-code instructions per
    iteration down by about 3% on call-heavy code (an earlier static study estimated 3.6% over 8
    functions), one taken branch fewer per executed far call, and no divergence."""
    if phases is None:
        L.append("No benchmark counts for both builds.\n")
        return
    L.append("Expected before measuring (issue \"The call-target literal pool in CinderX's aarch64 backend\", "
             "from an earlier static estimate of 3.6% over 8 representative functions): JIT-code instructions "
             "per iteration down by about 3% on call-heavy code, one taken branch fewer per executed far call, "
             "0 divergences. Measured here, per clean phase in which both builds executed the same calls "
             f"(\"about 3%\": a drop from {ABOUT_3[0]} to {ABOUT_3[1]} %; pool calls per 1,000: the patched build's "
             "`ldr`-literal + `blr` calls per 1,000 JIT-code instructions of the baseline, which predicts a drop "
             "of that figure / 10 %; JIT-code share: the JIT-code instructions' part of all instructions, "
             "`baseline`):\n")
    L.append("| benchmark/mode | pool calls per 1,000 JIT-code instructions | predicted Δ % | JIT-code instructions "
             "Δ % | about 3%? | layout spread (JIT code, % of baseline) | stub `br`s removed per pool call | "
             "all instructions Δ % | JIT-code share | saved − pool calls per iteration |")
    L.append("|---|---:|---:|---:|---|---:|---:|---:|---:|---:|")
    rows = []
    for key, b, p, braw, praw in phases:
        if compiled_during(b, p) or not same_calls(braw, praw) or braw["jit"] == 0:
            continue
        pool = praw["calls ldr-literal+blr"]
        spread = jit_spread(lay, key)
        rows.append({
            "key": key, "density": 1000 * pool / braw["jit"],
            "jit": 100 * (praw["jit"] - braw["jit"]) / braw["jit"],
            "total": 100 * (praw["total"] - braw["total"]) / braw["total"],
            "share": 100 * braw["jit"] / braw["total"],
            "spread": None if spread is None else 100 * spread * b["iterations"] / braw["jit"],
            "brs": (stub_brs(braw) - stub_brs(praw)) / pool if pool else None,
            "residual": ((braw["jit"] - praw["jit"] - pool) / b["iterations"]
                         if b["iterations"] == p["iterations"] else None), "spread_abs": spread,
        })
    rows.sort(key=lambda r: -r["density"])
    for r in rows:
        sp = "not measured" if r["spread"] is None else (
            f"{r['spread']:.2f} % ({'Δ beyond' if abs(r['jit']) > r['spread'] else '**Δ within**'})")
        verdict = about_3(r["jit"])
        brs = "-" if r["brs"] is None else f"{r['brs']:.3f}"
        L.append(f"| {r['key']} | {r['density']:.1f} | {-r['density'] / 10:+.2f} % | {r['jit']:+.2f} % | {verdict} | "
                 f"{sp} | {brs} | {r['total']:+.3f} % | {r['share']:.1f} % | "
                 f"{'-' if r['residual'] is None else format(r['residual'], '+,.1f')} |")
    L.append("")
    if rows:
        L.append(expectation_verdict(rows))


def about_3(jit_pct):
    """"about 3%", "less" or "more", for a JIT-code change in %."""
    drop = -jit_pct
    return "about 3%" if ABOUT_3[0] <= drop <= ABOUT_3[1] else ("less" if drop < ABOUT_3[0] else "more")


def expectation_verdict(rows):
    """The sentences that confirm or refute the expectation, from the rows."""
    yes = [f"{r['key']} (JIT code {r['share']:.1f} % of all instructions)"
           for r in rows if about_3(r["jit"]) == "about 3%"]
    little = [r["key"] for r in rows if r["share"] < 1]
    more = [r["key"] for r in rows if about_3(r["jit"]) == "more"]
    less = [r["key"] for r in rows if about_3(r["jit"]) == "less"]
    dense = [r["density"] for r in rows if about_3(r["jit"]) != "less"]
    gap = max(abs(r["jit"] + r["density"] / 10) for r in rows)
    lo, hi = min(r["jit"] for r in rows), max(r["jit"] for r in rows)
    tlo, thi = min(r["total"] for r in rows), max(r["total"] for r in rows)
    one_br = [r for r in rows if r["brs"] is not None]
    exact_br = sum(1 for r in one_br if r["brs"] == 1)
    beyond = sum(1 for r in rows if r["spread"] is not None and abs(r["jit"]) > r["spread"])
    measured = sum(1 for r in rows if r["spread"] is not None)
    heavy = (f"in this run the phases that dropped by {ABOUT_3[0]} % or more made at least {min(dense):.1f} pool "
             "calls per 1,000 JIT-code instructions" if dense else "no phase dropped that much")
    return (f"JIT-code instructions per iteration changed by {hi:+.2f} % to {lo:+.2f} %. The expected drop of "
            f"about 3% holds for {len(yes)} of {len(rows)} phases ({', '.join(yes) or 'none'}); {len(more)} dropped "
            f"more ({', '.join(more) or 'none'}) and {len(less)} less ({', '.join(less) or 'none'}). The drop "
            f"follows the density of pool calls (the largest gap between predicted and measured is {gap:.2f} "
            f"points), so whether code is \"call-heavy\" is that density: {heavy}. {beyond} of the {measured} "
            "phases with a measured layout spread changed by more than it. One taken branch fewer per executed far "
            "call holds by the shapes (`bl`, `ldr`, `br` against `ldr`, `blr`: both links are taken, the stub's "
            "unconditional `br` goes); the counter does not count taken branches, but it counts the stubs' `br`s, "
            f"and those that no longer run equal the pool calls in {exact_br} of {len(one_br)} phases. All "
            f"instructions executed changed by {tlo:+.3f} % to {thi:+.3f} % (JIT code is part of them; the "
            f"per-mapping figures are in the counts tables above)."
            + (f" In {', '.join(little)} JIT code ran under 1 % of all instructions"
               ", so there a JIT-code Δ % says little about the benchmark."
               if little else "")
            + f" {mixed_with_layout(rows)}{divergences()}\n")


def mixed_with_layout(rows):
    """The sentence naming the phases whose JIT-code change is not the pool's saving alone: the
    instructions saved differ from the pool calls (the residual), so part of the measured Δ % is
    what another block order or register choice does, not the pool.

    >>> mixed_with_layout([{"key": "a/jitlist", "residual": 0.0, "spread_abs": 5}])
    'In every phase above the instructions saved equal the pool calls exactly. '
    >>> print(mixed_with_layout([{"key": "a/jitlist", "residual": -3.0, "spread_abs": 3},
    ...                          {"key": "b/autojit", "residual": 4.0, "spread_abs": 1}]))
    ... # doctest: +NORMALIZE_WHITESPACE
    In 2 of 2 phases the instructions saved differ from the pool calls (a/jitlist -3.0 per iteration
    (within its layout spread of 3.0); b/autojit +4.0 per iteration (beyond its layout spread of 1.0 by
    3.0)):
    that part of each measured Δ is a change of the code run that the pool calls do not explain (a
    residual within the layout spread is what heap layout alone can do to the two builds; the
    residual at each heap padding is in the table above), negligible where the predicted and
    measured Δ % agree to two decimals.
    """
    mixed = [r for r in rows if r["residual"] is not None and r["residual"] != 0]
    if not mixed:
        return "In every phase above the instructions saved equal the pool calls exactly. "
    def one(r):
        sp = r["spread_abs"]
        judged = ("no layout spread measured" if sp is None else
                  f"within its layout spread of {sp:,.1f}" if abs(r["residual"]) <= sp else
                  f"beyond its layout spread of {sp:,.1f} by {abs(r['residual']) - sp:,.1f}")
        return f"{r['key']} {r['residual']:+,.1f} per iteration ({judged})"
    return (f"In {len(mixed)} of {len(rows)} phases the instructions saved differ from the pool calls ("
            + "; ".join(one(r) for r in mixed) + "): that part of each measured Δ is a change of the code run "
            "that the pool calls do not explain (a residual within the layout spread is what heap layout alone "
            "can do to the two builds; the residual at each heap padding is in the table above), negligible "
            "where the predicted and measured Δ % agree to two decimals. ")


def divergences():
    """The JIT-versus-interpreter differential of each build (its difftest.json)."""
    parts = []
    for b in ("baseline", "patched"):
        d = load_json(f"target/cinderx/{b}/difftest.json")
        parts.append(f"`{b}` not run" if d is None else
                     f"`{b}` {d.get('divergences')} divergences in {d.get('functions')} functions "
                     f"({d.get('runs')} runs)")
        plant = load_json(f"target/cinderx/{b}/difftest-plant.json")
        if plant is not None:
            parts[-1] += f", {plant.get('divergences')} with the planted divergence"
    return "JIT versus interpreter: " + "; ".join(parts) + "."


def aarch64_commands(L):
    """The exact commands that measure wall-clock on an aarch64 Linux host (untested here: no ARM
    hardware). The build itself needs an x86_64 host (harness/cinderx/build), so the two build
    directories are copied over."""
    guest = load_json("target/cinderx/patched/versions.json") or {}
    python = guest.get("python", "the version harness/cinderx/setup pins")
    host = guest.get("host", "unknown")
    ran = ("this run's host was aarch64, so its wall-clock figures above are native" if host.startswith("aarch64")
           else f"not run here: this run's host was {host}")
    L.append(f"To measure wall-clock on an aarch64 Linux host ({ran}). The "
             "guest is the same Debian sid root's python3.14 "
             f"({python}), run natively through the root's own loader. `harness/cinderx/build` needs an x86_64 "
             "host (its build root is an amd64 Debian root with the aarch64 cross compiler), so build there and "
             "copy the two build directories:\n")
    L.append("```sh\n"
             "# on the x86_64 machine, from a clone\n"
             "harness/cinderx/build && harness/cinderx/build --patches harness/cinderx/patches\n"
             "tar -czf cinderx-builds.tgz -C .cache/cinderx/builds baseline patched\n"
             "# on the aarch64 host, from a clone at the same commit\n"
             "harness/cinderx/setup\n"
             "mkdir -p .cache/cinderx/builds && tar -xzf cinderx-builds.tgz -C .cache/cinderx/builds\n"
             "ci/cinderx --wheel baseline,patched --benchmarks richards,deltablue,nbody --verify\n"
             "# (--verify: the verify tables, where a wrong near guess shows as a bl->stub site in the patched build)\n"
             "# or pyperf directly, one benchmark in autojit mode, then compared. .cache/cinderx/jitmode holds\n"
             "# harness/cinderx/sitecustomize.py: with A64CALL_CINDERX=1 every process, pyperf's workers\n"
             "# included, imports cinderx, which then reads the CINDERX_JIT_* settings\n"
             "for b in baseline patched; do\n"
             "  PYTHONPATH=$PWD/.cache/cinderx/builds/$b/site:$PWD/.cache/cinderx/deps:$PWD/.cache/cinderx/jitmode \\\n"
             "  A64CALL_CINDERX=1 CINDERX_JIT_AUTO=1 CINDERX_JIT_BACKGROUND_COMPILE=0 \\\n"
             "  .cache/cinderx/bin/python3.14 .cache/cinderx/deps/pyperformance/data-files/benchmarks/bm_richards/run_benchmark.py \\\n"
             "    --inherit-environ=A64CALL_CINDERX,CINDERX_JIT_AUTO,CINDERX_JIT_BACKGROUND_COMPILE -o richards-$b.json\n"
             "done\n"
             "PYTHONPATH=$PWD/.cache/cinderx/deps .cache/cinderx/bin/python3.14 -m pyperf compare_to richards-baseline.json richards-patched.json\n"
             "```\n")


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else ""
    if not os.path.isdir(out):
        print(f"literal_pool_report.py: {out!r}: no such directory", file=sys.stderr)
        sys.exit(2)
    L = ["## The literal-pool experiment\n"]
    opts = {b: measured_build(b).get("options", "not recorded") for b in ("baseline", "patched")}
    same = ("the same options" if opts["baseline"] == opts["patched"]
            else f"**different options** (baseline {opts['baseline']})")
    L.append("The change: far immediate call targets as `ldr x16, <literal>; blr x16` from an 8-byte-aligned, "
             "de-duplicated per-function literal pool, instead of `bl` to a per-function stub `ldr x16, [pc+8]; "
             f"br x16; .quad`. Near targets stay a direct `bl`. Far means more than {near_reach()} from "
             "`_cinderx.so`'s own code (the rule and why a wrong guess only costs speed are in the patch). Both "
             f"builds are cross-built from the pinned sdist with {same}: `{opts['patched']}` (their build.json; "
             "the official wheels use LTO and PGO).\n")
    L.append("| patch | SHA-256 |\n|---|---|")
    L.extend(patches())
    L.append("")
    equal, verdicts = fidelity(out)
    L.append(f"Fidelity of the baseline build to the official wheel (`harness/cinderx/fidelity official baseline`): "
             f"**{equal}**.\n")
    if verdicts:
        L.append(f"By verdict: {verdicts}.\n")
    L.append(FIDELITY_ARGUMENT + "\n")
    L.append("### Are the counts exact? (`harness/cinderx/count-determinism`, this run)\n")
    determinism(out, L)
    L.append("### Regression test (`harness/cinderx/test_literal_pool.py`)\n")
    regression(out, L)
    phases, lay = bench_phases(), layouts()
    L.append("### Compiled sizes and call sequences of call-heavy functions (static)\n")
    capture_sizes(L)
    L.append("### Benchmarks: instructions saved against the far calls moved to the pool\n")
    residuals(out, phases, lay, L)
    L.append("### Expected and measured\n")
    expectation(phases, lay, L)
    L.append("### The patch against the model (`harness/cinderx/model_check.py`)\n")
    model(out, L)
    L.append("### The patched build calls what the baseline calls, as often (`harness/cinderx/target_compare.py`)\n")
    L.append("In every function, the call sites of each target (a literal, a stub's `.quad` or a `bl`'s target, by "
             "the entry `a64call verify` resolves it to) are counted in both builds and must be as many. Two "
             "builds may order a function's blocks differently (CinderX's register allocator iterates hash sets "
             "keyed by heap addresses), so counts are what holds for every function; where a function's shape is "
             "the baseline's modulo call sequences (`--in-order`, the summary says in how many), each call site "
             "must also call the baseline's target in code order, so a swap between two targets called from "
             "equally many sites is seen there. Internal `_cinderx.so` functions, which have no symbol and another "
             "address in each build, are compared only as such; the patch emits literals only for targets outside "
             "`_cinderx.so`.\n")
    targets(out, L)
    L.append("### Deliberately broken variants of the patch\n")
    L.append("Each must be caught by what its `harness/cinderx/broken/*/caught-by` names: `a64call verify` with a "
             "rule, or, for a literal holding a real but wrong function entry (which verify and the model check "
             "cannot see), `target_compare.py` against the baseline.\n")
    broken(out, L)
    L.append("### Functions near and over 1 MiB (`harness/cinderx/bigfunc.py`)\n")
    bigfunc_text(out, L)
    bigfunc(out, L)
    L.append("### The worker check (`harness/cinderx/test-withheld`)\n")
    withheld(out, L)
    L.append("### What this shows and what it does not\n")
    L.append("- Instruction counts are exact counts of what executed, under emulation: they say what runs, not how "
             "fast. A taken branch and a stub's extra instruction cost differently on different cores, and qemu "
             "runs no cache or branch predictor.\n"
             "- Determinism was shown on a sample (two identical counted runs of each build, above); the "
             "other figures were counted once. The layout spread is measured over three heap paddings per build: "
             "a measure of what layout does, not a proven bound.\n"
             "- `a64call verify` proves every call lands on a known function entry, not that it is the entry the "
             "JIT meant: a wrong literal that holds another function's entry passes it. `target_compare.py` "
             "counts each function's calls per target against the baseline (it catches the `swapped-targets` "
             "variant) and, in functions laid out as the baseline's, compares them site by site; a swap between "
             "two targets called equally often in a function laid out otherwise, or among unnamed `_cinderx.so` "
             "functions, is not seen.\n"
             f"- Both builds are `{opts['patched']}` while the official wheel uses LTO and PGO, so the counts in "
             "`_cinderx.so` are not the official wheel's; the JIT's code is (fidelity above).\n"
             "- Where native aarch64 Linux places JIT code relative to `_cinderx.so` is not measured here: under "
             "qemu the distance varied from run to run (the model check above gives each dump's); the patch's near "
             "guess holds only within 128 MiB.\n"
             "- Emulated wall-clock figures are secondary and noisy.\n")
    aarch64_commands(L)
    print("\n".join(L))


if __name__ == "__main__":
    main()
