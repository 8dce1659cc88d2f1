"""Exact instruction counts for findings.md (used by report.py).

Counts: BUILD_OUT_DIR/counts/sites.json and bench.json, written by harness/cinderx/count_report.py
(through harness/cinderx/count-run): {KEY: {"job", "mode", "pid", "marker": {QUANTITY: N},
"jit_enabled", "phases": {NAME: {"iterations", "raw": {QUANTITY: N}, "per_iteration": {...},
"jit_compiled_during_phase", ...}}}}, QUANTITY being total, a region (jit, python3.14,
_cinderx.so, libc, other), stub_execs, stub_insns or "calls KIND". Per-iteration figures are
recomputed here from the raw integers, exactly: (raw - marker) / iterations, the marker being the
cost of one empty phase; differences between builds are computed the same way, so a difference
over a whole phase is an exact integer."""
import glob
import os
import sys
from fractions import Fraction

from layout_spread import against_layout, layout_spread, load_layout  # beside this file

# Where the counts come from; the determinism figure is that of harness/cinderx/count-determinism.
SOURCE = ("Exact executed-instruction counts from a qemu TCG plugin (`harness/qemu-plugin`, run by "
          "`harness/cinderx/count-run`): every executed translated block is counted with its instruction "
          "count and split by the mapping it starts in (JIT code = anonymous executable mappings, "
          "`python3.14`, `_cinderx.so`, libc, other), and every executed `bl`/`blr` in JIT code is "
          "classified by its call sequence. The counting is built to be deterministic (fixed addresses, hash seed "
          "and paths): `harness/cinderx/count-determinism` runs the same counting twice and compares every "
          "figure, raw and per iteration (README, \"Exact instruction counts\"; the literal-pool experiment reports its "
          "result on a sample of these phases). Each figure here was counted once. Between two builds the heap layout differs too; "
          "`harness/cinderx/count-layout` measures that spread. Each figure is per iteration of "
          "a marked phase, minus the cost of the phase marker (an empty phase). **Counts are not time**: "
          "instructions differ in cost, and cache and branch-predictor behaviour is invisible here; taken "
          "branches are not counted at all.")

# Call kinds (src/jitcode/classify.rs CallKind), grouped by what the counter knows of their target.
# adrp+ldr-literal+blr (a literal over 1 MiB away) is never among the executed kinds: the plugin
# records one word before a call, so it counts as `ldr [mem]+blr` (src/jitcode/counts.rs); listed here so
# that it is grouped as far wherever a kind name reaches this report.
FAR = ["bl->stub", "ldr-literal+blr", "adrp+ldr-literal+blr", "movz/movk+blr", "adrp+blr"]  # constant target
NEAR = ["bl direct", "bl local"]
INDIRECT = ["ldr [mem]+blr", "blr other"]
ALWAYS = ["bl->stub", "ldr-literal+blr"]
# The mappings count_report.py splits every executed instruction by (its REGIONS); they sum to total.
REGIONS = ["jit", "python3.14", "_cinderx.so", "libc", "other"]
REGION_TEXT = {"jit": "JIT code"}  # the literal-pool experiment's two kinds: always shown
KIND_TEXT = ("Executed calls in JIT code, by call sequence (`src/jitcode/counts.rs`): **far, constant target** "
             "(`bl->stub`: `bl` to a stub `ldr x16, [pc+8]; br x16`; `ldr-literal+blr`: `ldr x16, <literal>; "
             "blr x16`; `movz/movk+blr`; `adrp+blr`): the target is fixed when the code is emitted and "
             "reached without a direct `bl`; the counter does not record where it lands (the code "
             "verification below resolves these targets statically). **near**: `bl direct` (a `bl` whose "
             "target lies outside JIT code, within ±128 MiB), `bl local` (a `bl` into JIT code). "
             "**indirect**: `ldr [mem]+blr` (register loaded from memory just before), `blr other` "
             "(register set elsewhere): the counter does not know whether these leave JIT code, so they "
             "are not counted as far calls. Kinds that are 0 everywhere in a table are left out, except "
             "`bl->stub` and `ldr-literal+blr`.")


