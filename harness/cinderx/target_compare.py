"""Do two builds' JIT functions make their far calls to the same targets? (host Python)

    target_compare.py BASELINE_VERIFY.json CANDIDATE_VERIFY.json [--json OUT]
                      [--same-code | --in-order BASELINE_SHAPE.json CANDIDATE_SHAPE.json]

Both files are `a64call verify --json` reports of dumps of the same Python functions compiled by
two builds (the baseline and the literal-pool patch, or a deliberately broken variant). The patch
changes how a far call is made, never what it calls: so in every function both dumps hold
(matched by name), each target must be called (or branched to) from exactly as many sites in both,
whatever the call sequence: where the baseline's stub holds `.quad T`, the candidate's literal
must hold T. This catches what no shape check can: literals that are aligned,
inside the pool and entries of real functions, but the wrong ones. The comparison is of counts
per target, because two builds may lay out a function's blocks in another order (see
compare_function); with --in-order (or --same-code) and both dumps' shapes, a function whose shape
is the baseline's modulo call sequences (call_normalized: the same blocks in the same order) is
also compared site by site in code order, so there a swap between two targets called from equally
many sites is seen too; the summary says in how many functions.

Targets are compared by the entry `a64call verify` resolved them to (IMAGE:SYMBOL such as
`python3.14:PyFloat_FromDouble`, or a JIT function's name), not by address, since each build has
its own `_cinderx.so`. An entry in `_cinderx.so` named only by its `.eh_frame` FDE address (the
library's internal functions have no symbol) differs between builds by construction; such entries
are compared as "some function in _cinderx.so" and counted. The patch emits literals only for
targets outside `_cinderx.so` (it guesses every call into it near), so every literal is compared
by name. A stub's own `br x16` (`br out`) is left out: the `bl` to the stub already resolves to its
target.

With --same-code BASE_SHAPE CAND_SHAPE (`a64call classify --shape` of the two dumps), each
function must also be the baseline's code (the patch's claim for a function it emits the way of
before the patch, over its size bound): the same shape, and as many call sequences of each kind,
where a `bl` to an absolute target counts as one kind whether asmjit left it direct or relaxed it
to a stub. Both are decided at relocation time by where the code landed (the code allocator's
chunk was 33 to 234 MiB from _cinderx.so over 24 runs), so in the shape a `bl` to a stub is
`bl far` and the stubs are dropped. The size in bytes is not compared: CinderX loads object
addresses with asmjit's load_addr, which reserves 4 bytes for a page-aligned address and 8 for
another, and turns a page-aligned one that is not 64 KiB-aligned into an `ldr` from an 8-byte
address-table entry; which heap addresses are page- or 64 KiB-aligned changes with the heap
layout (another build, even another log file name), and the size with it: the baseline alone
compiled the 3,500-site function to 896,616 and 896,624 bytes in two environments.

Prints one line per differing function and target and a summary; exit 0 when every function
agrees, 1 when one does not, 2 on bad input (a missing or malformed file, or no function in
common)."""
import argparse
import json
import sys
from collections import Counter

STUB_BR = "br out"


class BadInput(Exception):
    pass


def load(path):
    try:
        with open(path) as f:
            functions = json.load(f)["functions"]
    except OSError as e:
        raise BadInput(f"cannot read {path}: {e.strerror}") from e
    except (ValueError, KeyError, TypeError) as e:
        raise BadInput(f"{path}: not an `a64call verify --json` report ({e})") from e
    return {f["name"]: f for f in functions}


def entry(site):
    """What a site calls: its resolved entry, `_cinderx.so:*` for an unnamed one there, `?` for an
    unresolved target, `(register)` for a target set at run time."""
    if site.get("target") is None:
        return "(register)"
    e = site.get("entry")
    if not e:
        return "?"
    _, _, where = e.rpartition(": ")  # "SOURCE: IMAGE:NAME" (src/jitcode/verify/report.rs)
    image, _, name = where.partition(":")
    return "_cinderx.so:*" if image.startswith("_cinderx.") and name.startswith("FDE@") else where


def call_sites(f):
    """A function's call and branch-out sites but a stub's own `br x16` (`br out`): the `bl` to the
    stub carries the stub's target already, and the patch removes the stub."""
    return [s for s in f["sites"] if s["kind"] != STUB_BR]


def compare_function(b, c):
    """[what differs] for one function: each target must be called or branched to from as many sites
    in both builds, whatever the call sequence (a near guess that ended up out of range is a stub in
    one build and a `bl` in the other). Not site by site in code order: CinderX's register
    allocator iterates hash sets keyed by heap addresses, so two builds (each with its own heap)
    may lay out a function's blocks in another order (seen on capture.py's `mixed`: a block with a
    far call moved to the end). So a swap between two targets called from equally many sites of
    one function is not seen."""
    counts = lambda f: Counter(entry(s) for s in call_sites(f))  # noqa: E731
    cb, cc = counts(b), counts(c)
    return [f"{t}: {cc[t]} sites, the baseline {cb[t]}" for t in sorted(set(cb) | set(cc)) if cb[t] != cc[t]]


