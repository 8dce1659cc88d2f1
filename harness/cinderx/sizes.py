"""Call-site size test: for each N, a function with N repeated `math.sqrt()` call sites is
force-compiled; prints JSON {"sizes": {N: compiled size}} and writes every compiled function's
code to the ELF path given as argv[1] (via _cinderx.dump_elf, with ARG.maps and ARG.perfmap beside
it for a64call verify) for a64call classify.
harness/cinderx/fidelity_guest.py imports make_sqrt_sites and compile_sqrt_sites from here."""
import json
import sys

if __name__ == "__main__":
    import verifiable_dump  # before cinderx: turns on the perf map (a64call verify)
import cinderx
import cinderx.jit as jit

NS = [1, 2, 4, 8, 16, 32]


def make_sqrt_sites(n):
    """The function sqrt_sites_N (module `sizetest`), with N `x = math.sqrt(x) + 1.0` lines."""
    src = "import math\ndef sqrt_sites_%d(x):\n" % n
    src += "".join("    x = math.sqrt(x) + 1.0\n" for _ in range(n))
    src += "    return x\n"
    ns = {"__name__": "sizetest"}
    exec(compile(src, "sizetest", "exec"), ns)
    return ns["sqrt_sites_%d" % n]


def compile_sqrt_sites(n):
    """Make sqrt_sites_N, call it once, force-compile it; returns the function or exits."""
    f = make_sqrt_sites(n)
    f(2.0)
    if not jit.force_compile(f) or not jit.is_jit_compiled(f):
        sys.exit(f"sqrt_sites_{n} did not compile")
    # Interpreter and JIT must agree on the value too.
    assert f(2.0) == f(2.0)
    return f


def main():
    if cinderx.get_import_error() is not None:
        sys.exit(f"cinderx failed to import: {cinderx.get_import_error()}")
    # Every function stays referenced until the dump: a dropped function frees its code.
    funcs = {n: compile_sqrt_sites(n) for n in NS}
    sizes = {n: jit.get_compiled_size(f) for n, f in funcs.items()}
    verifiable_dump.save(sys.argv[1])
    print(json.dumps({"sizes": sizes}))


if __name__ == "__main__":
    main()
