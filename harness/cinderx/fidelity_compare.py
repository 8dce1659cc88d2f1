"""Host side of harness/cinderx/fidelity (host python3).

    fidelity_compare.py compare LABEL_A LABEL_B DIR_B [DIR_B...] -- DIR_A...
    fidelity_compare.py generate LIST_OUT CANDIDATES DESCRIPTION RUN_DIR...

Each DIR holds capture.json (fidelity_guest.py capture), classify.json (`a64call classify
--json` of its dump) and shape.json (`a64call classify --shape`). A function's record is:
compiled or not, get_compiled_size, and from the dump its size, stub count, data words and call
sequences by kind; its shape is its instruction stream with constant values taken out
(src/jitcode/shape/mod.rs: every materialisation of a constant into a register, movz/movn/movk runs, pool
loads, adr/adrp(+add), is one token `const R`; data words are dropped; in-function branch
targets are token indices, others `far`; everything else is capstone's text).

compare: the reference A was captured once per heap layout (DIR_A..., the first the plain fixed
run), the candidate B once per heap layout too (DIR_B..., the first its plain fixed run, judged
first; the others are consulted only when that run's shape is one A never produced). CinderX's LIR backend iterates hash sets keyed by heap pointers
(block sorter, register allocator), so the reference itself emits another register choice, move
order or block order for some functions when the heap layout changes, and another build (another
_cinderx.so) necessarily lays out the heap differently. The set of shapes A produced over the
layouts is therefore the reference; each function of B is
  exact              same record (size, stubs, data words, call-sequence counts) and shape as
                     A's first (fixed) run;
  modulo constants   same shape as A's first run, and the constant values both sides know
                     (movz/movk runs, pool literals) form a consistent one-to-one renaming;
  other layout       the shape (modulo constants, as above) of A's run under another heap
                     layout, printed with in how many of the n layouts A produced it;
  shared layout      B's fixed run gave a shape A never produced, but B under one of its other
                     heap layouts gave a shape A produced under some layout: both builds emit a
                     common shape, so the code generator did the same (its layout-dependent
                     choices fell differently in the two fixed runs);
  not judgeable      shapes A never produced (in any of B's layouts), for a function whose shapes A did not cover: A
                     itself produced more than n/2 distinct shapes in the n layouts, so a shape
                     missing from them says nothing about B (printed with its first difference);
                     or one fixed run folded a 4 KiB-aligned address inside its brk heap into an
                     add/sub/cmp immediate and the other did not (capture.json "brk_heap";
                     folding_differs says why that makes the code depend on one address);
  DIFFERENT          anything else (not compiled, not exactly once in a dump, or a shape A never
                     produced although A's shapes repeat: printed with its first differing
                     instruction against A's first run and how many distinct shapes A produced).
It prints one line per function, the counts, and `N/J equal` over the J judgeable functions
(those not "not judgeable"), and exits 1 on any DIFFERENT (or when A did not compile a listed
function in every layout).
Constants are excluded because compiled code embeds addresses of objects and functions in
_cinderx.so and the heap; another build lays these out differently, and the value decides how
many movz/movk materialise it, whether it goes to the constant pool and whether adr or adrp+add
reaches it, so sizes and pool words differ although the code generator did the same.
Doctests: python3 -m doctest harness/cinderx/fidelity_compare.py (harness/cinderx/fidelity runs
them first).
generate: writes the function list from candidate runs: a candidate is kept when it compiled in
every run, its record and its shape are identical across runs, and its name is unique in each
dump. The list records what was excluded and why."""
import json
import os
import re
import sys

# The fewest judgeable functions that count as a fidelity proof (issue: at least 150).
MIN_JUDGED = 150


def records(d):
    cap = json.load(open(os.path.join(d, "capture.json")))["functions"]
    dumped = {}
    for f in json.load(open(os.path.join(d, "classify.json"))):
        dumped.setdefault(f["name"], []).append(
            {"size": f["size"], "stubs": f["stubs"], "data_words": f.get("data_words"), "calls": f["calls"]})
    out = {}
    for name, r in cap.items():
        out[name] = {"compiled": r["compiled"], "compiled_size": r["size"], "error": r["error"],
                     "dump": dumped.get(name, [])}
    return out


