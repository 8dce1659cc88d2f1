"""The literal-pool patch's regression test on the call-site test (host Python).

    test_literal_pool.py BASELINE_RESULTS CANDIDATE_RESULTS BASELINE_COUNTS CANDIDATE_COUNTS

RESULTS are `ci/cinderx` result directories (their sizes-classify.json: every call sequence in
the dumped `sqrt_sites_N` functions, classified by `a64call classify`); COUNTS are
`harness/cinderx/count-run` output directories (their sites.json: exact executed-instruction
counts of the same functions, K calls per marked phase). The candidate passes only if, for every
N present in both builds:
  static    its code has no stub and no `bl` to a stub, and exactly as many `ldr`-literal + `blr`
            sequences as the baseline has `bl`->stub calls (every far call took the pool shape,
            none was lost or added), every other call kind unchanged;
  executed  no `bl`->stub runs, `ldr`-literal + `blr` runs exactly as often as the baseline's
            `bl`->stub did, and the JIT-code instructions executed drop by exactly one per far
            call executed (a stub call is `bl`, `ldr`, `br`; a pool call is `ldr`, `blr`), so
            per call site they drop by exactly the far calls executed per site.
Run with the baseline as candidate it must fail. Prints every check; exit 0 pass, 1 fail, 2 bad
input (a missing or malformed file is named)."""
import json
import re
import sys

STUB_CALL = "bl->stub"
POOL_CALL = "ldr-literal+blr"
SQRT_FUNC = re.compile(r"sqrt_sites_(\d+)$")


class BadInput(Exception):
    pass


def load(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        raise BadInput(f"{path}: {e}") from e


def static_by_n(results_dir):
    """N -> {"stubs": int, "calls": {kind: count}} for the sqrt_sites_N functions."""
    out = {}
    for f in load(f"{results_dir}/sizes-classify.json"):
        m = SQRT_FUNC.search(f.get("name", ""))
        if m:
            out[int(m.group(1))] = {"stubs": f["stubs"], "calls": f["calls"]}
    if not out:
        raise BadInput(f"{results_dir}/sizes-classify.json has no sqrt_sites_N function")
    return out


def executed_by_n(counts_dir):
    """N -> raw counts of the force-compiled sqrt_sites_N phase, and K."""
    jit = load(f"{counts_dir}/sites.json").get("jit")
    if not jit or "phases" not in jit:
        raise BadInput(f"{counts_dir}/sites.json has no force-compiled (jit) phases")
    out = {}
    for name, phase in jit["phases"].items():
        m = re.fullmatch(r"sites-(\d+)", name)
        if m:
            out[int(m.group(1))] = (phase["raw"], phase["iterations"])
    return out


class Test:
    def __init__(self):
        self.failures = 0

    def check(self, ok, what):
        print(f"{'ok  ' if ok else 'FAIL'}  {what}")
        self.failures += 0 if ok else 1


def static_checks(t, base, cand):
    for n in sorted(set(base) & set(cand)):
        if n == 0:
            continue
        b, c = base[n], cand[n]
        far = b["calls"].get(STUB_CALL, 0)
        t.check(c["stubs"] == 0 and c["calls"].get(STUB_CALL, 0) == 0,
                f"static N={n}: no stub and no bl->stub (candidate: {c['stubs']} stubs, "
                f"{c['calls'].get(STUB_CALL, 0)} bl->stub)")
        t.check(c["calls"].get(POOL_CALL, 0) == far,
                f"static N={n}: ldr-literal+blr sequences {c['calls'].get(POOL_CALL, 0)} == "
                f"baseline far calls through stubs {far}")
        others = {k: v for k, v in b["calls"].items() if k not in (STUB_CALL, POOL_CALL)}
        cand_others = {k: v for k, v in c["calls"].items() if k not in (STUB_CALL, POOL_CALL)}
        t.check(others == cand_others, f"static N={n}: other call kinds unchanged {cand_others}")


def executed_checks(t, base, cand):
    common = sorted(set(base) & set(cand))
    for n in common:
        (b, kb), (c, kc) = base[n], cand[n]
        if kb != kc:
            raise BadInput(f"sites-{n}: baseline ran K={kb}, candidate K={kc}: count both alike")
        far = b[f"calls {STUB_CALL}"]
        t.check(c[f"calls {STUB_CALL}"] == 0,
                f"executed N={n}: bl->stub {c[f'calls {STUB_CALL}']} == 0")
        t.check(c[f"calls {POOL_CALL}"] == far,
                f"executed N={n}: ldr-literal+blr {c[f'calls {POOL_CALL}']} == baseline bl->stub {far}")
        t.check(b["jit"] - c["jit"] == far and far > 0,
                f"executed N={n}: JIT-code instructions {b['jit']} -> {c['jit']}, "
                f"drop {b['jit'] - c['jit']} == far calls executed {far} (K={kb})")
    if len(common) >= 2 and common[-1] > common[-2]:
        hi, lo = common[-1], common[-2]
        sites, k = hi - lo, base[hi][1]
        per_site = lambda d, key: (d[hi][0][key] - d[lo][0][key]) / (sites * k)  # noqa: E731
        far_per_site = per_site(base, f"calls {STUB_CALL}")
        drop = per_site(base, "jit") - per_site(cand, "jit")
        t.check(drop == far_per_site and far_per_site > 0,
                f"per call site (N={lo}..{hi}): JIT-code instructions {per_site(base, 'jit'):g} -> "
                f"{per_site(cand, 'jit'):g}, drop {drop:g} == far calls executed per site {far_per_site:g}")


def main():
    if len(sys.argv) != 5:
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        sys.exit(2)
    base_res, cand_res, base_counts, cand_counts = sys.argv[1:5]
    t = Test()
    try:
        static_checks(t, static_by_n(base_res), static_by_n(cand_res))
        executed_checks(t, executed_by_n(base_counts), executed_by_n(cand_counts))
    except (BadInput, KeyError) as e:
        print(f"test_literal_pool: bad input: {e}", file=sys.stderr)
        sys.exit(2)
    print(f"literal-pool regression test: {'FAIL' if t.failures else 'pass'} "
          f"({t.failures} check(s) failed; candidate {cand_res})")
    sys.exit(1 if t.failures else 0)


main()
