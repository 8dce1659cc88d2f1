"""Does the patched JIT's code have the shape a64call's `pool+bl` strategy models? (host Python)

    model_check.py VERIFY.json... [--json OUT]

Each VERIFY.json is `a64call verify --json` of a CinderX code dump of the patched build. The model
(src/emit/strategy/pool_bl.rs, README "Strategies"): a call whose target is guessed far (outside
_cinderx.so, where the patch's 96 MiB rule puts every target a dump can resolve) is `ldr x16,
<literal>; blr x16`, and one guessed near that `bl` cannot reach is a stub; the literals form one pool per function, one 8-byte entry per
distinct target in first-use order, 8-byte aligned, right after the function's code (at most one
4-byte padding word between), contiguous, no islands; a function whose code and pool are not under
1 MiB keeps CinderX 2026.11's stubs. A function is judged by its form:

  pool form   it makes at least one `ldr-literal+blr` call. Checked: P1 every such call comes
              before its pool and the pool lies in one run of words no path reaches, starting at
              most 4 bytes after the code before it; P2 every literal 8-byte aligned (absolute
              address); P3 one literal per target and one target per literal; P4 the literals are
              contiguous 8-byte entries; P5 in first-use order; P6 (placed functions) every call
              whose target `bl` cannot reach is a pool call, except a `bl` to a stub whose target
              is in `_cinderx.so` (the patch guesses those near; counted, listed). P7 (placed)
              is a note, not a failure: a pool call whose target `bl` could reach (the model
              would emit `bl`; the patch guessed far) is counted and listed.
  stub form   no pool call, at least one `bl->stub`: the fallback (the patch falls back when an
              upper bound of the size is not under 1 MiB; the model from the exact size). S1: a
              stub-form function under 512 KiB with a far stub call to a target outside
              `_cinderx.so` is broken: the patch's bound was 1.2-1.3 times the size where
              measured (harness/cinderx/bigfunc.py), so a fallback there would mean a bound over
              twice the size, or a far call the patch missed. Larger ones are listed with their
              size (the big-function step checks the fallback itself, from the JIT's log).
  no far call neither.

P6, P7 and S1 need a placed function and a resolved target: constant-target call sites without
either are counted in the summary as not judged, never passed silently (calls through a register
loaded from memory have no constant target and are not far calls here). Prints one line per broken rule, per note and
per stub-form function, and a summary; exit 0 when every pool-form function keeps P1-P6 (apart
from the listed near guesses) and no stub-form function breaks S1, 1 otherwise, 2 on bad input (a
file that is not `a64call verify --json` output, or a report missing a field, is named)."""
import argparse
import json
import sys

BL_REACH = 1 << 27  # ±128 MiB
SMALL = 512 << 10  # S1: a stub-form function under this size must not call a far target through a stub
CALL_KINDS = {"bl direct", "bl->stub", "bl local", "ldr-literal+blr", "adrp+ldr-literal+blr", "movz/movk+blr",
              "adrp+blr", "ldr [mem]+blr", "blr other"}
POOL, STUB = "ldr-literal+blr", "bl->stub"
# Calls with a constant target other than the pool's (src/jitcode/classify.rs CallKind names).
OTHER_CONSTANT_CALLS = {"bl direct", STUB, "adrp+ldr-literal+blr", "movz/movk+blr", "adrp+blr"}


class BadInput(Exception):
    pass


def load(path):
    try:
        with open(path) as f:
            data = json.load(f)
        return data["functions"]
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise BadInput(f"{path}: not a64call verify --json output ({e})") from e


def far(f, s):
    """Whether a site's resolved target is beyond `bl` reach from it; None when unplaced or unresolved."""
    if f.get("addr") is None or s.get("target") is None:
        return None
    return abs(s["target"] - (f["addr"] + s["offset"])) >= BL_REACH


