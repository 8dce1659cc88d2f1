"""Guest side of harness/cinderx/fidelity (runs on the guest python3.14 with one build's cinderx).

    fidelity_guest.py capture LIST OUT.json OUT.elf [--lenient]
    fidelity_guest.py candidates

capture: force-compiles every `module:qualname` of LIST (in file order), then the size-test
functions (harness/cinderx/sizes.py, `sizetest:sqrt_sites_N`), and writes OUT.json
{"functions": {name: {"compiled": bool, "size": int, "error": str|None}}, "cinderx": path,
"paths": {what: path the guest saw}, "brk_heap": [start, end] or null} and
every compiled function's code to OUT.elf (_cinderx.dump_elf) for `a64call classify`. A listed
function that cannot be found or does not compile is recorded as such (the list is fixed; the
comparison reports it), never skipped. Without --lenient it also exits 1 in that case.

FIDELITY_HEAP_PAD=N (environment, default 0): before cinderx is imported, allocate and keep
alive N bytes of padding (one N-byte bytearray from the C heap, and N // 64 small objects from
Python's allocator), so every later heap address moves by an amount that is not a round number.
CinderX's LIR backend iterates hash sets keyed by heap pointers (block sorter, register
allocator), so its register choice, move order and block order can depend on the heap layout;
harness/cinderx/fidelity runs the reference build under several fixed paddings to collect the
shapes it produces.

candidates: prints, one per line, the Python functions and methods defined in a fixed set of
stable standard-library modules (sorted, at most PER_MODULE per module), the raw material from
which `harness/cinderx/fidelity --generate` makes the committed list."""
import importlib
import json
import os
import sys
import types

# Before anything of cinderx is allocated (see the docstring): fixed, deterministic padding.
_HEAP_PAD = int(os.environ.get("FIDELITY_HEAP_PAD", "0"))
_PADDING = (bytearray(_HEAP_PAD), [object() for _ in range(_HEAP_PAD // 64)]) if _HEAP_PAD else None

import cinderx  # noqa: E402
import cinderx.jit as jit  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sizes  # noqa: E402  (harness/cinderx/sizes.py)

# Pure-Python standard-library modules whose code does not change within a Python release.
MODULES = [
    "argparse", "ast", "base64", "bisect", "calendar", "colorsys", "configparser", "contextlib", "copy",
    "csv", "dataclasses", "difflib", "email.utils", "enum", "fnmatch", "fractions", "ftplib", "functools",
    "genericpath", "getopt", "gettext", "glob", "gzip", "heapq", "html", "html.parser", "inspect",
    "ipaddress", "json.decoder", "json.encoder", "keyword", "linecache", "locale", "mimetypes",
    "ntpath", "numbers", "optparse", "pathlib", "posixpath", "pprint", "quopri", "random", "reprlib",
    "sched", "shlex", "shutil", "statistics", "string", "tarfile", "textwrap", "tokenize", "traceback",
    "typing", "urllib.parse", "uuid", "warnings", "weakref", "zipfile",
]
PER_MODULE = 8


def unwrap(obj):
    obj = getattr(obj, "__func__", obj)  # bound methods, classmethod and staticmethod objects
    return obj if isinstance(obj, types.FunctionType) else None


def candidates():
    names = []
    for modname in MODULES:
        mod = importlib.import_module(modname)
        found = []
        for name, obj in sorted(vars(mod).items()):
            f = unwrap(obj)
            if f is not None and f.__module__ == modname:
                found.append(f"{modname}:{f.__qualname__}")
            elif isinstance(obj, type) and obj.__module__ == modname:
                for mname, mobj in sorted(vars(obj).items()):
                    f = unwrap(mobj)
                    if f is not None and f.__module__ == modname and f.__qualname__ == f"{name}.{mname}":
                        found.append(f"{modname}:{f.__qualname__}")
        names.extend(sorted(set(found))[:PER_MODULE])
    for n in names:
        print(n)


def resolve(spec):
    modname, _, qual = spec.partition(":")
    obj = importlib.import_module(modname)
    for part in qual.split("."):
        obj = vars(obj)[part] if isinstance(obj, type) else getattr(obj, part)
    f = unwrap(obj)
    if f is None:
        raise TypeError(f"{type(obj).__name__}, not a Python function")
    return f


def brk_heap():
    """[start, end) of the anonymous mapping right after the executable's last segment in
    /proc/self/maps (the end of its bss, then the brk heap; Debian's python3.14 is not PIE, so
    it starts below 16 MiB), or None when there is none."""
    rows = []
    for line in open("/proc/self/maps"):
        f = line.split()
        lo, hi = (int(x, 16) for x in f[0].split("-"))
        rows.append((lo, hi, f[5] if len(f) > 5 else ""))
    exe = [k for k, r in enumerate(rows) if r[2].endswith("/bin/python3.14")]
    if not exe or exe[-1] + 1 >= len(rows):
        return None
    lo, hi, name = rows[exe[-1] + 1]
    return [lo, hi] if name == "" and lo == rows[exe[-1]][1] else None


def capture(list_path, out_json, out_elf, lenient):
    import _cinderx

    specs = [line.strip() for line in open(list_path) if line.strip() and not line.startswith("#")]
    result = {}
    for spec in specs:
        rec = {"compiled": False, "size": None, "error": None}
        try:
            f = resolve(spec)
            rec["compiled"] = bool(jit.force_compile(f)) and jit.is_jit_compiled(f)
            rec["size"] = jit.get_compiled_size(f) if rec["compiled"] else None
            if not rec["compiled"]:
                rec["error"] = "did not compile"
        except Exception as e:  # recorded, compared, reported: never skipped
            rec["error"] = f"{type(e).__name__}: {e}"
        result[spec] = rec
    for n in sizes.NS:
        f = sizes.compile_sqrt_sites(n)
        result[f"sizetest:sqrt_sites_{n}"] = {"compiled": True, "size": jit.get_compiled_size(f), "error": None}
    _cinderx.dump_elf(out_elf)
    paths = {"executable": sys.executable, "base_executable": getattr(sys, "_base_executable", ""),
             "prefix": sys.prefix, "exec_prefix": sys.exec_prefix, "cinderx": cinderx.__file__,
             "_cinderx": _cinderx.__file__}
    with open(out_json, "w") as fh:
        json.dump({"functions": result, "heap_pad": _HEAP_PAD, "cinderx": cinderx.__file__, "_cinderx": _cinderx.__file__,
                   "paths": paths, "brk_heap": brk_heap()}, fh, indent=1)
    bad = [k for k, r in result.items() if not r["compiled"]]
    if bad and not lenient:
        print(f"fidelity_guest: {len(bad)} listed functions did not compile, e.g. {bad[0]}: {result[bad[0]]['error']}",
              file=sys.stderr)
        sys.exit(1)


def main():
    if cinderx.get_import_error() is not None:
        sys.exit(f"cinderx failed to import: {cinderx.get_import_error()}")
    args = sys.argv[1:]
    if args[:1] == ["candidates"] and len(args) == 1:
        candidates()
    elif args[:1] == ["capture"] and len(args) in (4, 5) and args[4:] in ([], ["--lenient"]):
        capture(args[1], args[2], args[3], args[4:] == ["--lenient"])
    else:
        print(__doc__, file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
