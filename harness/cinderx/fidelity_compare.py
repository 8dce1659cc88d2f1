"""Host side of harness/cinderx/fidelity (host python3).

    fidelity_compare.py compare LABEL_A DIR_A LABEL_B DIR_B
    fidelity_compare.py generate LIST_OUT CANDIDATES DESCRIPTION RUN_DIR...

Each DIR holds capture.json (fidelity_guest.py capture) and classify.json (`a64call classify
--json` of its dump). A function's record is: compiled or not, get_compiled_size, and from the
dump its size, stub count, data words and call sequences by kind.

compare: prints every function whose record differs between A and B (or that did not compile in
either), then `N/N equal`; exit 1 on any difference.
generate: writes the function list from candidate runs: a candidate is kept when it compiled in
every run, its record is identical across runs, and its name is unique in each dump. The list
records what was excluded and why."""
import json
import os
import sys


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


def describe(r):
    if not r["compiled"]:
        return f"not compiled ({r['error']})"
    if len(r["dump"]) != 1:
        return f"get_compiled_size {r['compiled_size']}, {len(r['dump'])} entries in the dump"
    d = r["dump"][0]
    calls = ", ".join(f"{v}x {k}" for k, v in sorted(d["calls"].items()))
    return f"{r['compiled_size']} bytes, {d['stubs']} stubs, {d['data_words']} data words, {calls}"


def compare(la, da, lb, db):
    a, b = records(da), records(db)
    names = list(a) + [n for n in b if n not in a]
    diffs = []
    for n in names:
        ra, rb = a.get(n), b.get(n)
        if ra is None or rb is None:
            diffs.append(f"{n}: only captured under {la if rb is None else lb}")
        elif not ra["compiled"] or not rb["compiled"]:
            diffs.append(f"{n}: {la}: {describe(ra)}; {lb}: {describe(rb)} (a listed function must compile in both)")
        elif ra != rb or len(ra["dump"]) != 1:
            diffs.append(f"{n}:\n    {la}: {describe(ra)}\n    {lb}: {describe(rb)}")
    for d in diffs:
        print(f"DIFFERENT {d}")
    equal = len(names) - len(diffs)
    print(f"{equal}/{len(names)} equal ({la} vs {lb}: get_compiled_size and call-sequence classification per function)")
    return 1 if diffs else 0


def generate(list_out, cand_path, description, run_dirs):
    cands = [l.strip() for l in open(cand_path) if l.strip()]
    runs = [records(d) for d in run_dirs]
    keep, why = [], {}
    for n in cands:
        rs = [r.get(n) for r in runs]
        if any(r is None or not r["compiled"] for r in rs):
            why.setdefault("did not compile", []).append(n)
        elif any(len(r["dump"]) != 1 for r in rs):
            why.setdefault("name not unique in the dump", []).append(n)
        elif any(r != rs[0] for r in rs):
            why.setdefault("differs between runs of the same build (depends on addresses or hash seed)", []).append(n)
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
    if a[:1] == ["compare"] and len(a) == 5:
        sys.exit(compare(*a[1:]))
    if a[:1] == ["generate"] and len(a) >= 5:
        sys.exit(generate(a[1], a[2], a[3], a[4:]))
    print(__doc__, file=sys.stderr)
    sys.exit(2)


if __name__ == "__main__":
    main()
