"""Code verification for findings.md (used by report.py), read from BUILD_OUT_DIR/verify/verify.json
(`a64call verify --json`, src/jitcode/verify/report.rs:
{"dump", "functions": [{"name", "size", "calls", "sites": [{"kind", "target", "entry"}],
"violations", "allowed", ...}], "notes", "totals": {"functions", "placed", "calls", "branches",
"resolved", "violations", "allowed"}}) and verify/exit (its exit status: 0 clean, 1 violations,
2 bad input)."""
import os
from report_io import shown_path  # beside this file


def load_verify(out, tag, problems, load):
    d = os.path.join(out, "verify")
    if not os.path.isdir(d):
        return None
    v = {"dir": d, "report": None, "exit": None}
    path = os.path.join(d, "verify.json")
    if os.path.exists(path):
        v["report"] = load(path, problems, None)
    else:
        problems.append(f"{tag} verify: {path} missing")
    try:
        with open(os.path.join(d, "exit")) as f:
            v["exit"] = int(f.read().strip())
    except (OSError, ValueError) as e:
        problems.append(f"{tag} verify: no exit status recorded ({e})")
    r = v["report"] or {}
    t = r.get("totals", {})
    bad = sum(t.get("violations", {}).values())
    if v["exit"] not in (None, 0):
        problems.append(f"{tag} verify: a64call verify exited {v['exit']}"
                        + (f" ({bad} violations: {fmt_map(t.get('violations', {}))})" if bad else
                           " (bad input: see its stderr)" if v["exit"] == 2 else ""))
    elif bad:
        problems.append(f"{tag} verify: {bad} violations ({fmt_map(t.get('violations', {}))})")
    if v["report"] is not None and not t.get("functions"):
        problems.append(f"{tag} verify: no function was verified")
    return v


def fmt_map(m):
    return ", ".join(f"{n} × {k}" for k, n in sorted(m.items())) or "none"


def verify_section(v, L):
    L.append("### Code verification (`a64call verify`)\n")
    if v is None:
        L.append("Not run in these results (`ci/cinderx --verify` runs it).\n")
        return
    r = v["report"]
    if r is None:
        L.append(f"No readable report in `{v['dir']}` (exit status {v['exit']}).\n")
        return
    t = r.get("totals", {})
    sites = [s for f in r.get("functions", []) for s in f.get("sites", [])]
    known = [s for s in sites if s.get("target") is not None]
    unresolved = [s for s in known if not s.get("entry")]
    L.append(f"`a64call verify` on a code dump of call-heavy functions (`harness/cinderx/capture.py`, "
             f"`{shown_path(r.get('dump', '?'))}`), independent of the emitter: every literal load reads aligned bytes inside "
             "its function in words no path reaches, no pool or stub word is reached as code, no path runs off "
             "the end, and every call or branch with a known target lands on the entry of a known function.\n")
    L.append("| what | count |")
    L.append("|---|---:|")
    L.append(f"| functions checked | {t.get('functions', 0)} (placed by the perf map: {t.get('placed', 0)}) |")
    for k, n in sorted(t.get("calls", {}).items()):
        L.append(f"| call sequences `{k}` | {n} |")
    for k, n in sorted(t.get("branches", {}).items()):
        L.append(f"| branches out `{k}` | {n} |")
    L.append(f"| sites with a known target | {len(known)} |")
    for k, n in sorted(t.get("resolved", {}).items()):
        L.append(f"| targets resolved by {k} | {n} |")
    L.append(f"| targets unresolved | {len(unresolved)} |")
    L.append(f"| sites with no static target (register set at run time) | {len(sites) - len(known)} |")
    for k, n in sorted(t.get("violations", {}).items()):
        L.append(f"| **violations: {k}** | **{n}** |")
    if not t.get("violations"):
        L.append("| violations | 0 |")
    for k, n in sorted(t.get("allowed", {}).items()):
        L.append(f"| allowed violations: {k} | {n} |")
    L.append(f"| exit status | {v['exit'] if v['exit'] is not None else 'not recorded'} |")
    L.append("")
    if t.get("allowed", {}).get("constant-misaligned"):
        L.append("`constant-misaligned` is allowed (`--allow`): CinderX 2026.11 does not align its own constant "
                 "pool (constants, not call targets); it is counted, not failed.\n")
    for n in r.get("notes", []):
        L.append(f"- note: {n}")
    if r.get("notes"):
        L.append("")
