"""JIT-effective smoke test: prints `jit-effective-ok` only if cinderx imported for real, a
function was force-compiled, reports itself compiled, has compiled code, and returns the right
value; otherwise prints what did not hold and exits 1."""
import sys

problems = []
try:
    import cinderx
    import cinderx.jit as jit
except Exception as e:  # the import itself failing is a finding too
    print(f"jit-effective-FAILED: cannot import cinderx: {e!r}")
    sys.exit(1)

err = cinderx.get_import_error()
if err is not None:
    problems.append(f"_cinderx failed to import, cinderx.jit is a no-op stub: {err}")


def work(n):
    total = 0
    for i in range(n):
        total += i * i % 7
    return total


expected = sum(i * i % 7 for i in range(1000))
if not problems:
    if not jit.force_compile(work):
        problems.append("force_compile(work) returned False")
    if not jit.is_jit_compiled(work):
        problems.append("is_jit_compiled(work) is False after force_compile")
    size = jit.get_compiled_size(work)
    if size <= 0:
        problems.append(f"get_compiled_size(work) = {size}")
    got = work(1000)
    if got != expected:
        problems.append(f"compiled work(1000) returned {got}, expected {expected}")
if problems:
    for p in problems:
        print(f"jit-effective-FAILED: {p}")
    sys.exit(1)
import importlib.metadata

print(f"jit-effective-ok (cinderx {importlib.metadata.version('cinderx')}, "
      f"compiled size {jit.get_compiled_size(work)} bytes, python {sys.version.split()[0]})")