def group(kind):
    for name, kinds in (("far", FAR), ("near", NEAR), ("indirect", INDIRECT)):
        if kind in kinds:
            return name
    sys.exit(f"report_counts: unknown call kind {kind!r}: add it to FAR, NEAR or INDIRECT "
             "(src/jitcode/classify.rs CallKind names the kinds)")


def fnum(x, d=3):
    return "-" if x is None else f"{float(x):,.{d}f}"


def fdelta(x, d=3):
    return "-" if x is None else f"{float(x):+,.{d}f}"


def fpct(a, b):
    if a is None or b is None or a == 0:
        return "-"
    return f"{float((b - a) * 100 / a):+.3f} %"


# ---------------------------------------------------------------- loading

class Phase:
    """One counted phase: exact per-iteration values from the raw integers."""

    def __init__(self, run, name):
        p = run["phases"][name]
        self.name, self.mode, self.iterations = name, run.get("mode", "?"), p["iterations"]
        self.raw, self.marker = p.get("raw"), run.get("marker")
        self.pi = p.get("per_iteration", {})
        self.compiled = p.get("jit_compiled_during_phase") or 0

    def net(self, k):
        """The phase's integer count of k minus the marker's, or None."""
        if self.raw is None or self.marker is None or k not in self.raw:
            return None
        return self.raw[k] - self.marker.get(k, 0)

    def get(self, k):
        n = self.net(k)
        if n is not None:
            return Fraction(n, self.iterations)
        v = self.pi.get(k)
        return None if v is None else Fraction(str(v))

    def kinds(self):
        return [k[6:] for k in (self.raw or self.pi) if k.startswith("calls ")]


def load_counts(out, tag, problems, load):
    """{"sites": {(mode, N): Phase}, "bench": {(benchmark, mode): Phase}, "files": [...]} or None."""
    d = os.path.join(out, "counts")
    if not os.path.isdir(d):
        return None
    c = {"sites": {}, "bench": {}, "dir": d,
         "other": sorted(os.path.basename(p) for p in glob.glob(os.path.join(d, "*.json"))
                         if os.path.basename(p) not in ("sites.json", "bench.json"))}
    for job in ("sites", "bench"):
        path = os.path.join(d, f"{job}.json")
        if not os.path.exists(path):
            problems.append(f"{tag} counts: {path} missing")
            continue
        runs = load(path, problems, {}) or {}
        for key, run in runs.items():
            mode = run.get("mode", key.split("/")[-1])
            if mode != "interp" and run.get("jit_enabled") is False:
                problems.append(f"{tag} counts: {job} {key} ran with the JIT disabled")
            for name in run.get("phases", {}):
                ph = Phase(run, name)
                if job == "sites" and name.startswith("sites-"):
                    n = int(name.split("-", 1)[1])
                    c["sites"][(mode, n)] = ph
                    if mode != "interp" and n >= 1 and not ph.get("jit"):
                        problems.append(f"{tag} counts: {key} {name} executed no JIT code (not compiled?)")
                elif job == "bench":
                    c["bench"][(name[len("bench-"):] if name.startswith("bench-") else key.split("/")[0], mode)] = ph
                if mode == "interp" and ph.get("jit"):
                    problems.append(f"{tag} counts: {key} {name} is interpreted but executed JIT code")
    c["layout"] = load_layout(d, tag, problems, load)
    return c


def shown_kinds(phases):
    present = {k for p in phases for k in p.kinds() if p.get(f"calls {k}")}
    order = FAR + NEAR + INDIRECT
    return [k for k in order if k in present or k in ALWAYS] + sorted(present - set(order))


def far_sum(p):
    vals = [p.get(f"calls {k}") for k in FAR]
    return sum(v for v in vals if v is not None)


UNCLEAN = ("⚠ N: the JIT compiled N functions during the phase, so it is not clean (compilation is counted "
           "in the phase, and code ran interpreted until compiled); compare such rows with care.\n")


