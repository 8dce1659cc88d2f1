"""Guest driver of the counted CinderX runs (harness/cinderx/count-run); runs under the counting
qemu (A64CALL_COUNT_DIR set) and marks its measured phases with a64count.phase.

    count_guest.py sites MODE K N,N,...     MODE interp or jit
    count_guest.py bench MODE SCRIPT WARMUPS LOOPS   MODE interp, autojit or jitlist

Every process first counts an empty phase (`empty`: the marker's own cost, subtracted by
count_report.py), and writes DIR/meta-<pid>.json: the job, mode, and per phase its name, its
iterations and, in JIT modes, how many functions were JIT-compiled before and after it (a phase
during which the JIT compiled something measured compilation too).

sites: for each N a function with N repeated `x = math.sqrt(x) + 1.0` lines (as in sizes.py; N = 0
is the call and loop baseline) is called once, force-compiled in jit mode, then called K times
inside phase `sites-N`.

bench: a pyperformance benchmark script is run as __main__ with a stand-in `pyperf` module whose
Runner records bench_func/bench_time_func registrations instead of spawning workers; each
registered function is called WARMUPS times, then LOOPS times inside phase `bench-NAME`
(bench_time_func: one call with loops=LOOPS). The JIT mode comes from the environment
(sitecustomize.py with A64CALL_CINDERX, CINDERX_JIT_AUTO or CINDERX_JIT_LIST_FILE).
"""
import argparse
import json
import os
import runpy
import sys
import time
import types

import a64count

SITES_SOURCE_LINE = "    x = math.sqrt(x) + 1.0\n"
SITES_ARG = 2.0


def jit_module(required):
    """cinderx.jit when the JIT is on in this process, else None (exits if required and absent)."""
    if "cinderx" not in sys.modules and not required:
        return None
    import cinderx

    if cinderx.get_import_error() is not None:
        sys.exit(f"count_guest: cinderx failed to import: {cinderx.get_import_error()}")
    import cinderx.jit as jit

    return jit


def compiled_count(jit):
    return None if jit is None else len(jit.get_compiled_functions())


class Meta:
    """The meta-<pid>.json record of this process."""

    def __init__(self, job, mode, jit):
        self.jit = jit
        self.rec = {"job": job, "mode": mode, "pid": os.getpid(), "phases": {}}
        self.number = 0

    def phase(self, name, iterations, body):
        """Run body() inside a counted phase and record it."""
        self.number += 1
        before = compiled_count(self.jit)
        with a64count.phase(name):
            body()
        self.rec["phases"][str(self.number)] = {
            "name": name,
            "iterations": iterations,
            "compiled_before": before,
            "compiled_after": compiled_count(self.jit),
        }

    def write(self):
        if a64count.enabled():
            path = os.path.join(os.environ["A64CALL_COUNT_DIR"], f"meta-{os.getpid()}.json")
            with open(path, "w") as f:
                json.dump(self.rec, f, indent=1)


def sites_function(n):
    src = "import math\ndef sqrt_sites_%d(x):\n" % n + SITES_SOURCE_LINE * n + "    return x\n"
    ns = {"__name__": "sizetest"}
    exec(compile(src, "sizetest", "exec"), ns)
    return ns["sqrt_sites_%d" % n]


def run_sites(mode, k, ns):
    jit = jit_module(required=(mode == "jit"))
    meta = Meta("sites", mode, jit)
    meta.phase("empty", 1, lambda: None)
    for n in ns:
        f = sites_function(n)
        expect = f(SITES_ARG)
        if mode == "jit" and not (jit.force_compile(f) and jit.is_jit_compiled(f)):
            sys.exit(f"count_guest: sqrt_sites_{n} did not compile")

        def body(f=f):
            for _ in range(k):
                f(SITES_ARG)

        meta.phase(f"sites-{n}", k, body)
        if f(SITES_ARG) != expect:
            sys.exit(f"count_guest: sqrt_sites_{n} changed its result after compiling")
    meta.write()


class StandInRunner:
    """pyperf.Runner stand-in: records registrations, parses no command line."""

    registered = []

    def __init__(self, *args, add_cmdline_args=None, **kwargs):
        self.metadata = {}
        self.argparser = argparse.ArgumentParser()
        self.args = None

    def parse_args(self, args=None):
        self.args = self.argparser.parse_args([])
        return self.args

    def bench_func(self, name, func, *args, inner_loops=None, metadata=None):
        StandInRunner.registered.append((name, "func", func, args))

    def bench_time_func(self, name, func, *args, inner_loops=None, metadata=None):
        StandInRunner.registered.append((name, "time", func, args))

    def bench_command(self, name, *args, **kwargs):
        sys.exit(f"count_guest: benchmark {name} uses bench_command (a subprocess), not supported")

    def bench_async_func(self, name, *args, **kwargs):
        sys.exit(f"count_guest: benchmark {name} uses bench_async_func, not supported")


def stand_in_pyperf():
    mod = types.ModuleType("pyperf")
    mod.Runner = StandInRunner
    mod.perf_counter = time.perf_counter
    return mod


def run_bench(mode, script, warmups, loops):
    sys.modules["pyperf"] = stand_in_pyperf()
    sys.argv = [script]
    # As `python3.14 run_benchmark.py` would: the script's directory first on sys.path
    # (regex_compile imports its sibling modules bm_regex_effbot and bm_regex_v8).
    sys.path.insert(0, os.path.dirname(os.path.abspath(script)))
    runpy.run_path(script, run_name="__main__")
    if not StandInRunner.registered:
        sys.exit(f"count_guest: {script} registered no benchmark")
    jit = jit_module(required=(mode != "interp"))
    meta = Meta("bench", mode, jit)
    meta.phase("empty", 1, lambda: None)
    for name, kind, func, args in StandInRunner.registered:
        if kind == "time":
            for _ in range(warmups):
                func(1, *args)
            meta.phase(f"bench-{name}", loops, lambda: func(loops, *args))
        else:
            for _ in range(warmups):
                func(*args)

            def body():
                for _ in range(loops):
                    func(*args)

            meta.phase(f"bench-{name}", loops, body)
    meta.rec["jit_enabled"] = bool(jit is not None and jit.is_enabled())
    meta.write()


def main():
    job = sys.argv[1] if len(sys.argv) > 1 else ""
    if job == "sites" and len(sys.argv) == 5:
        run_sites(sys.argv[2], int(sys.argv[3]), [int(n) for n in sys.argv[4].split(",")])
    elif job == "bench" and len(sys.argv) == 6:
        run_bench(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
