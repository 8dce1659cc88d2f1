"""JIT-versus-interpreter differential for CinderX.

Generates call-heavy Python functions from seeds (calls to builtins, to Python functions and
methods, to C functions and methods, with 0-4 arguments, inside loops, branches and try/except),
defines each function twice from the same source, force-compiles one copy, and runs both on the
same inputs. Return values, exceptions (type and message) and side effects (an event log the
callees append to) must be identical. A divergence writes a standalone repro .py file.

    difftest.py --seeds A:B [--out DIR] [--plant]

--plant deliberately breaks the compiled copy (its `min` returns the maximum) to show the
comparison catches a divergence; a run with --plant must fail.
Prints one JSON line of statistics and exits 1 on any divergence.
"""
import json
import os
import random
import sys

import cinderx
import cinderx.jit as jit

if cinderx.get_import_error() is not None:
    sys.exit(f"cinderx failed to import: {cinderx.get_import_error()}")

PRELUDE = '''
import math
LOG = []

def h0():
    LOG.append("h0")
    return 7

def h1(a):
    LOG.append(("h1", a))
    return a * 3 - 1

def h2(a, b):
    LOG.append(("h2", a, b))
    return a - b if a > b else b - a + 1

def h3(a, b, c=5):
    LOG.append(("h3", a, b, c))
    return (a + b) * c % 1009

def h4(*args):
    LOG.append(("h4", len(args)))
    return sum(args) % 997

class Box:
    def __init__(self, v):
        self.v = v
    def get(self):
        LOG.append(("get", self.v))
        return self.v
    def add(self, a, b=1):
        self.v = (self.v + a * b) % 100003
        LOG.append(("add", self.v))
        return self.v
    @staticmethod
    def twice(a):
        return 2 * a
'''

INT_EXPRS = [
    "h0()", "h1({a})", "h2({a}, {b})", "h3({a}, {b})", "h3({a}, {b}, c={c})", "h4({a}, {b}, {c})",
    "h4()", "box.get()", "box.add({a})", "box.add({a}, b={b})", "Box.twice({a})",
    "abs({a} - {b})", "min({a}, {b})", "max({a}, {b}, {c})", "len(items)", "sum(items)",
    "int(math.sqrt(abs({a})))", "math.floor({a} / 3)", "divmod({a}, 7)[0]", "pow({a} % 13, 2, 1009)",
    "len(str({a}))", "items.count({a} % 5)", "d.get({a} % 4, -1)", "hash(({a}, {b})) % 101",
    "sorted([{a}, {b}, {c}])[1]", "int(isinstance({a}, int))", "len(' '.join([str({a}), str({b})]))",
]
STMTS = [
    "{v} = {e}",
    "items.append({e})",
    "d[{a} % 4] = {e}",
    "LOG.append({e})",
]


def gen_function(seed):
    r = random.Random(seed)
    names = ["a", "b", "c"]
    lines = ["def f(a, b, c):", "    box = Box(a)", "    items = [a, b]", "    d = {}"]

    def expr():
        t = r.choice(INT_EXPRS)
        return t.format(a=r.choice(names), b=r.choice(names), c=r.choice(names))

    def block(indent, depth, n):
        for _ in range(n):
            roll = r.random()
            pad = "    " * indent
            if depth < 2 and roll < 0.15:
                lines.append(f"{pad}for i in range({r.randint(1, 4)}):")
                lines.append(f"{pad}    a = (a + i) % 1000")
                block(indent + 1, depth + 1, r.randint(1, 3))
            elif depth < 2 and roll < 0.3:
                lines.append(f"{pad}if {r.choice(names)} {r.choice(['<', '>', '==', '!='])} {expr()}:")
                block(indent + 1, depth + 1, r.randint(1, 2))
                lines.append(f"{pad}else:")
                block(indent + 1, depth + 1, r.randint(1, 2))
            elif depth < 2 and roll < 0.38:
                lines.append(f"{pad}try:")
                lines.append(f"{pad}    {r.choice(names)} = {expr()} // ({r.choice(names)} - {r.choice(names)})")
                lines.append(f"{pad}except ZeroDivisionError:")
                lines.append(f"{pad}    LOG.append('zde')")
            else:
                s = r.choice(STMTS).format(v=r.choice(names), e=expr(), a=r.choice(names))
                lines.append(pad + s)
            if r.random() < 0.1:
                lines.append(f"{pad}{r.choice(names)} = {r.choice(names)} % 1000 + 1")

    block(1, 0, r.randint(4, 14))
    if r.random() < 0.2:
        lines.append("    raise ValueError((a, b, c))")
    lines.append("    return (a, b, c, items, sorted(d.items()), box.v)")
    return "\n".join(lines) + "\n"


