"""The literal-pool experiment's checks beyond the counts, as sections of findings.md (host
Python, used by literal_pool_report.py): the patch against the pool+bl model, the worker check's
self-test, a64call verify on the broken variants, and functions near and over 1 MiB. Each reads
what ci/cinderx-literal-pool wrote under OUT_DIR (and target/cinderx/BUILD/)."""
import glob
import json
import os
import re

from report import read  # the tier's report, beside this script


def distance_mib(verify_json, maps):
    """The distance in MiB from the lowest function of a dump to the start of `_cinderx.so`'s
    executable mapping (from the dump's verify report and the guest's maps), or "?"."""
    funcs = (load_json(verify_json) or {}).get("functions", [])
    addrs = [f["addr"] for f in funcs if f.get("addr") is not None]
    text = [line.split()[0] for line in read(maps).splitlines()
            if "_cinderx" in line and " r-xp " in line]
    if not addrs or not text:
        return "?"
    so = int(text[0].split("-")[0], 16)
    return f"{abs(so - min(addrs)) / (1 << 20):.1f} MiB"


def dumps(out, build):
    """(name, verify report, guest maps) of each dump whose distance from `_cinderx.so` the findings
    give, for one build: those the model check reads and the bigger bigfunc ones."""
    tier = f"target/cinderx/{build}"
    return [(d, f"{tier}/{d}-verify.json", f"{tier}/{d}.elf.maps") for d in ("verify/capture", "sizes")] + [
        (f"bigfunc-{n}", f"{out}/bigfunc-{n}-{build}.verify.json", f"{out}/bigfunc-{n}-{build}.elf.maps")
        for n in (3000, 3500, 4095)]


def model(out, L):
    """harness/cinderx/model_check.py on each build's dumps: the patch's real shape against pool+bl."""
    L.append("`a64call verify --json` resolves every call site of the dumps (capture.py's call-heavy functions, "
             "the call-site test, the 3,000-site function); `model_check.py` then checks each function that "
             "calls through a literal pool against a64call's `pool+bl` strategy (`src/emit/strategy/pool_bl.rs`): "
             "P1 the pool right after the code and after every pool call, P2 8-byte aligned, P3 one literal per "
             "target, P4 contiguous, P5 first-use order, P6 every call whose target `bl` cannot reach goes "
             "through the pool (a `bl` to a stub whose target is in `_cinderx.so` is listed instead: the patch "
             "guesses those near, and asmjit relaxes a wrong guess to a stub), P7 (listed) pool calls whose "
             "target `bl` could reach. The baseline has no pool, so every one of its functions with a far call "
             "must break S1 (a function under 512 KiB calling a far target through a stub): that it does shows "
             "the check sees stubs; only the patched build's result gates.\n")
    L.append("Where the JIT code lay from `_cinderx.so`'s code in each dump (the patch guesses calls into "
             "`_cinderx.so` near, so beyond 128 MiB they become stubs): "
             + "; ".join(f"`{b}` {name}: {distance_mib(v, m)}" for b in ("baseline", "patched")
                         for name, v, m in dumps(out, b)) + ".\n")
    for build in ("baseline", "patched"):
        lines = read(f"{out}/model-{build}.txt").strip().splitlines()
        code = read(f"{out}/model-{build}.exit").strip() or "not run"
        summary = lines[-1] if lines else "not run"
        L.append(f"- `{build}`: exit {code}; {summary}")
        listed = [x for x in lines if x.startswith(("BROKEN", "note", "stubs"))]
        for x in listed[:8]:
            L.append(f"  - {x}")
        if len(listed) > 8:
            L.append(f"  - and {len(listed) - 8} more (`{out}/model-{build}.txt`)")
    L.append("")


def withheld(out, L):
    """test-withheld's verdict: the worker check must fail a run whose workers lack the JIT."""
    code = read(f"{out}/withheld.exit").strip() or "not run"
    lines = read(f"{out}/withheld.txt").strip().splitlines()
    verdict = {"0": "the normal run passed and the withheld run failed, as required",
               "not run": "not run in this experiment"}.get(code, "**did not behave as required**")
    L.append(f"A benchmark run normally and with the JIT withheld from pyperf's workers, both judged by the worker "
             f"check: exit {code}, {verdict}." + (f" `{lines[-1]}`" if lines else "") + "\n")


