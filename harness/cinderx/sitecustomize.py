"""Imported by every Python process of the CinderX tier (it is on PYTHONPATH, which pyperf passes
to its workers). When A64CALL_CINDERX is set it imports cinderx, which reads the CINDERX_JIT_*
environment variables (auto mode, JIT list, logging) at that moment. A failed import of
_cinderx would silently turn cinderx.jit into no-op stubs, so it ends the process instead."""
import os
import sys

if os.environ.get("A64CALL_CINDERX"):
    import cinderx

    err = cinderx.get_import_error()
    if err is not None:
        sys.stderr.write(f"a64call: cinderx failed to import (the JIT would be a no-op): {err}\n")
        sys.exit(3)