RELAXED = ("bl direct", "bl->stub")


def call_kinds(f):
    """Call sequences by kind, `bl direct` and `bl->stub` counted together as `bl imm`."""
    kinds = Counter()
    for kind, n in (f.get("calls") or {}).items():
        kinds["bl imm" if kind in RELAXED else kind] += n
    return kinds


def relaxed_shape(tokens):
    """A shape with asmjit's branch stubs taken out: the trailing `const x16; br x16` pairs are
    dropped and a `bl`/`b` to one of them is `bl far`/`b far`, as a direct one is.

    >>> relaxed_shape(["bl @3", "bl far", "ret", "const x16", "br x16"])
    ['bl far', 'bl far', 'ret']
    """
    end = len(tokens)
    while end >= 2 and tokens[end - 2:end] == ["const x16", "br x16"]:
        end -= 2
    out = []
    for t in tokens[:end]:
        op, _, target = t.partition(" @")
        if op in ("bl", "b") and target.isdigit() and int(target) >= end:
            t = f"{op} far"
        out.append(t)
    return out


def same_code(b, c, sb, sc):
    """[what differs] between a function and the baseline's in shape (sb, sc: their
    `a64call classify --shape` tokens) and call sequences by kind, both modulo placement."""
    diffs = []
    kb, kc = call_kinds(b), call_kinds(c)
    if kb != kc:
        diffs.append(f"call sequences {dict(kc)}, the baseline {dict(kb)}")
    if sb is None or sc is None:
        missing = "both shape files" if sb is None and sc is None else \
            "the baseline's shape file" if sb is None else "its shape file"
        diffs.append(f"no shape in {missing}")
        return diffs
    rb, rc = relaxed_shape(sb), relaxed_shape(sc)
    if rb != rc:
        i = next((i for i, (x, y) in enumerate(zip(rb, rc)) if x != y), min(len(rb), len(rc)))
        diffs.append(f"shape differs at token {i}: {rc[i] if i < len(rc) else '(end)'}, the baseline "
                     f"{rb[i] if i < len(rb) else '(end)'} ({len(rc)} tokens, the baseline {len(rb)})")
    return diffs


def call_normalized(tokens):
    """A shape modulo how a far call is made: relaxed_shape's, with every `const x16; blr x16` (a
    pool load and its call) and every `bl far` (direct, or to a stub) one token `call far`, and
    in-function branch targets renumbered to match. Two builds whose functions have equal
    call-normalized shapes laid the code out the same way, so their call sites correspond one to
    one in code order.

    >>> call_normalized(["cbz x0, @4", "const x16", "blr x16", "b @0", "ret"])
    ['cbz x0, @3', 'call far', 'b @0', 'ret']
    >>> call_normalized(["cbz x0, @3", "bl @5", "b @0", "ret", "nop", "const x16", "br x16"])
    ['cbz x0, @3', 'call far', 'b @0', 'ret', 'nop']
    """
    toks = relaxed_shape(tokens)
    out, index, i = [], {}, 0
    while i < len(toks):
        index[i] = len(out)
        if toks[i:i + 2] == ["const x16", "blr x16"]:
            index[i + 1] = len(out)
            out.append("call far")
            i += 2
            continue
        out.append("call far" if toks[i] == "bl far" else toks[i])
        i += 1
    renumbered = []
    for t in out:
        head, sep, target = t.rpartition(" @")
        if sep and target.isdigit():
            t = f"{head} @{index.get(int(target), '?')}"
        renumbered.append(t)
    return renumbered


def in_order(b, c, sb, sc):
    """([what differs], compared site by site?) for one function. When both shapes are known and
    equal modulo call sequences (call_normalized), the k-th call site of one build is the k-th of
    the other, so each must call the same target: a swap between two targets called from equally
    many sites is seen. Otherwise (another block order, or no shape) nothing is compared here and
    compare_function's counts are all there is.

    >>> f = lambda *targets: {"sites": [{"offset": 4 * k, "kind": "bl->stub", "target": 1, "entry": f"elf: {t}"}
    ...                                 for k, t in enumerate(targets)]}
    >>> shape = ["bl far", "bl far", "ret"]
    >>> in_order(f("py:A", "py:B"), f("py:A", "py:B"), shape, shape)
    ([], True)
    >>> in_order(f("py:A", "py:B"), f("py:B", "py:A"), shape, shape)
    (['call site 0 (offset 0x0) calls py:B, the baseline py:A'], True)
    >>> in_order(f("py:A", "py:B"), f("py:B", "py:A"), shape, ["bl far", "ret", "bl far"])
    ([], False)
    """
    if sb is None or sc is None or call_normalized(sb) != call_normalized(sc):
        return [], False
    sites = lambda f: sorted(call_sites(f), key=lambda s: s["offset"])  # noqa: E731
    xb, xc = sites(b), sites(c)
    if len(xb) != len(xc):
        return [f"{len(xc)} call sites in code order, the baseline {len(xb)}"], True
    for k, (sb_, sc_) in enumerate(zip(xb, xc)):
        if entry(sb_) != entry(sc_):
            return [f"call site {k} (offset {sc_['offset']:#x}) calls {entry(sc_)}, the baseline {entry(sb_)}"], True
    return [], True


