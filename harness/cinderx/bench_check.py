"""The benchmark runs of harness/cinderx/bench, judged (used by report.py): the worker check (every
pyperf worker of a JIT-mode run compiled `__main__` functions; the manager does not count), each
row's statistics and noise flag, and when two rows may be given a speed ratio."""
import glob
import os
import statistics

from report_io import load

NOISY = 0.1  # stdev above this fraction of the mean flags a benchmark row as noisy


def pyperf_runs(res):
    """Each pyperf run's timed values (warmups left out), in the order pyperf stored the runs."""
    return [r.get("values", []) for b in (res or {}).get("benchmarks", []) for r in b.get("runs", [])]


def pyperf_values(res):
    runs = pyperf_runs(res)
    return [v for run in runs for v in run], len(runs)


def first_value_largest(runs):
    """How many of the runs with 2 values or more have their first timed value as their largest,
    and how many such runs there are: measured, so a noisy row can say where its spread lies.

    >>> first_value_largest([[0.11, 0.03, 0.02], [0.02, 0.09, 0.02], [0.05]])
    (1, 2)
    """
    multi = [run for run in runs if len(run) > 1]
    return sum(1 for run in multi if run[0] == max(run)), len(multi)


def check_bench(d):
    """Problems of one harness/cinderx/bench run directory, and a summary dict."""
    problems = []
    meta = load(os.path.join(d, "meta.json"), problems, {})
    name, mode = meta.get("benchmark", os.path.basename(d)), meta.get("mode", "?")
    label = f"{meta.get('build', '?')} {name} {mode}"
    res = load(os.path.join(d, "result.json"), [], None)
    values, runs = pyperf_values(res)
    if not values:
        problems.append(f"{label}: no timing values (see {d}/stdout)")
    args = meta.get("pyperf_args", [])
    asked = int(args[args.index("-p") + 1]) if "-p" in args else 1
    procs = []
    for p in sorted(glob.glob(os.path.join(d, "procs", "proc-*.json"))):
        rec = load(p, problems)
        if rec:
            procs.append(rec)
    workers = [r for r in procs if r.get("worker")]
    expected = max(asked, runs)
    if len(workers) < expected:
        problems.append(f"{label}: {len(workers)} pyperf worker processes left a record, expected {expected} "
                        f"(-p {asked}, {runs} runs in result.json): A64CALL_PROC_DIR not passed to the workers?")
    good = 0
    functions = set()
    for w in workers:
        who = f"{label}: worker pid {w['pid']}"
        if not w.get("exited"):
            problems.append(f"{who} did not exit normally (no exit record)")
            continue
        if mode == "interp":
            if w.get("cinderx_imported"):
                problems.append(f"{who} imported cinderx in interpreter mode")
            continue
        if not w.get("cinderx_imported"):
            problems.append(f"{who} ran without the JIT: cinderx was not imported (A64CALL_CINDERX not inherited?)")
        elif not w.get("jit_enabled"):
            problems.append(f"{who} ran with the JIT disabled")
        elif not w.get("compiled_main"):
            problems.append(f"{who} compiled no __main__ functions ({w.get('compiled_total')} functions in all)")
        else:
            good += 1
            functions.update(w["compiled_main"])
    summary = {"dir": d, "name": name, "mode": mode, "values": values, "workers": len(workers),
               "first_largest": first_value_largest(pyperf_runs(res)),
               "jit_workers": good, "functions": sorted(functions),
               "manager_compiled": sum(len(r.get("compiled_main") or []) for r in procs if not r.get("worker"))}
    return problems, summary


def row_stats(values):
    if not values:
        return None
    mean = statistics.mean(values)
    sd = statistics.stdev(values) if len(values) > 1 else None
    return {"mean": mean, "sd": sd, "n": len(values), "noisy": sd is not None and sd > NOISY * mean}


def noisy_flag(st, first_largest):
    """What a noisy row's stdev cell adds: the rule that flagged it and, measured from pyperf's
    runs, whether the spread is each run's first timed value (as when the JIT compiles during the
    first values, or a run starts cold) rather than spread over the run (as other load would).

    >>> noisy_flag({"noisy": True}, (2, 2))
    ' (noisy: stdev over 10% of the mean; the first value of 2 of 2 runs is its largest)'
    >>> noisy_flag({"noisy": True}, (0, 0))
    ' (noisy: stdev over 10% of the mean)'
    """
    k, n = first_largest
    where = f"; the first value of {k} of {n} runs is its largest" if n else ""
    return f" (noisy: stdev over {NOISY:.0%} of the mean{where})"


def ratio_text(base, other, base_name="the interpreter's row", other_name="this row"):
    """`base/other` as a speed ratio, or why it is not printed (naming the row at fault).

    >>> calm, noisy = row_stats([1.0, 1.02, 0.98]), row_stats([1.0, 2.0, 0.5])
    >>> ratio_text(noisy, calm)
    (None, "the interpreter's row is noisy")
    >>> ratio_text(calm, noisy)
    (None, 'this row is noisy')
    >>> ratio_text(noisy, noisy)
    (None, "the interpreter's row and this row are noisy")
    >>> round(ratio_text(calm, row_stats([0.5, 0.5]))[0], 3)
    2.0
    """
    if base is None or other is None:
        return None, "a run failed"
    rows = ((base, base_name), (other, other_name))
    single = [who for s, who in rows if s["n"] < 2]
    noisy = [who for s, who in rows if s["n"] >= 2 and s["noisy"]]
    if single or noisy:
        return None, "; ".join([f"{' and '.join(single)} {'have' if len(single) > 1 else 'has'} a single value"] * bool(single)
                               + [f"{' and '.join(noisy)} {'are' if len(noisy) > 1 else 'is'} noisy"] * bool(noisy))
    return base["mean"] / other["mean"], None


def control_differs(base, other):
    """Why the interpreter rows of one benchmark in two builds (the same code, no CinderX) disqualify
    the builds' JIT rows from a speed ratio, or None when they agree: their means must lie within
    twice the standard error of their difference (about a 95 % test), each row with 2 values or more
    and not noisy."""
    if base is None or other is None:
        return "no interpreter control in both builds"
    for s in (base, other):
        if s["n"] < 2 or s["noisy"]:
            return "interpreter control " + ("a single value" if s["n"] < 2 else "noisy")
    se = (base["sd"] ** 2 / base["n"] + other["sd"] ** 2 / other["n"]) ** 0.5
    gap = other["mean"] - base["mean"]
    if abs(gap) > 2 * se:
        return f"the interpreter control differs by {gap * 100 / base['mean']:+.1f} %, beyond twice its standard error"
    return None
