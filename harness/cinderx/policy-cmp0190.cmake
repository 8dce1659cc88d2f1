# Included at the end of CinderX's project() by harness/cinderx/toolchain-aarch64.cmake: FindPython
# must take the cross-compiling target's extension suffix (CMP0190 NEW), not an empty one.
cmake_policy(SET CMP0190 NEW)
