"""A JIT-compiled function over 1 MiB of aarch64 code (guest script, run on python3.14).

    bigfunc.py OUT.elf [--sites N] [--filler K]

Generates a function of N `x = math.sqrt(x) + 1.0` call sites (default 4800, over 1 MiB of code
with CinderX 2026.11 on aarch64, about 256 bytes per site in the baseline build and 272 in the
patched one) followed by K lines `y = x + 1.0` (default 0; 80 bytes each in the patched build, a
finer step than a call site, to place the code size exactly), force-compiles it, runs it compiled
(or interpreted, when the JIT refuses it) and compares with the interpreter's result, and dumps
the JIT's code with `_cinderx.dump_elf(OUT.elf)`. Prints one JSON object (`over_1_mib`: compiled
size over 1 MiB, so a literal pool after the code is beyond `ldr` literal range of the first call
sites); exits 1 if the results differ, 2 when it cannot run (no cinderx to import)."""
import json
import math
import os
import sys

# CinderX refuses functions over 40,000 HIR or 80,000 LIR instructions (about 12 and 33 per call
# site here); the limits are read when _cinderx is imported.
os.environ.setdefault("CINDERX_JIT_MAX_HIR_INSTRS", "1000000")
os.environ.setdefault("CINDERX_JIT_MAX_HIR_BLOCKS", "100000")
os.environ.setdefault("CINDERX_JIT_MAX_LIR_BLOCKS", "1000000")
os.environ.setdefault("CINDERX_JIT_MAX_LIR_INSTRS", "10000000")

import verifiable_dump  # before cinderx: turns on the perf map (a64call verify)
try:
    import cinderx
    import cinderx.jit as jit
except ImportError as e:
    print(f"bigfunc.py: cannot import cinderx ({e}): this is a guest script, for the Debian root's "
          "python3.14 with a CinderX build on its path; ci/cinderx-literal-pool runs it (README, "
          "\"The literal-pool experiment\")", file=sys.stderr)
    sys.exit(2)

ONE_MIB = 1 << 20


def build(n, filler):
    src = "import math\ndef big_sqrt_sites(x):\n"
    src += "    x = math.sqrt(x) + 1.0\n" * n
    src += "    y = x + 1.0\n" * filler
    src += "    return x\n"
    ns = {"__name__": "bigfunc"}
    exec(compile(src, "bigfunc", "exec"), ns)
    return ns["big_sqrt_sites"]


def expected(n, x):
    for _ in range(n):
        x = math.sqrt(x) + 1.0
    return x


def main():
    if cinderx.get_import_error() is not None:
        sys.exit(f"cinderx failed to import: {cinderx.get_import_error()}")
    out = sys.argv[1]
    n = int(sys.argv[sys.argv.index("--sites") + 1]) if "--sites" in sys.argv else 4800
    filler = int(sys.argv[sys.argv.index("--filler") + 1]) if "--filler" in sys.argv else 0
    f = build(n, filler)
    interpreted = f(2.0)
    error = None
    try:
        jit.force_compile(f)
    except RuntimeError as e:  # CinderX reports a refused compilation this way
        error = str(e)
    compiled = jit.is_jit_compiled(f)
    size = jit.get_compiled_size(f) if compiled else 0
    got = f(2.0)
    want = expected(n, 2.0)
    problems = []
    if not (got == interpreted == want):
        problems.append(f"results differ: {'compiled' if compiled else 'interpreted'} {got!r}, "
                        f"interpreted {interpreted!r}, expected {want!r}")
    verifiable_dump.save(out)
    print(json.dumps({"sites": n, "filler": filler, "compiled": compiled, "compiled_size": size,
                      "over_1_mib": size > ONE_MIB, "jit_error": error, "result": got,
                      "ok": not problems, "problems": problems}))
    sys.exit(1 if problems else 0)


main()
