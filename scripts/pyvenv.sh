#!/usr/bin/env bash
# Creates (once) the Python virtual environment the script-driven tests use and prints its
# python path: build/pyvenv with numpy, pytest and the cohere SDK from PyPI. No system site
# packages, so a missing dependency fails here instead of being hidden; torch is never needed.
# Usage: PY=$(scripts/pyvenv.sh)      Env: PYTHON (default python3), CROSSRANK_PYVENV.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${CROSSRANK_PYVENV:-$PWD/build/pyvenv}
export PIP_DISABLE_PIP_VERSION_CHECK=1
if [ ! -f "$VENV/.crossrank-ready" ]; then
  mkdir -p "$(dirname "$VENV")"
  "${PYTHON:-python3}" -m venv "$VENV" >&2
  "$VENV/bin/python" -m pip install -q numpy pytest "cohere>=5" >&2
  touch "$VENV/.crossrank-ready"
fi
echo "$VENV/bin/python"
