"""What `a64call verify` needs from a guest process (guest module, python3.14).

    import verifiable_dump          # before anything imports cinderx: turns on the perf map
    ...compile...
    verifiable_dump.save(OUT)       # OUT (dump_elf), OUT.maps, OUT.perfmap

The dump (`_cinderx.dump_elf`) packs functions from 0x1000; CinderX's perf map
(`CINDERX_JIT_PERF_MAP=1`, read once when `_cinderx` is imported) gives their real addresses and
the process's `/proc/self/maps` places every mapped file, so both must come from the process that
compiled the code, after compiling."""
import os
import shutil
import sys

if "_cinderx" in sys.modules:
    sys.exit("verifiable_dump: cinderx was imported before CINDERX_JIT_PERF_MAP could be set")
os.environ["CINDERX_JIT_PERF_MAP"] = "1"


def _flush_probe(x):
    return x + 1


def save(out):
    import _cinderx
    import cinderx.jit as jit

    _cinderx.dump_elf(out)
    # The perf map entry of the last function compiled appears only once another is written:
    # compile one more (after the dump, so the dump does not hold it).
    jit.force_compile(_flush_probe)
    shutil.copyfile("/proc/self/maps", out + ".maps")
    perf = f"/tmp/perf-{os.getpid()}.map"
    shutil.copyfile(perf, out + ".perfmap")
    os.unlink(perf)