def shapes(d):
    """name -> list of (shape, values) per dump entry, from DIR/shape.json."""
    out = {}
    for f in json.load(open(os.path.join(d, "shape.json"))):
        out.setdefault(f["name"], []).append((f["shape"], f["values"]))
    return out


def first_difference(sa, sb):
    """Index of the first differing token of two shapes, or None.

    >>> first_difference(["const x0", "b.eq @3", "ret"], ["const x0", "b.ne @3", "ret"])
    1
    >>> first_difference(["const x0", "ret"], ["const x0", "ret"]) is None
    True
    >>> first_difference(["bl far", "ret"], ["bl far"])
    1
    """
    for k in range(max(len(sa), len(sb))):
        if k >= len(sa) or k >= len(sb) or sa[k] != sb[k]:
            return k
    return None


def renaming_conflict(va, vb):
    """Index where the constant values known on both sides stop being a consistent one-to-one
    renaming (a value of A standing for two values of B, or the other way round), or None.

    >>> renaming_conflict(["0x5", "0x5", "0x6", None], ["0x7", "0x7", "0x8", "0x9"]) is None
    True
    >>> renaming_conflict(["0x5", "0x5", "0x6"], ["0x7", "0x8", "0x8"])
    1
    >>> renaming_conflict(["0x5", "0x6"], ["0x7", "0x7"])
    1
    """
    ab, ba = {}, {}
    for k, (x, y) in enumerate(zip(va, vb)):
        if x is None or y is None:
            continue
        if ab.setdefault(x, y) != y or ba.setdefault(y, x) != x:
            return k
    return None


def context(s, k, n=2):
    """Tokens around index k, the one at k marked.

    >>> context(["a", "b", "c", "d"], 1, 1)
    'a; >>b<<; c'
    >>> context(["a"], 1, 1)
    'a; >>(end)<<'
    """
    lo, hi = max(0, k - n), min(len(s), k + n + 1)
    return "; ".join([*s[lo:k], f">>{s[k] if k < len(s) else '(end)'}<<", *s[k + 1:hi]])


def modulo_constants(sa, sb):
    """(equal, why) for two functions' shape entries (lists of (shape, values) per dump entry)."""
    if len(sa) != 1 or len(sb) != 1:
        return False, f"{len(sa)} and {len(sb)} entries in the dumps"
    (ta, va), (tb, vb) = sa[0], sb[0]
    k = first_difference(ta, tb)
    if k is not None:
        # A moved block first shows as a branch whose target index differs: point at the first
        # instruction that differs other than in a target index, when there is one.
        untarget = [lambda s: [re.sub(r"@\d+", "@", t) for t in s]][0]
        k2 = first_difference(untarget(ta), untarget(tb))
        note = "" if k2 is None or k2 == k else f" (a branch target index differs first, at {k})"
        return False, (f"instruction {k if k2 is None else k2} of {len(ta)}/{len(tb)} (constants and data "
                       f"excluded) differs{note}:\n"
                       f"      A: {context(ta, k if k2 is None else k2)}\n      B: {context(tb, k if k2 is None else k2)}")
    k = renaming_conflict(va, vb)
    if k is not None:
        return False, (f"same instructions, but constant {k} ({ta[k]}: {va[k]} vs {vb[k]}) breaks the "
                       f"one-to-one renaming of the other constants")
    return True, None


def describe(r):
    if not r["compiled"]:
        return f"not compiled ({r['error']})"
    if len(r["dump"]) != 1:
        return f"get_compiled_size {r['compiled_size']}, {len(r['dump'])} entries in the dump"
    d = r["dump"][0]
    calls = ", ".join(f"{v}x {k}" for k, v in sorted(d["calls"].items()))
    return f"{r['compiled_size']} bytes, {d['stubs']} stubs, {d['data_words']} data words, {calls}"


