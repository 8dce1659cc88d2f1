"""Per-iteration exact counts from counted runs (host side of harness/cinderx/count-run).

    count_report.py OUT.json KEY=RUNDIR [KEY=RUNDIR ...]

Each RUNDIR holds one counted run: the guest's meta-<pid>.json (count_guest.py) and counts.json
(`a64call counts RUNDIR --json`). For every phase of the driver process, the marker cost (its
`empty` phase) is subtracted and the rest divided by the phase's iterations, giving per
iteration: instructions in total and by region, call executions in JIT code by kind, stub
executions and stub instructions. Site-test runs (phases `sites-N`) also get far calls
(executions of every far constant-target kind, FAR_CALL_KINDS) per call site, and per added site (see add_per_site).

OUT.json is {KEY: {"job", "mode", "pid", "phases": {NAME: {...}}}}; exit 2 on missing or
inconsistent input.
"""
import glob
import json
import os
import sys

REGIONS = ["jit", "python3.14", "_cinderx.so", "libc", "other"]
# Far calls with a constant target, whatever their sequence (the baseline's stubs, the patch's
# literal pool, and the shapes CinderX does not emit today).
FAR_CALL_KINDS = ["bl->stub", "ldr-literal+blr", "movz/movk+blr", "adrp+blr"]
MARKER_PHASE = "empty"
DECIMALS = 3


def die(msg):
    sys.stderr.write(f"count_report: {msg}\n")
    sys.exit(2)


def load(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        die(f"cannot read {path}: {e}")


def flat(phase):
    """The countable quantities of an a64call counts phase, as one flat dict."""
    out = {"total": phase["total"], "stub_execs": phase["stub_execs"], "stub_insns": phase["stub_insns"]}
    for r in REGIONS:
        out[r] = phase["by_region"][r]
    for kind, c in phase["calls"].items():
        out[f"calls {kind}"] = c["execs"]
    return out


def per_iteration(values, marker, iterations):
    return {k: round((v - marker.get(k, 0)) / iterations, DECIMALS) for k, v in values.items()}


def run_report(rundir):
    metas = glob.glob(os.path.join(rundir, "meta-*.json"))
    if len(metas) != 1:
        die(f"{rundir}: expected one meta-<pid>.json, found {len(metas)}")
    meta = load(metas[0])
    counts = load(os.path.join(rundir, "counts.json"))
    procs = [p for p in counts["processes"] if p["pid"] == meta["pid"]]
    if not procs:
        die(f"{rundir}: no counts for the driver process {meta['pid']}")
    phases = {str(p["phase"]): p for p in procs[0]["phases"]}
    if set(phases) != set(meta["phases"]):
        die(f"{rundir}: counted phases {sorted(phases)} differ from the driver's {sorted(meta['phases'])}")
    by_name = {}
    marker = None
    for number, m in sorted(meta["phases"].items(), key=lambda kv: int(kv[0])):
        if phases[number]["name"] != m["name"]:
            die(f"{rundir}: phase {number} is `{phases[number]['name']}` in the maps, `{m['name']}` in meta")
        values = flat(phases[number])
        if m["name"] == MARKER_PHASE:
            marker = values
            continue
        if marker is None:
            die(f"{rundir}: phase {m['name']} comes before the `{MARKER_PHASE}` phase")
        by_name[m["name"]] = {
            "iterations": m["iterations"],
            "raw": values,
            "per_iteration": per_iteration(values, marker, m["iterations"]),
            "jit_compiled_during_phase": (m["compiled_after"] or 0) - (m["compiled_before"] or 0),
        }
    add_per_site(by_name)
    return {"job": meta["job"], "mode": meta["mode"], "pid": meta["pid"], "marker": marker,
            "jit_enabled": meta.get("jit_enabled"), "phases": by_name}


def far_calls(pi):
    """Far calls with a constant target per iteration, summed over FAR_CALL_KINDS."""
    return sum(pi.get(f"calls {k}", 0) for k in FAR_CALL_KINDS)


def add_per_site(by_name):
    """Per-call-site figures for `sites-N` phases: far calls per iteration divided by N, and, for
    N > 1, far calls and instructions per added site: (value at N - value at N=1) / (N - 1), which
    cancels the function's fixed cost (call, prologue, epilogue)."""
    sites = {int(name.split("-")[1]): p for name, p in by_name.items() if name.startswith("sites-")}
    base = sites.get(1)
    for n, p in sites.items():
        if n < 1:
            continue
        pi = p["per_iteration"]
        p["far_calls_per_site"] = round(far_calls(pi) / n, DECIMALS)
        if base is not None and n > 1:
            b = base["per_iteration"]
            added = (far_calls(pi) - far_calls(b)) / (n - 1)
            p["far_calls_per_added_site"] = round(added, DECIMALS)
            p["insns_per_added_site"] = round((pi["total"] - b["total"]) / (n - 1), DECIMALS)
            p["jit_insns_per_added_site"] = round((pi["jit"] - b["jit"]) / (n - 1), DECIMALS)


SUMMARY_COLUMNS = [("total", "total"), ("jit", "jit"), ("python3.14", "python3.14"),
                   ("_cinderx.so", "_cinderx.so"), ("libc", "libc"), ("other", "other"),
                   ("far calls", far_calls), ("stub insns", "stub_insns")]


def summary(out):
    """A table of the per-iteration figures (stdout)."""
    head = f"{'run':22} {'phase':16}" + "".join(f"{c:>13}" for c, _ in SUMMARY_COLUMNS) + f"{'far/site':>10}{'insns/added site':>18}"
    lines = ["per iteration, marker cost subtracted:", head]
    for key, r in out.items():
        for name, p in r["phases"].items():
            pi = p["per_iteration"]
            row = f"{key:22} {name:16}" + "".join(
                f"{(k(pi) if callable(k) else pi[k]):13.1f}" for _, k in SUMMARY_COLUMNS)
            row += f"{p['far_calls_per_site']:10.3f}" if "far_calls_per_site" in p else f"{'':10}"
            row += f"{p['insns_per_added_site']:18.1f}" if "insns_per_added_site" in p else f"{'':18}"
            if p["jit_compiled_during_phase"]:
                row += f"  ({p['jit_compiled_during_phase']} compiled during the phase)"
            lines.append(row)
    return "\n".join(lines)


def main():
    if len(sys.argv) < 3 or any("=" not in a for a in sys.argv[2:]):
        die(__doc__)
    out = {}
    for arg in sys.argv[2:]:
        key, rundir = arg.split("=", 1)
        out[key] = run_report(rundir)
    with open(sys.argv[1], "w") as f:
        json.dump(out, f, indent=1)
    print(summary(out))


if __name__ == "__main__":
    main()
