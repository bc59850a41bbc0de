#!/usr/bin/env bash
# The Hugging Face Hub stand-in against the real huggingface_hub client, and the cache
# shared both ways with crossrank (scripts/test_hub_client.py). Creates (once per pinned
# version) build/hubvenv-VERSION with huggingface_hub from PyPI; everything else is loopback.
# Usage: scripts/test_hub_client.sh [--hf-version 2.4.0] --bin build/crossrank
#   (0.36.2: the last 0.x, what transformers 4.x installs)        Env: PYTHON, CROSSRANK_HUBVENV
set -euo pipefail
cd "$(dirname "$0")/.."
HF_VERSION=2.4.0
if [ "${1:-}" = "--hf-version" ]; then HF_VERSION=$2; shift 2; fi
VENV=${CROSSRANK_HUBVENV:-$PWD/build/hubvenv-$HF_VERSION}
export PIP_DISABLE_PIP_VERSION_CHECK=1
REQS=("huggingface_hub==$HF_VERSION")
STAMP="$VENV/.crossrank-ready-$(printf '%s\n' "${REQS[@]}" | sha1sum | cut -c1-12)"
if [ ! -f "$STAMP" ]; then
  mkdir -p "$(dirname "$VENV")"
  [ -x "$VENV/bin/python" ] || "${PYTHON:-python3}" -m venv "$VENV" >&2
  "$VENV/bin/python" -m pip install -q "${REQS[@]}" >&2
  rm -f "$VENV"/.crossrank-ready*
  touch "$STAMP"
fi
exec "$VENV/bin/python" scripts/test_hub_client.py "$@"