def load_shapes(path):
    try:
        with open(path) as f:
            return {s["name"]: s["shape"] for s in json.load(f)}
    except OSError as e:
        raise BadInput(f"cannot read {path}: {e.strerror}") from e
    except (ValueError, KeyError, TypeError) as e:
        raise BadInput(f"{path}: not an `a64call classify --shape` report ({e})") from e


def compare(base, cand, shapes=None, same=False):
    common = sorted(set(base) & set(cand))
    if not common:
        raise BadInput("no function is in both reports")
    result = {"functions": len(common), "sites": 0, "by name": 0, "in code order": 0,
              "unnamed _cinderx.so": 0, "differing functions": {}, "only in one": len(set(base) ^ set(cand))}
    for name in common:
        diffs = compare_function(base[name], cand[name])
        if shapes:
            sb, sc = shapes[0].get(name), shapes[1].get(name)
            if same:
                diffs += same_code(base[name], cand[name], sb, sc)
            order_diffs, ordered = in_order(base[name], cand[name], sb, sc)
            diffs += order_diffs
            result["in code order"] += ordered
        sites = call_sites(cand[name])
        result["sites"] += len(sites)
        result["unnamed _cinderx.so"] += sum(1 for s in sites if entry(s) == "_cinderx.so:*")
        result["by name"] += sum(1 for s in sites if entry(s) not in ("_cinderx.so:*", "(register)", "?"))
        if diffs:
            result["differing functions"][name] = diffs
    return result


def order_note(r, shapes):
    """How many functions were also compared call site by call site."""
    if shapes is None:
        return "targets compared by counts, not in code order (no shapes given)"
    return (f"{r['in code order']}/{r['functions']} functions also compared site by site in code order, "
            "the rest by counts only (another block order)")


def main(argv):
    ap = argparse.ArgumentParser(prog="target_compare.py", description="Per function, the candidate "
                                 "calls each target from as many sites as the baseline (exit 2 on bad input).")
    ap.add_argument("baseline", help="a64call verify --json report of the baseline's dumps")
    ap.add_argument("candidate", help="a64call verify --json report of the candidate's dumps")
    ap.add_argument("--json", metavar="OUT", help="also write the result as JSON")
    ap.add_argument("--same-code", nargs=2, metavar=("BASE_SHAPE", "CAND_SHAPE"),
                    help="also require the baseline's code: shapes (a64call classify --shape) and call "
                         "kinds, modulo placement (implies --in-order with these shapes)")
    ap.add_argument("--in-order", nargs=2, metavar=("BASE_SHAPE", "CAND_SHAPE"),
                    help="where a function's shapes are equal modulo call sequences, also compare its "
                         "call sites' targets one by one in code order")
    a = ap.parse_args(argv)
    out = a.json
    if a.same_code and a.in_order:
        raise BadInput("give --same-code or --in-order, not both (--same-code compares in order too)")
    paths = a.same_code or a.in_order
    shapes = (load_shapes(paths[0]), load_shapes(paths[1])) if paths else None
    code = bool(a.same_code)
    r = compare(load(a.baseline), load(a.candidate), shapes, same=code)
    for name, diffs in r["differing functions"].items():
        for d in diffs:
            print(f"DIFFERENT {name} {d}")
    if out:
        with open(out, "w") as f:
            json.dump(r, f, indent=1)
    bad = len(r["differing functions"])
    what = "are the baseline's code and call" if code else "call"
    print(f"target_compare: {r['functions'] - bad}/{r['functions']} functions {what} each target from as many "
          f"sites as the baseline ({r['sites']} sites: {r['by name']} by name, {r['unnamed _cinderx.so']} only as "
          f"unnamed _cinderx.so functions, the rest unresolved or set at run time; {r['only in one']} functions "
          f"in one report only; {order_note(r, shapes)})")
    return 1 if bad else 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except BadInput as e:
        print(f"target_compare.py: {e}", file=sys.stderr)
        sys.exit(2)
