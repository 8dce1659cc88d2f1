"""Code dump for `a64call verify`: force-compiles a few call-heavy functions (math.sqrt call sites,
a method mix, and any `module:qualname` given after the output path) and writes, beside OUT:
  OUT          every compiled function's code (_cinderx.dump_elf)
  OUT.maps     this process's /proc/self/maps (where every mapped file and JIT buffer is)
  OUT.perfmap  CinderX's perf map (/tmp/perf-PID.map): each function's real address, which the
               dump does not keep (it packs functions from 0x1000), and CinderX's own JIT code

Usage: capture.py OUT.elf [--no-run] [module:qualname ...]
--no-run: compile and dump only, never call compiled code (for deliberately broken builds)
Then:  a64call verify OUT.elf --maps OUT.elf.maps --perf-map OUT.elf.perfmap"""
import importlib
import math
import sys
import types

import verifiable_dump  # before cinderx: turns on the perf map
import cinderx
import cinderx.jit as jit

if cinderx.get_import_error() is not None:
    sys.exit(f"cinderx failed to import: {cinderx.get_import_error()}")


def sqrt_sites(x):
    for _ in range(3):
        x = math.sqrt(x) + 1.0
        x = math.sqrt(x) + 2.0
    return x


class Point:
    def __init__(self, x, y):
        self.x, self.y = x, y

    def add(self, other):
        return Point(self.x + other.x, self.y + other.y)

    def norm(self):
        return math.hypot(self.x, self.y)


def mixed(n):
    acc = []
    d = {}
    p = Point(0, 0)
    for i in range(n):
        p = p.add(Point(i, -i))
        acc.append(str(i))
        d[i % 7] = d.get(i % 7, 0) + len(acc)
        try:
            if i == n - 1:
                raise ValueError(i)
        except ValueError as e:
            acc.append(repr(e))
    return p.norm(), sorted(d.items()), "".join(acc)[:10]


def resolve(spec):
    mod, _, qual = spec.partition(":")
    obj = importlib.import_module(mod)
    for part in qual.split("."):
        obj = getattr(obj, part)
    return obj


no_run = "--no-run" in sys.argv[2:]
specs = [a for a in sys.argv[2:] if a != "--no-run"]
funcs = [sqrt_sites, mixed, Point.__init__, Point.add, Point.norm]
for spec in specs:
    f = resolve(spec)
    if not isinstance(f, types.FunctionType):
        sys.exit(f"{spec} is not a Python function ({type(f).__name__})")
    funcs.append(f)
for f in funcs:
    if not jit.force_compile(f) or not jit.is_jit_compiled(f):
        sys.exit(f"{f.__qualname__} did not compile")
if not no_run:
    assert sqrt_sites(2.0) == sqrt_sites(2.0)
    assert mixed(20) == mixed(20)
out = sys.argv[1]
verifiable_dump.save(out)
print(f"wrote {out}, {out}.maps and {out}.perfmap ({len(funcs)} functions forced)")
