# Straight-line functions of 1.5-2.5 MiB, larger than the +-1 MiB reach of ldr (literal): the
# pool needs islands (pool), pool+bl falls back to stubs (the patch's 1 MiB rule), and every
# literal use must stay in range. Synthetic.
name = huge
about = straight-line functions over 1 MiB: literal pools need islands, pool+bl falls back to stubs, ldr ranges are exercised
ops = 100000..110000
call_pct = 60
helpers = 4..8
args = 0..3
loop_pct = 0
if_pct = 0
max_depth = 0
max_block = 6
max_loop_count = 4
edge_loop_pct = 0
distance = 0,1,3
anchor = 1,0,0,0
seed_bytes = 4194304
