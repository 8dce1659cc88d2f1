# Small functions so a fuzzer gets many executions per second. Synthetic.
name = tiny
about = small functions for fast fuzzing: 2-12 ops, 1-4 helpers
ops = 2..12
call_pct = 40
helpers = 1..4
args = 0..4
loop_pct = 8
if_pct = 8
max_depth = 2
max_block = 6
max_loop_count = 4
edge_loop_pct = 0
distance = 1,1,3
anchor = 1,0,0,0
seed_bytes = 2048