def pool_rules(f):
    """Broken rules of a pool-form function: [(rule, message)], and its listed exceptions."""
    broken, notes = [], []
    calls = [s for s in f["sites"] if s["kind"] == POOL]
    lits = sorted({s["literal"] for s in calls if s.get("literal") is not None})
    if len(lits) != len({s["literal"] for s in calls}) or not lits:
        return [("P1", "a pool call without a literal offset")], notes
    run = [r for r in f["data"] if r[0] <= lits[0] < r[1]]
    if not run or lits[-1] + 8 > run[0][1]:
        broken.append(("P1", f"the literals {lits[0]}..{lits[-1] + 8} are not in one run of unreached words"))
    elif lits[0] - run[0][0] > 4:
        broken.append(("P1", f"the pool starts {lits[0] - run[0][0]} bytes after the code before it"))
    if any(s["offset"] >= lits[0] for s in f["sites"] if s["kind"] in CALL_KINDS):
        broken.append(("P1", "a call site lies after the pool"))
    base = f["addr"] if f.get("addr") is not None else f["dump_addr"]
    if any((base + x) % 8 for x in lits):
        broken.append(("P2", f"a literal is not 8-byte aligned ({[x for x in lits if (base + x) % 8][:3]})"))
    by_target, by_lit = {}, {}
    for s in calls:
        by_target.setdefault(s["target"], set()).add(s["literal"])
        by_lit.setdefault(s["literal"], set()).add(s["target"])
    if any(len(v) > 1 for v in by_target.values()) or any(len(v) > 1 for v in by_lit.values()):
        broken.append(("P3", "not one literal per target and one target per literal"))
    if lits != list(range(lits[0], lits[0] + 8 * len(lits), 8)):
        broken.append(("P4", f"the {len(lits)} literals are not contiguous 8-byte entries"))
    first_use = sorted(calls, key=lambda s: s["offset"])
    order = list(dict.fromkeys(s["literal"] for s in first_use))
    if order != sorted(order):
        broken.append(("P5", "the literals are not in first-use order"))
    for s in f["sites"]:
        is_far = far(f, s)
        if is_far and s["kind"] == STUB and "_cinderx." in (s.get("entry") or ""):
            notes.append(f"near guess relaxed to a stub at +{s['offset']:#x} ({s['entry']})")
        elif is_far and s["kind"] in OTHER_CONSTANT_CALLS:
            broken.append(("P6", f"a far call at +{s['offset']:#x} is `{s['kind']}`, not a pool call"))
        elif is_far is False and s["kind"] == POOL:
            notes.append(f"far guess within bl range at +{s['offset']:#x} ({s.get('entry')})")
    return broken, notes


def main(argv):
    ap = argparse.ArgumentParser(prog="model_check.py", description="Every far call in the patched dumps "
                                 "has the shape of a64call's pool+bl strategy (exit 2 on bad input).")
    ap.add_argument("reports", nargs="+", metavar="VERIFY.json", help="a64call verify --json reports")
    ap.add_argument("--json", metavar="OUT", help="also write the summary as JSON")
    a = ap.parse_args(argv)
    out, paths = a.json, a.reports
    summary = {"pool form": 0, "pool form, as modelled": 0, "stub form": 0, "no far call": 0,
               "near guesses relaxed to stubs": 0, "far guesses within bl range": 0, "sites not judged": 0,
               "broken": []}
    for path in paths:
        for f in load(path):
            try:
                judge(path, f, summary)
            except (KeyError, TypeError, ValueError, AttributeError) as e:
                name = f.get("name", "?") if isinstance(f, dict) else repr(f)
                raise BadInput(f"{path}: function {name}: missing or malformed field ({e!r})") from e
    return report(summary, out)


def judge(path, f, summary):
    """Judge one function by its form, adding to `summary` and printing what it finds."""
    kinds = {x["kind"] for x in f["sites"]}
    summary["sites not judged"] += sum(1 for x in f["sites"] if x["kind"] in OTHER_CONSTANT_CALLS | {POOL}
                                       and far(f, x) is None)
    if POOL in kinds:
        summary["pool form"] += 1
        broken, notes = pool_rules(f)
        summary["near guesses relaxed to stubs"] += sum("near guess" in n for n in notes)
        summary["far guesses within bl range"] += sum("far guess" in n for n in notes)
        for n in notes:
            print(f"note     {f['name']}: {n}")
        broken = [f"{r}: {m}" for r, m in broken]
        if not broken:
            summary["pool form, as modelled"] += 1
    elif STUB in kinds:
        summary["stub form"] += 1
        broken = stub_rules(f)
        if not broken:
            print(f"stubs    {f['name']}: {f['size']:,} bytes, calls through stubs (the fallback)")
    else:
        summary["no far call"] += 1
        broken = []
    for why in broken:
        summary["broken"].append(f"{path}: {f['name']}: {why}")
        print(f"BROKEN   {f['name']}: {why}")


def stub_rules(f):
    """S1 for a stub-form function: [why] when broken."""
    far_stubs = [x for x in f["sites"] if x["kind"] == STUB and far(f, x)
                 and "_cinderx." not in (x.get("entry") or "")]
    if not far_stubs or f["size"] >= SMALL:
        return []
    return [f"S1: {len(far_stubs)} far calls through stubs in a function of {f['size']:,} bytes, under "
            f"{SMALL >> 10} KiB (first at +{far_stubs[0]['offset']:#x})"]


def report(summary, out):
    s = summary
    print(f"model_check: {s['pool form, as modelled']}/{s['pool form']} pool-form functions as modelled "
          f"(P1-P7), {s['stub form']} in stub form, {s['no far call']} without a far call; "
          f"{s['near guesses relaxed to stubs']} near guesses relaxed to stubs, "
          f"{s['far guesses within bl range']} far guesses within bl range; {s['sites not judged']} call sites "
          "with a constant target not judged for P6/P7/S1 (function not placed or target unresolved)")
    if out:
        with open(out, "w") as fh:
            json.dump(summary, fh, indent=1)
    return 1 if s["broken"] else 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except BadInput as e:
        print(f"model_check.py: {e}", file=sys.stderr)
        sys.exit(2)
