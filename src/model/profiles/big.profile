# A few top-level loops and ifs around very large blocks, with helpers at every distance: pool
# islands meet direct `bl`s and conditional branches in one function. A block is drawn from 1 to
# 100,000 ops, so nearly every loop body is over the 32 KiB reach of its `tbz` back edge and
# many blocks are over the 1 MiB reach of `b.cond`/`cbz`: each kind of conditional-branch
# veneer occurs. A quarter of the loops are aimed at the 32 KiB reach of their `tbz` back edge
# (edge_loop_pct): a word inside, on it, or a word beyond. Synthetic.
name = big
about = large loops and ifs around blocks of up to 100,000 ops, helpers at every distance: veneers, islands and bl together
ops = 3..6
call_pct = 40
helpers = 4..8
args = 0..3
loop_pct = 35
if_pct = 35
max_depth = 1
max_block = 100000
max_loop_count = 2
edge_loop_pct = 25
distance = 1,1,2
anchor = 1,0,0,0
seed_bytes = 8388608