def judge(ref, cand):
    """Judge a candidate's shape entries `cand` against the reference's entries per layout `ref`
    (ref[0] the fixed run). Returns (verdict, layouts, why): verdict `same` (equal modulo
    constants to ref[0]), `other layout` (equal modulo constants to the reference under the
    layouts listed, not ref[0]) or `DIFFERENT` (why says how, against ref[0]).

    >>> fixed = [(["cmp x0, #1", "b.eq @4", "bl far", "mov x19, x0", "ret"], [None] * 5)]
    >>> moved = [(["cmp x0, #1", "b.eq @4", "bl far", "mov x20, x0", "ret"], [None] * 5)]
    >>> ref = [fixed, moved, fixed]
    >>> judge(ref, fixed)[:2]
    ('same', [0, 2])
    >>> judge(ref, moved)[:2]
    ('other layout', [1])

    A flipped branch condition or a missing call is a shape the reference never produced:

    >>> flipped = [(["cmp x0, #1", "b.ne @4", "bl far", "mov x19, x0", "ret"], [None] * 5)]
    >>> v, ls, why = judge(ref, flipped); v, ls
    ('DIFFERENT', [])
    >>> print(why)
    instruction 1 of 5/5 (constants and data excluded) differs:
          A: cmp x0, #1; >>b.eq @4<<; bl far; mov x19, x0
          B: cmp x0, #1; >>b.ne @4<<; bl far; mov x19, x0
    >>> judge(ref, [(["cmp x0, #1", "b.eq @3", "mov x19, x0", "ret"], [None] * 4)])[:2]
    ('DIFFERENT', [])
    """
    ok = [i for i, r in enumerate(ref) if modulo_constants(r, cand)[0]]
    if ok and ok[0] == 0:
        return "same", ok, None
    if ok:
        return "other layout", ok, None
    return "DIFFERENT", [], modulo_constants(ref[0], cand)[1]


def overlap(ref, cand_shapes):
    """The first candidate layout (index into cand_shapes, which are the candidate's shapes under
    its extra layouts) whose shape the reference produced under some layout, with those reference
    layouts; (None, []) when none.

    >>> a0 = [(["mov x19, x0", "ret"], [None] * 2)]
    >>> a1 = [(["mov x20, x0", "ret"], [None] * 2)]
    >>> overlap([a0, a0], [a1, a0])
    (1, [0, 1])
    >>> overlap([a0], [a1])
    (None, [])
    """
    for j, c in enumerate(cand_shapes):
        ok = [i for i, r in enumerate(ref) if modulo_constants(r, c)[0]]
        if ok:
            return j, ok
    return None, []


def brk_heap(d):
    """The guest's brk heap [start, end) recorded in DIR/capture.json, or None."""
    return json.load(open(os.path.join(d, "capture.json"))).get("brk_heap")


def folded_heap_addresses(entries, heap):
    """Values of a shape's folded constants (`OP ..., #const`, S4 of src/jitcode/shape) that are
    4 KiB-aligned addresses inside `heap`: objects whose address happened to fit an add/sub
    immediate (12 bits shifted by 12).

    >>> e = [(["cmp x27, #const", "add x0, x1, #const", "cmp x1, #const"], ["0xde5000", "0x1000", "0xde5620"])]
    >>> [hex(v) for v in folded_heap_addresses(e, [0xb9a000, 0xe00000])]
    ['0xde5000']
    >>> folded_heap_addresses(e, None)
    []
    """
    if not heap:
        return []
    out = []
    for shape, values in entries:
        for t, v in zip(shape, values):
            v = int(v, 16) if v else None
            if t.endswith(", #const") and v is not None and v % 4096 == 0 and heap[0] <= v < heap[1]:
                out.append(v)
    return out