def inputs(seed):
    r = random.Random(seed * 7919 + 1)
    return [(r.randint(-50, 50), r.randint(-50, 50), r.randint(0, 60)) for _ in range(4)] + [(0, 0, 0), (3, 3, 3)]


def run(fn, ns, args):
    ns["LOG"].clear()
    try:
        out = ("ret", repr(fn(*args)))
    except Exception as e:  # exceptions are outcomes to compare
        out = ("exc", type(e).__name__, str(e))
    return out, repr(list(ns["LOG"]))


def fresh(src):
    ns = {"__name__": "difftest"}
    exec(compile(PRELUDE, "difftest", "exec"), ns)
    exec(compile(src, "difftest", "exec"), ns)
    return ns


REPRO = '''# a64call CinderX differential repro (seed {seed}): the force-compiled copy of f disagreed
# with the interpreted copy. Run with the CinderX tier's python: it prints both outcomes.
import cinderx, cinderx.jit as jit
PRELUDE = {prelude!r}
SRC = {src!r}
ARGS = {args!r}

def fresh():
    ns = {{"__name__": "difftest"}}
    exec(PRELUDE, ns)
    exec(SRC, ns)
    return ns

def run(ns):
    ns["LOG"].clear()
    try:
        out = ("ret", repr(ns["f"](*ARGS)))
    except Exception as e:
        out = ("exc", type(e).__name__, str(e))
    return out, list(ns["LOG"])

interp, compiled = fresh(), fresh()
assert jit.force_compile(compiled["f"])
print("interpreted:", run(interp))
print("compiled:   ", run(compiled))
'''


def main():
    argv = sys.argv[1:]
    seeds = "1:20"
    out = "difftest-repros"
    plant = "--plant" in argv
    if "--seeds" in argv:
        seeds = argv[argv.index("--seeds") + 1]
    if "--out" in argv:
        out = argv[argv.index("--out") + 1]
    lo, hi = (int(x) for x in seeds.split(":"))
    stats = {"functions": 0, "runs": 0, "compiled": 0, "divergences": 0, "exceptions": 0, "repros": []}
    for seed in range(lo, hi):
        src = gen_function(seed)
        interp, comp = fresh(src), fresh(src)
        if plant:
            comp["min"] = lambda *a: max(*a)
        if not jit.force_compile(comp["f"]) or not jit.is_jit_compiled(comp["f"]):
            print(f"seed {seed}: force_compile failed", file=sys.stderr)
            stats["divergences"] += 1
            continue
        if jit.is_jit_compiled(interp["f"]):
            sys.exit("the interpreted copy is compiled: the JIT is in an auto or compile-all mode")
        stats["functions"] += 1
        stats["compiled"] += 1
        for args in inputs(seed):
            a, b = run(interp["f"], interp, args), run(comp["f"], comp, args)
            stats["runs"] += 1
            stats["exceptions"] += a[0][0] == "exc"
            if a != b:
                stats["divergences"] += 1
                os.makedirs(out, exist_ok=True)
                path = os.path.join(out, f"divergence-seed{seed}.py")
                with open(path, "w") as fh:
                    fh.write(REPRO.format(seed=seed, prelude=PRELUDE, src=src, args=args))
                stats["repros"].append(path)
                print(f"DIVERGENCE seed {seed} args {args}:\n  interpreted {a}\n  compiled    {b}\n  repro {path}", file=sys.stderr)
                break
    print(json.dumps(stats))
    sys.exit(1 if stats["divergences"] else 0)


if __name__ == "__main__":
    main()