def model_rules(d):
    """model_check.py's verdict on a broken variant's dump: exit and broken functions per rule."""
    code = read(f"{d}/model.exit").strip()
    if not code:
        return "not run"
    rules = {}
    for line in read(f"{d}/model.txt").splitlines():
        m = re.match(r"BROKEN\s+\S+: (P\d|S\d):", line)
        if m:
            rules[m.group(1)] = rules.get(m.group(1), 0) + 1
    return f"{code}: " + (", ".join(f"{k} {v}" for k, v in sorted(rules.items())) or "none broken")


def broken(out, L):
    dirs = sorted(glob.glob(f"{out}/broken-*"))
    if not dirs:
        L.append("No broken variant was run.\n")
        return
    L.append("| variant | what is broken | must be caught by | verify exit | first violations | model check (exit: "
             "functions by broken rule) | targets against the baseline (`target_compare.py`: exit, summary) |")
    L.append("|---|---|---|---:|---|---|---|")
    for d in dirs:
        name = os.path.basename(d)[len("broken-"):]
        subject = ""
        for p in glob.glob(f"harness/cinderx/broken/{name}/0002-*.patch"):
            subject = read(p).splitlines()[0].split("] ", 1)[-1]
        lines = [x.strip() for x in read(f"{d}/verify.txt").splitlines() if "violation" in x.lower() or "unresolved" in x.lower() or "misaligned" in x.lower()]
        first = "; ".join(lines[:2]).replace("|", "\\|")[:300]
        caught_by = read(f"harness/cinderx/broken/{name}/caught-by").strip() or "?"
        targets = read(f"{d}/targets.txt").strip().splitlines()
        summary = targets[-1].replace("target_compare: ", "") if targets else "not run"
        L.append(f"| `{name}` | {subject} | `{caught_by}` | {read(f'{d}/verify.exit').strip() or '?'} | {first} | "
                 f"{model_rules(d)} | {read(f'{d}/targets.exit').strip() or '?'}: {summary} |")
    L.append("")


def targets(out, L):
    """target_compare.py on the real patch: every dump's call sites against the baseline's."""
    rows = [(w, read(f"{out}/targets-{w}.exit").strip(), read(f"{out}/targets-{w}.txt").strip().splitlines())
            for w in ("capture", "sizes", "bigfunc-3000")]
    rows = [r for r in rows if r[1] or r[2]]
    if not rows:
        L.append("Not run in this experiment.\n")
        return
    L.append("| dump | exit | summary |")
    L.append("|---|---:|---|")
    for what, code, lines in rows:
        L.append(f"| {what} | {code or '?'} | {(lines[-1] if lines else '').replace('target_compare: ', '')} |")
    L.append("")
    differing = [x for _, _, lines in rows for x in lines if x.startswith("DIFFERENT ")]
    for x in differing[:10]:
        L.append(f"- {x}")
    if differing:
        L.append("")


def bigfunc(out, L):
    L.append("| call sites | build | compiled | compiled bytes | JIT's refusal | result correct | "
             "call sequences (a64call verify) | patch's pool |")
    L.append("|---:|---|---|---:|---|---|---|---|")
    specs = sorted({os.path.basename(p)[len("bigfunc-"):-len("-baseline.json")]
                    for p in glob.glob(f"{out}/bigfunc-*-baseline.json")}, key=int)
    if not specs:
        L.append("| - | - | - | - | not run | - | - | - |")
    for n in specs:
        for b in ("baseline", "patched"):
            f = f"{out}/bigfunc-{n}-{b}"
            try:
                r = json.loads(read(f"{f}.json"))
            except ValueError:
                err = read(f"{f}.err").strip().splitlines()
                L.append(f"| {n} | `{b}` | ? | - | {(err[-1] if err else 'not run')[:200]} | no | - | - |")
                continue
            calls = "-"
            verified = load_json(f"{f}.verify.json") or {}
            big = [x for x in verified.get("functions", []) if x.get("name", "").endswith("big_sqrt_sites")]
            if big:
                calls = ", ".join(f"{k} {v}" for k, v in sorted(big[0].get("calls", {}).items()))
            pool = "-"
            if b == "patched" and r.get("compiled"):
                fallback = read(f"{f}.fallback").strip()
                pool = f"not used: {fallback}" if fallback else "used"
            refusal = read(f"{f}.jit-error").strip() or (r.get("jit_error") or "")
            L.append(f"| {n} | `{b}` | {'yes' if r.get('compiled') else 'no'} | {r.get('compiled_size') or '-'} | "
                     f"{refusal[:160]} | {'yes' if r.get('ok') else 'NO: ' + '; '.join(r.get('problems', []))} | "
                     f"{calls} | {pool} |")
    L.append("")