def folding_differs(la, lb, ref0, heap_a, cand, heap_b):
    """Why a function is not judgeable when one build folded a heap address into an immediate and
    the other did not (None otherwise). CinderX's LIR keeps an object whose address fits an
    add/sub immediate as an immediate at every use (lir/block_builder.cpp usesImmediateInput):
    compares fold it, and a use as an argument is built with movz instead of copied from the
    register the guard checked. So the code depends on that one address, which no heap layout
    of the other build need reproduce.

    >>> b = [(["cmp x27, #const", "ret"], ["0xde5000", None])]
    >>> a = [(["cmp x27, #const", "ret"], ["0xde5620", None])]
    >>> print(folding_differs("official", "baseline", a, [0xb9a000, 0xe00000], b, [0xb9a000, 0xe00000]))
    baseline folded the heap address 0xde5000 into an immediate, official folded none: CinderX then uses that object as an immediate everywhere (lir/block_builder.cpp usesImmediateInput), so the code depends on the address
    >>> folding_differs("official", "baseline", b, [0xb9a000, 0xe00000], b, [0xb9a000, 0xe00000]) is None
    True
    """
    fa, fb = folded_heap_addresses(ref0, heap_a), folded_heap_addresses(cand, heap_b)
    if len(fa) == len(fb):
        return None
    name = lambda f: ", ".join(hex(v) for v in f) or "none"  # noqa: E731
    many = lambda f: "es" if len(f) > 1 else ""  # noqa: E731
    return (f"{lb} folded the heap address{many(fb)} {name(fb)} into an immediate, {la} folded {name(fa)}: "
            "CinderX then uses that object as an immediate everywhere (lir/block_builder.cpp usesImmediateInput), "
            "so the code depends on the address")


def layout_label(d):
    """The heap layout a capture directory was run under (its layout.txt), else its name."""
    path = os.path.join(d, "layout.txt")
    return open(path).read().strip() if os.path.exists(path) else os.path.basename(d)


def compare(la, lb, dbs, das):
    db = dbs[0]
    shb_extra = [shapes(d) for d in dbs[1:]]
    b_layouts = [layout_label(d) for d in dbs[1:]]
    n_bshared = 0
    layouts = [layout_label(d) for d in das]
    ra_all = [records(d) for d in das]
    sh_all = [shapes(d) for d in das]
    a, b, shb = ra_all[0], records(db), shapes(db)
    heap_a, heap_b = brk_heap(das[0]), brk_heap(db)
    n = len(das)
    names = list(a) + [x for x in b if x not in a]
    lines, diffs, unjudged, n_exact, n_mod, n_other, n_var = [], [], [], 0, 0, 0, 0
    for name in names:
        ras, rb = [r.get(name) for r in ra_all], b.get(name)
        if any(r is None for r in ras) or rb is None:
            diffs.append(f"{name}: only captured under {la if rb is None else lb}")
            continue
        if not all(r["compiled"] for r in ras) or not rb["compiled"]:
            bad = [i for i, r in enumerate(ras) if not r["compiled"]]
            diffs.append(f"{name}: {la}: {describe(ras[bad[0]] if bad else ras[0])}"
                         f"{f' (layouts {bad})' if bad else ''}; {lb}: {describe(rb)} "
                         f"(a listed function must compile in both, in every layout)")
            continue
        ref = [s.get(name, []) for s in sh_all]
        distinct = len({tuple(tuple(t) for t, _ in r) for r in ref})
        n_var += distinct > 1
        verdict, ok, why = judge(ref, shb.get(name, []))
        if verdict == "same":
            exact = ras[0] == rb and len(rb["dump"]) == 1
            n_exact += exact
            n_mod += not exact
            if exact:
                lines.append(f"exact             {name}")
            else:
                lines.append(f"modulo constants  {name}: {la} {describe(ras[0])}; {lb} {describe(rb)}")
        elif verdict == "other layout":
            n_other += 1
            lines.append(f"other layout      {name}: a shape the reference produced under another heap layout "
                         f"({len(ok)} of {n} layouts: {'; '.join(layouts[i] for i in ok)}; "
                         f"{distinct} distinct shapes in all)")
        elif (shared := overlap(ref, [x.get(name, []) for x in shb_extra]))[0] is not None:
            j, ok = shared
            n_bshared += 1
            lines.append(f"shared layout     {name}: {lb}'s fixed run gave a shape {la} never produced, but {lb} "
                         f"under another heap layout ({b_layouts[j]}) gave one {la} produced "
                         f"({len(ok)} of {n} layouts: {'; '.join(layouts[i] for i in ok)})")
        elif (fold := folding_differs(la, lb, ref[0], heap_a, shb.get(name, []), heap_b)):
            unjudged.append(f"{name}: {fold}; against {la}'s fixed run: {why}")
        elif distinct > n / 2:
            unjudged.append(f"{name}: a shape {la} did not produce, but {la} itself produced {distinct} "
                            f"distinct shapes in {n} heap layouts; against its fixed run: {why}")
        else:
            diffs.append(f"{name}: a shape {la} did not produce in any of {n} heap layouts "
                         f"({distinct} distinct shapes there); against its fixed run:\n"
                         f"    {la}: {describe(ras[0])}\n    {lb}: {describe(rb)}\n    {why}")
    for line in lines:
        print(line)
    for u in unjudged:
        print(f"not judgeable     {u}")
    for d in diffs:
        print(f"DIFFERENT         {d}")
    total = len(names)
    judged = total - len(unjudged)
    print(f"reference {la}: {n} heap layouts ({'; '.join(layouts)}); {n_var}/{total} functions have more "
          f"than one shape across them")
    print(f"{n_exact} exact (get_compiled_size, dumped size, stubs, data words, call-sequence counts and "
          f"instructions as {la}'s fixed run), {n_mod} modulo constants (the same instructions, embedded "
          f"constant values excluded: see --help), {n_other} a shape {la} produced under another heap layout, "
          f"{n_bshared} a shape both produced only under other heap layouts ({lb}: {len(dbs)} layouts), "
          f"{len(unjudged)} not judgeable, {len(diffs)} DIFFERENT")
    print(f"{n_exact + n_mod + n_other + n_bshared}/{judged} equal ({lb} vs {la}: judgeable functions whose shape, modulo "
          f"constants, {la} also produced; {len(unjudged)} of {total} not judgeable)")
    if judged < MIN_JUDGED:
        print(f"fidelity: only {judged} judgeable functions, fewer than {MIN_JUDGED}: too few to show the builds "
              "generate the same code (is the function list or a capture incomplete?)")
        return 1
    return 1 if diffs else 0


