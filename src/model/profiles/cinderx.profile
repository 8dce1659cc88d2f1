# Shaped like CinderX 2026.11.2.0's aarch64 output, from measurements of the official wheel under
# qemu (shared notes "cinderx-under-qemu"): over 8 representative functions it emitted 74
# per-function stubs (4-14 distinct far CPython helpers per function, about 9 on average), many
# call sites share the same few helpers (38.9 far calls per benchmark iteration), and calls into
# _cinderx.so itself are direct bl, i.e. near. JIT code lives in mmap'd memory far from
# libpython, so CPython helpers are far. Argument counts 1-4 match the helpers seen (object
# pointers plus a few integers). Functions of 60-200 operations with ~45% calls give 27-90 call
# sites, like the medium-sized Python functions of richards/deltablue.
name = cinderx
about = shaped like CinderX 2026.11 aarch64 output: many calls to 4-14 far CPython helpers, a few near ones
ops = 60..200
call_pct = 45
helpers = 4..14
args = 1..4
loop_pct = 4
if_pct = 12
max_depth = 2
max_block = 6
max_loop_count = 4
edge_loop_pct = 0
distance = 1,0,6
# The literal-pool patch guesses a call near when its target lies within 96 MiB of _cinderx.so
# (the anchor; the near helpers are its functions); the code mostly lands about 12 MiB from it,
# sometimes far (204 MiB was seen under qemu). So: usually the library near the code, sometimes
# far from it (its calls relaxed to stubs), or one helper exactly at the 96 MiB edge.
anchor = 1,5,2,2
seed_bytes = 16384