def unclean(p):
    return f" ⚠ {p.compiled}" if p and p.compiled else ""


def unclean2(a, b):
    """Flag of a compared pair: compilations during the phase in the first / the other build."""
    return f" ⚠ {a.compiled}/{b.compiled}" if a.compiled or b.compiled else ""


def site_ns(c, mode):
    return sorted(n for (m, n) in c["sites"] if m == mode)


def bench_modes(keys):
    order = {"interp": 0, "autojit": 1, "jitlist": 2, "jit": 3}
    return sorted(keys, key=lambda k: (k[0], order.get(k[1], 9), k[1]))


# ---------------------------------------------------------------- one build

def counts_section(c, L):
    L.append("### Exact instruction counts (primary figures)\n")
    if c is None:
        L.append("No exact instruction counts in these results (no `counts/`; `ci/cinderx --counts` measures "
                 "them). Only the static code shapes and the emulated wall-clock below are available, and "
                 "neither is an executed count.\n")
        return
    L.append(SOURCE + f" Files: `{c['dir']}/sites.json`, `bench.json`.\n")
    L.append(KIND_TEXT + "\n")
    sites_table(c, L)
    bench_table(c, L)
    if c["other"]:
        L.append("Other files in `counts/` (not rendered): " + ", ".join(f"`{f}`" for f in c["other"]) + ".\n")


def sites_table(c, L):
    jit = [m for m in sorted({m for m, _ in c["sites"]}) if m != "interp"]
    if not c["sites"]:
        L.append("No call-site test counts.\n")
        return
    jm = jit[0] if jit else None
    ns = sorted({n for _, n in c["sites"]})
    jp = [c["sites"][(jm, n)] for n in ns if (jm, n) in c["sites"]]
    kinds = shown_kinds(jp)
    L.append("**Call-site test**: a function with N `x = math.sqrt(x) + 1.0` lines, called once per iteration, "
             f"interpreted (`interp`) and force-compiled (`{jm or '-'}`). Instructions per iteration:\n")
    L.append("| N | iterations | interpreted: total | compiled: total | compiled: JIT code | compiled: python3.14 | "
             "compiled: _cinderx.so | " + " | ".join(f"compiled: {group(k)} `{k}`" for k in kinds)
             + " | compiled: far calls, constant target (sum) | compiled: stub instructions |")
    L.append("|---:|---:|" + "---:|" * (5 + len(kinds) + 2))
    for n in ns:
        i, j = c["sites"].get(("interp", n)), c["sites"].get((jm, n))
        its = "/".join(str(x) for x in sorted({p.iterations for p in (i, j) if p}))
        cells = [fnum(i and i.get("total")), fnum(j and j.get("total")), fnum(j and j.get("jit")),
                 fnum(j and j.get("python3.14")), fnum(j and j.get("_cinderx.so"))]
        cells += [fnum(j and j.get(f"calls {k}")) for k in kinds]
        cells += [fnum(j and far_sum(j)), fnum(j and j.get("stub_insns"))]
        L.append(f"| {n}{unclean(j)}{unclean(i)} | {its} | " + " | ".join(cells) + " |")
    L.append("")
    per_added_site(c, jm, kinds, L)


def slope(c, mode, k):
    ns = site_ns(c, mode)
    if len(ns) < 2:
        return None
    lo, hi = c["sites"][(mode, ns[-2])], c["sites"][(mode, ns[-1])]
    a, b = lo.get(k), hi.get(k)
    return None if a is None or b is None else (b - a) / (ns[-1] - ns[-2])


