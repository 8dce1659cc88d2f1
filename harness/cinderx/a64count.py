"""Guest side of exact instruction counting (harness/qemu-plugin/count.c).

`with phase("name"): ...` marks a measured phase: it makes the marker syscall the counting plugin
watches (getppid, aarch64 nr 173, with x0 = COUNT_MAGIC and x1 = MARK_BEGIN, then MARK_END), and
after the end marker writes `$A64CALL_COUNT_DIR/maps-<pid>-<n>.txt`: a `# a64count phase <n>
<name>` line, the guest's /proc/self/maps (qemu-user shows guest addresses) and a `# a64count
end <n>` line (without it `a64call counts` reports the file truncated), so `a64call counts` can split the phase's instructions by mapping. Phases are numbered 1, 2, ... per
process, as the plugin numbers them; they do not nest.

When A64CALL_COUNT_DIR is unset (not a counted run) `phase` does nothing and costs nothing.
The marker calls themselves lie partly inside the phase: a constant few thousand instructions
per phase, which an empty phase measures (see `harness/cinderx/count-run`).
"""
import contextlib
import ctypes
import os

#: aarch64 Linux syscall number of getppid, the marker.
MARKER_SYSCALL = 173
#: x0 of a marker; must match COUNT_MAGIC in count.c.
COUNT_MAGIC = 0xA64CA11
#: x1 of a begin marker, and of an end marker (count.c: MARK_BEGIN, MARK_END).
MARK_BEGIN = 1
MARK_END = 2

_dir = os.environ.get("A64CALL_COUNT_DIR") or None
_number = 0
_open = False
_syscall = None
if _dir:
    _syscall = ctypes.CDLL(None, use_errno=True).syscall
    _syscall.restype = ctypes.c_long
    _syscall.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_long]


def enabled():
    """True in a counted run (A64CALL_COUNT_DIR set)."""
    return _dir is not None


def _write_maps(number, name):
    path = os.path.join(_dir, f"maps-{os.getpid()}-{number}.txt")
    with open("/proc/self/maps") as f:
        maps = f.read()
    with open(path, "w") as out:
        out.write(f"# a64count phase {number} {name}\n{maps}# a64count end {number}\n")


@contextlib.contextmanager
def phase(name):
    """Count the body as one phase called `name` (one line, no newlines)."""
    global _number, _open
    if _dir is None:
        yield
        return
    if "\n" in name:
        raise ValueError(f"phase name {name!r} contains a newline")
    if _open:
        raise RuntimeError(f"phase {name!r} started inside another phase (phases do not nest)")
    _number += 1
    number = _number
    _open = True
    _syscall(MARKER_SYSCALL, COUNT_MAGIC, MARK_BEGIN)
    try:
        yield
    finally:
        _syscall(MARKER_SYSCALL, COUNT_MAGIC, MARK_END)
        _open = False
        _write_maps(number, name)
