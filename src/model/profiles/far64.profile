# The size comparison the literal-pool proposal is about: 64 straight-line calls to 8 helpers,
# all more than 4 GiB away (so no strategy can use bl or adrp). Synthetic.
name = far64
about = 64 straight-line calls to 8 far helpers (the pool-versus-movz size comparison)
ops = 64..64
call_pct = 100
helpers = 8..8
args = 0..3
loop_pct = 0
if_pct = 0
max_depth = 0
max_block = 6
max_loop_count = 4
edge_loop_pct = 0
distance = 0,0,1
anchor = 1,0,0,0
seed_bytes = 16384