def per_added_site(c, jm, kinds, L):
    ns = site_ns(c, jm) if jm else site_ns(c, "interp")
    if len(ns) < 2:
        L.append("Per added call site: fewer than two N measured.\n")
        return
    lo, hi = ns[-2], ns[-1]
    L.append(f"Per added call site (slope between N = {lo} and N = {hi}: (value at {hi} − value at {lo}) / {hi - lo}; "
             "the function's fixed cost cancels), per iteration:\n")
    L.append(f"| quantity | interp | {jm or 'JIT'} |")
    L.append("|---|---:|---:|")
    rows = [("instructions, total", "total")] + [(f"instructions in {REGION_TEXT.get(r, r)}", r) for r in REGIONS]
    rows += [(f"executed calls, {group(k)} `{k}`", f"calls {k}") for k in kinds]
    rows += [("stub instructions", "stub_insns")]
    for label, k in rows:
        L.append(f"| {label} | {fnum(slope(c, 'interp', k))} | {fnum(slope(c, jm, k) if jm else None)} |")
    far = lambda m: fnum(sum(x for x in (slope(c, m, f"calls {k}") for k in FAR) if x is not None)) if m else "-"
    L.append(f"| executed far calls, constant target (sum) | {far('interp')} | {far(jm)} |")
    L.append("")


def bench_table(c, L):
    if not c["bench"]:
        L.append("No benchmark counts.\n")
        return
    keys = bench_modes(c["bench"])
    kinds = shown_kinds([c["bench"][k] for k in keys])
    L.append("**Benchmarks** (pyperformance, a stand-in `pyperf.Runner` in one process: warm-up calls, then the "
             "counted iterations in a marked phase). Instructions per iteration:\n")
    L.append("| benchmark | mode | iterations | total | " + " | ".join(REGION_TEXT.get(r, r) for r in REGIONS) + " | "
             + " | ".join(f"{group(k)} `{k}`" for k in kinds) + " | far calls, constant target (sum) | stub instructions |")
    L.append("|---|---|---:|" + "---:|" * (1 + len(REGIONS) + len(kinds) + 2))
    for k in keys:
        p = c["bench"][k]
        cells = [fnum(p.get(q)) for q in ["total"] + REGIONS]
        cells += [fnum(p.get(f"calls {kd}")) for kd in kinds] + [fnum(far_sum(p)), fnum(p.get("stub_insns"))]
        L.append(f"| {k[0]} | {k[1]}{unclean(p)} | {p.iterations} | " + " | ".join(cells) + " |")
    L.append("")
    if any(p.compiled for p in c["bench"].values()) or any(p.compiled for p in c["sites"].values()):
        L.append(UNCLEAN)


# ---------------------------------------------------------------- several builds

def compare_pair(pairs, names, title, what, L, spread=None):
    """pairs: [(label, Phase in the first build, Phase in the other, phase key)]; JIT code and total
    side by side, each Δ judged against spread(key, "jit" | "total") (the heap-layout spread)."""
    an, bn = (f"`{n}`" for n in names)
    L.append(title)
    L.append(f"| {what} | iterations | JIT code: {an} | JIT code: {bn} | JIT code Δ | JIT code Δ % | "
             f"total: {an} | total: {bn} | total Δ | total Δ % | exact Δ over the phase (JIT code; total) | "
             "Δ against the layout spread (JIT code; total) |")
    L.append("|" + "---|" * (what.count("|") + 1) + "---:|" * 10 + "---|")
    for label, a, b, key in pairs:
        cells, exact, judged = [], [], []
        for k in ("jit", "total"):
            va, vb = a.get(k), b.get(k)
            delta = None if va is None or vb is None else vb - va
            cells += [fnum(va), fnum(vb), fdelta(delta), fpct(va, vb)]
            na, nb = a.net(k), b.net(k)
            same = na is not None and nb is not None and a.iterations == b.iterations
            exact.append(f"{nb - na:+,}" if same else "-")
            judged.append(against_layout(delta, spread(key, k) if spread else None))
        its = str(a.iterations) if a.iterations == b.iterations else f"{a.iterations}/{b.iterations}"
        L.append(f"| {label}{unclean2(a, b)} | {its} | " + " | ".join(cells) + f" | {'; '.join(exact)} | "
                 f"{'; '.join(judged)} |")
    L.append("")


