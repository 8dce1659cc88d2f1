"""Call-site size test: for each N, a function with N repeated `math.sqrt()` call sites is
force-compiled; prints JSON {"sizes": {N: compiled size}} and writes every compiled function's
code to the ELF path given as argv[1] (via _cinderx.dump_elf) for a64call classify."""
import json
import sys

import cinderx
import cinderx.jit as jit
import _cinderx

if cinderx.get_import_error() is not None:
    sys.exit(f"cinderx failed to import: {cinderx.get_import_error()}")
NS = [1, 2, 4, 8, 16, 32]
sizes = {}
for n in NS:
    src = "import math\ndef sqrt_sites_%d(x):\n" % n
    src += "".join("    x = math.sqrt(x) + 1.0\n" for _ in range(n))
    src += "    return x\n"
    ns = {"__name__": "sizetest"}
    exec(compile(src, "sizetest", "exec"), ns)
    f = ns["sqrt_sites_%d" % n]
    f(2.0)
    if not jit.force_compile(f) or not jit.is_jit_compiled(f):
        sys.exit(f"sqrt_sites_{n} did not compile")
    sizes[n] = jit.get_compiled_size(f)
    # Interpreter and JIT must agree on the value too.
    assert f(2.0) == f(2.0)
_cinderx.dump_elf(sys.argv[1])
print(json.dumps({"sizes": sizes}))
