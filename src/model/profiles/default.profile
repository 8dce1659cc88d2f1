# Mixed call-heavy functions. Not measured from any JIT: a broad mix meant to exercise every
# strategy path (every distance class, 0-8 arguments, loops and branches around call sites).
name = default
about = mixed call-heavy functions: 8-48 ops, 1-8 helpers at every distance, loops and branches
ops = 8..48
call_pct = 40
helpers = 1..8
args = 0..8
loop_pct = 8
if_pct = 8
max_depth = 2
max_block = 6
max_loop_count = 4
edge_loop_pct = 0
distance = 1,1,3
anchor = 1,0,0,0
seed_bytes = 16384
