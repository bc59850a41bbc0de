#!/usr/bin/env bash
# Builds and tests the Python package in a clean virtual environment (scripts/pyvenv.sh:
# build/pyvenv, no system site packages): `pip install ./python` (scikit-build-core +
# pybind11 from PyPI, engine library + module only), then pytest python/tests.
# Usage: scripts/test_python.sh [pytest args...]
# Env: PYTHON (default python3); CROSSRANK_PY_BUILD_DIR (default build/py-wheel; the CMake
#      build is reused between runs, so a re-run only recompiles what changed).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${CROSSRANK_PY_BUILD_DIR:-build/py-wheel}
export CMAKE_BUILD_PARALLEL_LEVEL=${CMAKE_BUILD_PARALLEL_LEVEL:-2}
export PIP_DISABLE_PIP_VERSION_CHECK=1
t0=$(date +%s)
VPY=$(bash scripts/pyvenv.sh)
# --no-build-isolation would need the build deps in the venv anyway; keep pip's isolated
# build (it fetches scikit-build-core and pybind11) so the install is what users get.
# The compilers CMake picks by default (scikit-build-core would otherwise take Python's
# sysconfig g++): the same command lines as scripts/build.sh, so ccache hits.
export CC=${CC:-cc} CXX=${CXX:-c++}
# shellcheck disable=SC2046
"$VPY" -m pip install -q ./python -C build-dir="$PWD/$BUILD_DIR" $(bash scripts/ccache_args.sh -C)
echo "test_python: venv + wheel build/install: $(( $(date +%s) - t0 )) s"
# Run from outside the source tree so `import crossrank` is the installed package.
cd python/tests
"$VPY" -m pytest -q -p no:cacheprovider "$@" .
echo "test_python: total $(( $(date +%s) - t0 )) s"