def compare_regions(pairs, title, what, L):
    """Where each total Δ lies: the Δ per iteration of every mapping the counter splits by, which add
    up to the total's Δ exactly (checked, not assumed)."""
    L.append(title)
    L.append(f"| {what} | " + " | ".join(f"Δ {REGION_TEXT.get(r, r)}" for r in REGIONS)
             + " | Δ total | Δ outside JIT code (sum of the other mappings) | mappings add up to the total |")
    L.append("|" + "---|" * (what.count("|") + 1) + "---:|" * (len(REGIONS) + 2) + "---|")
    for label, a, b, _ in pairs:
        deltas = [None if a.get(r) is None or b.get(r) is None else b.get(r) - a.get(r) for r in REGIONS]
        total = None if a.get("total") is None or b.get("total") is None else b.get("total") - a.get("total")
        known = None not in deltas and total is not None
        outside = sum(deltas[1:]) if known else None
        adds = "-" if not known else "yes" if sum(deltas) == total else f"**no** (Σ = {fdelta(sum(deltas))})"
        L.append(f"| {label}{unclean2(a, b)} | " + " | ".join(fdelta(d) for d in deltas)
                 + f" | {fdelta(total)} | {fdelta(outside)} | {adds} |")
    L.append("")


def compare_calls(pairs, title, what, L):
    """Executed calls by kind in JIT code, first → other, of the JIT-mode pairs."""
    pairs = [p for p in pairs if p[1].mode != "interp"]
    if not pairs:
        return
    kinds = shown_kinds([p for _, a, b, _ in pairs for p in (a, b)])
    getters = [lambda p, k=k: p.get(f"calls {k}") for k in kinds] + [far_sum, lambda p: p.get("stub_insns")]
    L.append(title)
    L.append(f"| {what} | " + " | ".join(f"{group(k)} `{k}`" for k in kinds)
             + " | far calls, constant target (sum) | stub instructions |")
    L.append("|" + "---|" * (what.count("|") + 1) + "---:|" * len(getters))
    for label, a, b, _ in pairs:
        cells = []
        for get in getters:
            va, vb = get(a), get(b)
            moved = va is not None and vb is not None and va != vb
            cells.append(f"{fnum(va)} → {fnum(vb)}" + (f" ({fdelta(vb - va)})" if moved else ""))
        L.append(f"| {label}{unclean2(a, b)} | " + " | ".join(cells) + " |")
    L.append("")


