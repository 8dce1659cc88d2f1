# CMake toolchain for cross-building CinderX for aarch64 Linux inside the build root made by
# harness/cinderx/build (Debian sid, gcc-14 cross compilers, arm64 libpython3.14-dev). setup.py
# passes no -D of ours, so CMake reads this file from the CMAKE_TOOLCHAIN_FILE environment variable.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc-14)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++-14)
set(CMAKE_AR /usr/bin/aarch64-linux-gnu-gcc-ar-14)
set(CMAKE_RANLIB /usr/bin/aarch64-linux-gnu-gcc-ranlib-14)
set(CMAKE_FIND_ROOT_PATH /usr/aarch64-linux-gnu /usr/lib/aarch64-linux-gnu)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY BOTH)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE BOTH)
# CMake 4.3: without the new behaviour of CMP0190 FindPython gives an empty extension suffix when
# cross-compiling and the module does not load. CinderX asks for 3.18 policies before this file is
# read, so the policy is set at the end of project() (policy-cmp0190.cmake beside this file).
set(CMAKE_PROJECT_INCLUDE ${CMAKE_CURRENT_LIST_DIR}/policy-cmp0190.cmake)
# With CMP0190 NEW, FindPython queries the target's interpreter through the cross-compiling
# emulator. The build root's own python3.14 answers for aarch64 (setup.py runs with
# _PYTHON_SYSCONFIGDATA_NAME naming the aarch64 sysconfig data), so the "emulator" only runs it.
set(CMAKE_CROSSCOMPILING_EMULATOR /usr/bin/env)
# FetchContent from local, hash-checked Debian source tarballs; never from the network.
set(FETCHCONTENT_FULLY_DISCONNECTED ON)
set(FETCHCONTENT_SOURCE_DIR_CAPSTONE $ENV{A64CALL_DEPS}/capstone)
set(FETCHCONTENT_SOURCE_DIR_FMT $ENV{A64CALL_DEPS}/fmt)
set(FETCHCONTENT_SOURCE_DIR_PARALLEL-HASHMAP $ENV{A64CALL_DEPS}/phmap)
set(FETCHCONTENT_SOURCE_DIR_USDT $ENV{A64CALL_DEPS}/usdt)
