"""Imported by every Python process of the CinderX tier's benchmarks (it is on PYTHONPATH, which
pyperf passes to its workers).

When A64CALL_CINDERX is set it imports cinderx, which reads the CINDERX_JIT_* environment
variables (auto mode, JIT list, logging) at that moment. A failed import of _cinderx would
silently turn cinderx.jit into no-op stubs, so it ends the process instead.

When A64CALL_PROC_DIR is set, every process writes a record DIR/proc-PID.json: pid, parent pid,
argv, whether it is a pyperf worker (pyperf starts workers with `--worker` in argv), whether
cinderx was imported and the JIT enabled, and, at exit, the `__main__` functions the JIT compiled
(cinderx.jit.get_compiled_functions). The record is written once at start ("exited": false) and
rewritten at exit, so a worker that died early is visible too. report.py checks that every
worker of a JIT-mode run compiled `__main__` functions; the manager does not count."""
import json
import os
import sys

# A64CALL_HEAP_PAD=N: before cinderx is imported, allocate and keep N bytes of padding (as
# harness/cinderx/fidelity_guest.py does), so every later heap address moves. CinderX's code for
# some functions depends on heap addresses (its LIR backend iterates hash sets keyed by
# pointers); harness/cinderx/count-layout uses this to measure how much that moves the counts.
_HEAP_PAD = int(os.environ.get("A64CALL_HEAP_PAD", "0"))
_PADDING = (bytearray(_HEAP_PAD), [object() for _ in range(_HEAP_PAD // 64)]) if _HEAP_PAD else None

_jit = None
if os.environ.get("A64CALL_CINDERX"):
    import cinderx

    err = cinderx.get_import_error()
    if err is not None:
        sys.stderr.write(f"a64call: cinderx failed to import (the JIT would be a no-op): {err}\n")
        sys.exit(3)
    import cinderx.jit as _jit


def _record(exited):
    rec = {
        "pid": os.getpid(),
        "ppid": os.getppid(),
        "argv": sys.argv,
        "worker": "--worker" in sys.argv,
        "cinderx_imported": _jit is not None,
        "jit_enabled": bool(_jit is not None and _jit.is_enabled()),
        "exited": exited,
        "compiled_main": None,
        "compiled_total": None,
    }
    if exited and _jit is not None:
        funcs = _jit.get_compiled_functions()
        rec["compiled_total"] = len(funcs)
        rec["compiled_main"] = sorted(
            getattr(f, "__qualname__", "?") for f in funcs if getattr(f, "__module__", None) == "__main__")
    elif exited:
        rec["compiled_main"] = []
        rec["compiled_total"] = 0
    path = os.path.join(_proc_dir, f"proc-{os.getpid()}.json")
    with open(path + ".tmp", "w") as f:
        json.dump(rec, f)
    os.replace(path + ".tmp", path)


_proc_dir = os.environ.get("A64CALL_PROC_DIR")
if _proc_dir:
    import atexit

    _record(False)
    atexit.register(_record, True)
