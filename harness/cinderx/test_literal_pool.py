"""The literal-pool patch's regression test on the call-site test (host Python).

    test_literal_pool.py BASELINE_RESULTS CANDIDATE_RESULTS BASELINE_COUNTS CANDIDATE_COUNTS

RESULTS are `ci/cinderx --verify` result directories (their sizes-verify.json: every call
sequence in the dumped `sqrt_sites_N` functions with its resolved target, by `a64call verify
--json`); COUNTS are `harness/cinderx/count-run` output directories (their sites.json: exact
executed-instruction counts of the same functions, K calls per marked phase). The candidate
passes only if, for every N present in both builds:
  static    it calls the same targets as the baseline, as often (no call lost or added); no
            `bl`->stub reaches a target outside `_cinderx.so`, and it has exactly as many
            `ldr`-literal + `blr` sequences as the baseline has `bl`->stub calls to such targets
            (every far call took the pool shape); its other calls to them are unchanged. A
            `bl`->stub into `_cinderx.so` is allowed only where the target is out of `bl` range of
            the call site: the patch guesses calls into `_cinderx.so` near, and a wrong guess
            (the code placed over 128 MiB from it, as the tier's plain qemu may do) costs speed,
            not correctness; such sites are listed;
  executed  no `bl`->stub runs, `ldr`-literal + `blr` runs exactly as often as the baseline's
            `bl`->stub did, and the JIT-code instructions executed drop by exactly one per far
            call executed (a stub call is `bl`, `ldr`, `br`; a pool call is `ldr`, `blr`), so
            per call site they drop by exactly the far calls executed per site. (Counted under
            count-run's fixed addresses, where the JIT code lies near `_cinderx.so`: a wrong
            near guess there would show as executed `bl`->stub and fail this part.)
Run with the baseline as candidate it must fail. Prints every check; exit 0 pass, 1 fail, 2 bad
input (a missing or malformed file is named)."""
import json
import re
import sys

STUB_CALL = "bl->stub"
POOL_CALL = "ldr-literal+blr"
STUB_BR = "br out"
BL_REACH = 1 << 27  # bytes: B/BL reach ±128 MiB
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
    """N -> [(kind, entry, near guess relaxed)] of every call site with a resolved target in the
    sqrt_sites_N functions."""
    path = f"{results_dir}/sizes-verify.json"
    out = {}
    for f in load(path).get("functions", []):
        m = SQRT_FUNC.search(f.get("name", ""))
        if not m:
            continue
        if f.get("addr") is None:
            raise BadInput(f"{path}: {f['name']} was not placed (no perf map entry), so its calls' reach is unknown")
        sites = []
        for site in f["sites"]:
            # A stub's own `br x16` is not a call site: the `bl` to the stub resolves to its target.
            if site.get("target") is None or site["kind"] == STUB_BR:
                continue
            if not site.get("entry"):
                raise BadInput(f"{path}: {f['name']} +{site['offset']:#x}: target {site['target']:#x} unresolved")
            out_of_bl = abs(site["target"] - (f["addr"] + site["offset"])) >= BL_REACH
            sites.append((site["kind"], site["entry"], out_of_bl))
        out[int(m.group(1))] = sites
    if not out:
        raise BadInput(f"{path} has no sqrt_sites_N function")
    return out


def in_cinderx(entry):
    return "_cinderx." in entry


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
        t.check(sorted(e for _, e, _ in c) == sorted(e for _, e, _ in b),
                f"static N={n}: the same targets at {len(c)} call sites as at the baseline's {len(b)}")
        far = sum(1 for k, e, _ in b if k == STUB_CALL and not in_cinderx(e))
        stubbed = [e for k, e, _ in c if k == STUB_CALL and not in_cinderx(e)]
        t.check(not stubbed, f"static N={n}: no bl->stub to a target outside _cinderx.so (candidate: {len(stubbed)})")
        pool = sum(1 for k, _, _ in c if k == POOL_CALL)
        t.check(pool == far, f"static N={n}: ldr-literal+blr sequences {pool} == baseline far calls through stubs "
                             f"to targets outside _cinderx.so {far}")
        others = lambda sites: sorted((k, e) for k, e, _ in sites  # noqa: E731
                                      if k not in (STUB_CALL, POOL_CALL) and not in_cinderx(e))
        t.check(others(c) == others(b), f"static N={n}: other calls to targets outside _cinderx.so unchanged "
                                        f"({len(others(c))})")
        guesses = [e for k, e, far_away in c if k == STUB_CALL and in_cinderx(e)]
        in_range = [e for k, e, far_away in c if k == STUB_CALL and in_cinderx(e) and not far_away]
        t.check(not in_range, f"static N={n}: every bl->stub into _cinderx.so is a near guess out of bl range "
                              f"({len(guesses)} such; in range: {len(in_range)})")


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