def comparison(builds, L):
    """Before/after of every call-site N and benchmark × mode counted in the first build and another."""
    first = builds[0]
    if all(b.get("counts") is None for b in builds):
        return
    L.append("### Exact instruction counts compared (primary)\n")
    L.append("Per iteration, marker cost subtracted, computed from the raw integer counts of each phase; "
             "Δ = other − first (3 decimals), Δ % relative to the first; the last column is the exact integer "
             "difference over the whole phase (same iteration count). The last column judges each Δ against "
             "the heap-layout spread (`ci/cinderx --layout`, `harness/cinderx/count-layout`): the largest minus "
             "the smallest per-iteration value over the heap paddings each build was counted under, summed over "
             "the two builds (each build's figure moves by up to its own spread, so their difference by up to "
             "the sum). A measured spread, not a proven bound: a Δ within it is not distinguishable "
             "from a change of heap layout, one beyond it is a difference of the code run; \"not measured\" "
             "where either build has no layout run. Taken branches are not counted by the "
             "plugin, so no figure here says anything about them. Instructions, not time.\n")
    pads = sorted({p for b in builds if b.get("counts") and b["counts"].get("layout")
                   for p in b["counts"]["layout"]["pads"]})
    if pads:
        L.append(f"Heap paddings counted (bytes allocated before cinderx is imported): {', '.join(map(str, pads))}.\n")
    for other in builds[1:]:
        names = (first["name"], other["name"])
        vs, to = f"`{names[1]}` versus `{names[0]}`", f"`{names[0]}` → `{names[1]}`"
        ca, cb = first.get("counts"), other.get("counts")
        if ca is None or cb is None:
            missing = "either" if ca is cb else f"`{(first if ca is None else other)['name']}`"
            L.append(f"{vs}: no counts in {missing}.\n")
            continue
        keys = sorted(set(ca["sites"]) & set(cb["sites"]), key=lambda k: (k[0] != "interp", k[0], k[1]))
        sites = [(f"{m} | {n}", ca["sites"][(m, n)], cb["sites"][(m, n)], (m, n)) for m, n in keys]
        if sites:
            compare_pair(sites, names, f"Call-site test, {vs}, instructions per iteration:\n", "mode | N", L,
                         lambda key, k: layout_spread(ca, cb, "sites", key, k))
            compare_regions(sites, f"Call-site test, where the total Δ lies, {to}, instructions per iteration "
                            "by mapping:\n", "mode | N", L)
            compare_calls(sites, f"Call-site test, executed calls per iteration in JIT code, {to}:\n", "mode | N", L)
            per_site_compare(ca, cb, *names, L)
            moved = [lbl for lbl, a, b, _ in sites if a.mode == "interp" and a.get("total") != b.get("total")]
            if any(a.mode == "interp" for _, a, _, _ in sites):
                L.append("Control: interpreted rows run no CinderX code, so they should be equal in both builds; "
                         + ("they are." if not moved else f"**they differ** ({', '.join(moved)}): the builds were "
                            "counted in different conditions (paths, environment), which affects every row.") + "\n")
        keys = bench_modes(set(ca["bench"]) & set(cb["bench"]))
        bench = [(f"{k[0]} | {k[1]}", ca["bench"][k], cb["bench"][k], k) for k in keys]
        if bench:
            compare_pair(bench, names, f"Benchmarks, {vs}, instructions per iteration:\n", "benchmark | mode", L,
                         lambda key, k: layout_spread(ca, cb, "bench", key, k))
            compare_regions(bench, f"Benchmarks, where the total Δ lies, {to}, instructions per iteration by "
                            "mapping:\n", "benchmark | mode", L)
            compare_calls(bench, f"Benchmarks, executed calls per iteration in JIT code, {to}:\n", "benchmark | mode", L)
        if any(a.compiled or b.compiled for _, a, b, _ in sites + bench):
            L.append("⚠ A/B: in the first / the other build, the JIT compiled that many functions during the "
                     "phase, so it is not clean (compilation is counted in the phase, and code ran interpreted "
                     "until compiled); compare such rows with care.\n")
        only = [f"call-site test {m} N = {n}" for m, n in sorted(set(ca["sites"]) ^ set(cb["sites"]))]
        only += [f"{x} {m}" for x, m in bench_modes(set(ca["bench"]) ^ set(cb["bench"]))]
        if only:
            L.append("Counted in only one of the two (not compared): " + ", ".join(only) + ".\n")


def per_site_compare(ca, cb, an, bn, L):
    jm = [m for m in sorted({m for m, _ in ca["sites"]}) if m != "interp"]
    if not jm or site_ns(ca, jm[0]) != site_ns(cb, jm[0]) or len(site_ns(ca, jm[0])) < 2:
        return
    m = jm[0]
    ns = site_ns(ca, m)
    kinds = shown_kinds([ca["sites"][(m, n)] for n in ns] + [cb["sites"][(m, n)] for n in ns])
    L.append(f"Per added call site ({m}, slope between N = {ns[-2]} and N = {ns[-1]}), per iteration:\n")
    L.append(f"| quantity | `{an}` | `{bn}` | Δ |")
    L.append("|---|---:|---:|---:|")
    rows = [("instructions, total", "total"), ("instructions in JIT code", "jit")]
    rows += [(f"executed calls, {group(k)} `{k}`", f"calls {k}") for k in kinds] + [("stub instructions", "stub_insns")]
    for label, k in rows:
        va, vb = slope(ca, m, k), slope(cb, m, k)
        L.append(f"| {label} | {fnum(va)} | {fnum(vb)} | {fdelta(None if va is None or vb is None else vb - va)} |")
    L.append("")
