"""The heap-layout spread of a build's exact counts, as ci/cinderx --layout measures it
(harness/cinderx/count-layout writes COUNTS/layout/layout.json), and the judgement of a
before/after difference against it (host Python, used by report_counts.py)."""
import os
from fractions import Fraction


def load_layout(d, tag, problems, load):
    """The heap-layout spread of this build's counts (harness/cinderx/count-layout, run by ci/cinderx
    --layout into COUNTS/layout/layout.json): {"pads": [bytes], "sites": {(mode, N): figures},
    "bench": {(benchmark, mode): figures}}, figures = {"JIT code" | "total" | "far calls": {"spread",
    "min", "max", "values"}} per iteration; None when not measured."""
    path = os.path.join(d, "layout", "layout.json")
    if not os.path.exists(path):
        return None
    data = load(path, problems, None)
    if not data:
        return None
    out = {"pads": data.get("pads", []), "sites": {}, "bench": {}}
    for key, figures in data.get("phases", {}).items():
        parts = key.split("/")
        phase = parts[-1]
        if phase.startswith("sites-") and len(parts) == 2:
            out["sites"][(parts[0], int(phase[len("sites-"):]))] = figures
        elif phase.startswith("bench-") and len(parts) == 3:
            out["bench"][(phase[len("bench-"):], parts[1])] = figures
        else:
            problems.append(f"{tag} counts: {path}: unknown phase {key!r}")
    return out


LAYOUT_FIGURES = {"jit": "JIT code", "total": "total"}


def layout_spread(ca, cb, job, key, k):
    """The heap-layout spread per iteration of figure k ("jit" or "total") of a difference between
    the two builds: the sum of the builds' own spreads (each build's figure moves by up to its own
    spread, so their difference moves by up to the sum), or None when either build's spread was
    not measured for this phase."""
    spreads = []
    for c in (ca, cb):
        figures = ((c.get("layout") or {}).get(job) or {}).get(key)
        if not figures or LAYOUT_FIGURES[k] not in figures:
            return None
        spreads.append(Fraction(str(figures[LAYOUT_FIGURES[k]]["spread"])))
    return sum(spreads)


def against_layout(delta, spread):
    """A Δ per iteration judged against the layout spread: "beyond" only when larger.

    >>> against_layout(-7, Fraction(5)), against_layout(5, Fraction(5)), against_layout(1, None)
    ('beyond 5.0', 'within 5.0', 'not measured')
    """
    if delta is None or spread is None:
        return "not measured"
    return f"{'beyond' if abs(Fraction(str(delta))) > spread else 'within'} {float(spread):,.1f}"
