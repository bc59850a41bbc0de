#!/usr/bin/env bash
# Prints the CMake arguments that put ccache in front of the C/C++ compilers, when ccache is
# installed (scripts/install-deps.sh installs it) and CROSSRANK_CCACHE is not 0. CI builds the
# same sources three times (scripts/build.sh, the Python wheel in scripts/test_python.sh,
# scripts/cuda_build.sh) with the same command lines: the second and third builds are hits.
# Usage: cmake ... $(bash scripts/ccache_args.sh [-C])   (-C: in pip's -C cmake.define. form)
if [ "${CROSSRANK_CCACHE:-1}" != 0 ] && command -v ccache >/dev/null; then
  if [ "${1:-}" = -C ]; then
    echo "-C cmake.define.CMAKE_CXX_COMPILER_LAUNCHER=ccache -C cmake.define.CMAKE_C_COMPILER_LAUNCHER=ccache"
  else
    echo "-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache"
  fi
fi
