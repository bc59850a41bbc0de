#!/usr/bin/env bash
# The Hugging Face Hub stand-in against the real huggingface_hub client, and the cache
# shared both ways with crossrank (scripts/test_hub_client.py). Creates (once per pinned
# version) build/hubvenv with huggingface_hub from PyPI; everything else is loopback.
# Usage: scripts/test_hub_client.sh --bin build/crossrank      Env: PYTHON, CROSSRANK_HUBVENV
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${CROSSRANK_HUBVENV:-$PWD/build/hubvenv}
export PIP_DISABLE_PIP_VERSION_CHECK=1
REQS=(huggingface_hub==2.4.0)
STAMP="$VENV/.crossrank-ready-$(printf '%s\n' "${REQS[@]}" | sha1sum | cut -c1-12)"
if [ ! -f "$STAMP" ]; then
  mkdir -p "$(dirname "$VENV")"
  [ -x "$VENV/bin/python" ] || "${PYTHON:-python3}" -m venv "$VENV" >&2
  "$VENV/bin/python" -m pip install -q "${REQS[@]}" >&2
  rm -f "$VENV"/.crossrank-ready*
  touch "$STAMP"
fi
exec "$VENV/bin/python" scripts/test_hub_client.py "$@"