def bigfunc_size(out, n, build):
    r = load_json(f"{out}/bigfunc-{n}-{build}.json") or {}
    return r.get("compiled_size") if r.get("compiled") else None


def bigfunc_text(out, L):
    """What the big-function table shows, its figures read from this run's results."""
    b3000, b4095 = bigfunc_size(out, 3000, "baseline"), bigfunc_size(out, 4095, "baseline")
    p3000, p3500 = bigfunc_size(out, 3000, "patched"), bigfunc_size(out, 3500, "patched")
    sizes = []
    if b3000 and b4095:
        sizes.append(f"{(b4095 - b3000) / 1095:.1f} bytes per call site in the baseline (between 3,000 and "
                     "4,095 sites)")
    if b3000 and p3000:
        sizes.append(f"{(p3000 - b3000) / 3000:+.1f} bytes per site with the pool (patched against baseline "
                     "at 3,000 sites)")
    bound = re.search(r"code size bound (\d+) bytes", read(f"{out}/bigfunc-3500-patched.fallback"))
    ratio = (f"; at 3,500 sites the patch's bound was {int(bound.group(1)):,} bytes, {int(bound.group(1)) / p3500:.2f} "
             f"times the {p3500:,} bytes compiled") if bound and p3500 else ""
    L.append("N `math.sqrt` call sites, with CinderX's HIR and LIR size limits raised (`bigfunc.py` sets them; "
             "the defaults refuse functions this large)" + (f": {'; '.join(sizes)}" if sizes else "") + ". The "
             "patch uses its pool only when an upper bound of the function's size is under the 1 MiB of `ldr` "
             f"literal, and otherwise emits the code of before the patch (stubs){ratio}. 3,000 sites are meant "
             "to be under the bound; 3,500 under 1 MiB but over the bound; 4,095 just over 1 MiB, the largest "
             "the baseline compiles; 4,096 neither build compiles (CinderX 2026.11 refuses a function whose "
             "own constant pool or address table, after the code, is beyond `ldr` range of its first load: "
             "`RelocOffsetOutOfRange`) and both run interpreted: the table shows what happened. "
             "Every result is checked either way, and a size the baseline compiles and the patched build refuses "
             "would be a regression of the patch (the experiment fails on it). Where such a big function's code "
             "lands more than 128 MiB from `_cinderx.so` (the code allocator places big functions in chunks of "
             "their own), asmjit relaxes each `bl` to `_cinderx.so` to a stub, as it relaxes every out-of-range "
             "`bl` in the baseline; in the patched build that `bl` is a near guess, and the stub is the cost of "
             "the wrong guess, not an error (the model check above gives each dump's distance).\n")
    same = []
    for n in (3500, 4095):
        lines = read(f"{out}/bigfunc-{n}-patched.same-code.txt").strip().splitlines()
        if lines:
            code = read(f"{out}/bigfunc-{n}-patched.same-code.exit").strip() or "?"
            same.append(f"- {n:,} sites, patched against baseline (`target_compare.py --same-code`, exit {code}): "
                        f"{lines[-1].replace('target_compare: ', '')}")
    if same:
        L.append("Over the bound, the code of before the patch, checked: the baseline's instructions (`a64call "
                 "classify --shape`), as many call sequences of each kind and the same targets, modulo what "
                 "placement decides (a `bl` left direct or relaxed to a stub, by the code's distance from its "
                 "target) and what heap addresses decide (asmjit's `load_addr` loads a page-aligned address "
                 "that is not 64 KiB-aligned from its address table, so the byte size follows the heap layout: "
                 "the baseline alone compiled the 3,500-site function to 896,616 and to 896,624 bytes in two "
                 "environments).\n")
        L.extend(same + [""])


def load_json(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None
