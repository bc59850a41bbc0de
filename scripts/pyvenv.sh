#!/usr/bin/env bash
# Creates (once per requirement set) the Python virtual environment the script-driven
# tests use and prints its python path: build/pyvenv with numpy, pytest, the client
# libraries the server is checked against (cohere SDK, litellm, the llama-index Jina and
# TEI rerank postprocessors) and schemathesis, all from PyPI with pinned versions. No
# system site packages, so a missing dependency fails here instead of being hidden; torch
# is never needed.
# A second set, "kserve", lives in its own venv (build/pyvenv-kserve) because the kserve
# SDK pins its own fastapi/pydantic/numpy: the Open Inference Protocol v2 clients
# (tritonclient[http], kserve) and the Kubernetes object validators (kubernetes-validate,
# jsonschema) of deploy/kserve.
# Usage: PY=$(scripts/pyvenv.sh [kserve])   Env: PYTHON (default python3), CROSSRANK_PYVENV.
set -euo pipefail
cd "$(dirname "$0")/.."
SET=${1:-default}
export PIP_DISABLE_PIP_VERSION_CHECK=1
case $SET in
  default)
    VENV=${CROSSRANK_PYVENV:-$PWD/build/pyvenv}
    REQS=(
      numpy pytest "cohere>=5"
      litellm==1.110.2
      llama-index-postprocessor-jinaai-rerank==0.6.0
      llama-index-postprocessor-tei-rerank==0.6.0
      schemathesis==4.32.5
    );;
  kserve)
    VENV=$PWD/build/pyvenv-kserve
    REQS=(
      numpy "tritonclient[http]==2.73.0" kserve==0.21.0
      kubernetes-validate==1.37.0 jsonschema==4.26.0 pyyaml
    );;
  *) echo "pyvenv.sh: unknown set '$SET' (default | kserve)" >&2; exit 2;;
esac
STAMP="$VENV/.crossrank-ready-$(printf '%s\n' "${REQS[@]}" | sha1sum | cut -c1-12)"
if [ ! -f "$STAMP" ]; then
  mkdir -p "$(dirname "$VENV")"
  [ -x "$VENV/bin/python" ] || "${PYTHON:-python3}" -m venv "$VENV" >&2
  "$VENV/bin/python" -m pip install -q "${REQS[@]}" >&2
  rm -f "$VENV"/.crossrank-ready*
  touch "$STAMP"
fi
echo "$VENV/bin/python"