def generate(list_out, cand_path, description, run_dirs):
    cands = [l.strip() for l in open(cand_path) if l.strip()]
    runs = [records(d) for d in run_dirs]
    shs = [shapes(d) for d in run_dirs]
    keep, why = [], {}
    for n in cands:
        rs = [r.get(n) for r in runs]
        if any(r is None or not r["compiled"] for r in rs):
            why.setdefault("did not compile", []).append(n)
        elif any(len(r["dump"]) != 1 for r in rs):
            why.setdefault("name not unique in the dump", []).append(n)
        elif any(r != rs[0] for r in rs):
            why.setdefault("differs between runs of the same build (depends on addresses or hash seed)", []).append(n)
        elif any(s.get(n) is None or [t for t, _ in s[n]] != [t for t, _ in shs[0][n]] for s in shs):
            why.setdefault("instructions differ between runs of the same build (code generation depends on "
                           "addresses or hash seed)", []).append(n)
        else:
            keep.append(n)
    with open(list_out, "w") as f:
        f.write("# Functions harness/cinderx/fidelity force-compiles under each build (in this order, then the\n"
                "# size-test functions sqrt_sites_N of harness/cinderx/sizes.py). Fixed and committed; regenerate\n"
                "# only on purpose with `harness/cinderx/fidelity --generate` (it rewrites this file).\n")
        f.write(f"# Generated from {len(cands)} candidates ({description}), {len(run_dirs)} runs ({', '.join(os.path.basename(d) for d in run_dirs)}); kept {len(keep)}.\n")
        for reason, names in sorted(why.items()):
            f.write(f"# excluded, {reason}: {len(names)}: {' '.join(names)}\n")
        f.write("\n".join(keep) + "\n")
    print(f"fidelity: wrote {list_out}: {len(keep)} functions of {len(cands)} candidates"
          + "".join(f"; {len(v)} excluded ({k})" for k, v in sorted(why.items())))
    return 0


def main():
    a = sys.argv[1:]
    if a[:1] == ["compare"] and "--" in a and len(a) >= 6:
        k = a.index("--")
        if k >= 4 and k + 1 < len(a):
            sys.exit(compare(a[1], a[2], a[3:k], a[k + 1:]))
    if a[:1] == ["generate"] and len(a) >= 5:
        sys.exit(generate(a[1], a[2], a[3], a[4:]))
    print(__doc__, file=sys.stderr)
    sys.exit(2)


if __name__ == "__main__":
    main()
