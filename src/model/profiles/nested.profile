# Loops nested three deep and branches around call sites, to stress labels, loop counters in the
# frame and islands inside loop bodies. Synthetic.
name = nested
about = deeply nested loops and branches around call sites
ops = 6..24
call_pct = 40
helpers = 1..8
args = 0..8
loop_pct = 25
if_pct = 25
max_depth = 3
max_block = 5
max_loop_count = 3
edge_loop_pct = 0
distance = 1,1,3
anchor = 1,0,0,0
seed_bytes = 16384
