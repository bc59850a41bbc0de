#!/usr/bin/env bash
# Prepares .gpu-bundle/ (git-ignored) for scripts/gpu_check.sh on a GPU machine that has
# no network: the Debian packages crossrank builds with, downloaded (never installed)
# with `apt-get download`, and the text data the GPU tests and the bench read (subsets of
# ../shared/data). Run it HERE, on a machine with apt, before the device call; gpu_check.sh
# unpacks the packages with `dpkg -x` into a private prefix there.
#
# Usage: bash scripts/gpu_bundle.sh          (idempotent; ~10 MB of .deb files + ~9 MB of data)
set -euo pipefail
cd "$(dirname "$0")/.."
B=.gpu-bundle
mkdir -p "$B/debs" "$B/shared/data"

# What CMakeLists.txt finds (scripts/install-deps.sh), plus the runtime libraries the
# -dev packages point at: oneDNN (+ the OpenCL loader libdnnl2 links), nlohmann-json,
# cpp-httplib (header only as used), CLI11, utf8proc, GoogleTest.
PKGS=(libdnnl-dev libdnnl2 ocl-icd-libopencl1 nlohmann-json3-dev libcpp-httplib-dev libcli11-dev
      libutf8proc-dev libutf8proc2 libgtest-dev libgmock-dev)
missing=()
for p in "${PKGS[@]}"; do
  ls "$B/debs/${p}_"*.deb >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if ! (cd "$B/debs" && apt-get download "${missing[@]}"); then
    echo "gpu_bundle: apt-get download failed; refreshing the package lists (apt-get update) and retrying" >&2
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -qq
    (cd "$B/debs" && apt-get download "${missing[@]}")
  fi
fi

# Text data: the NDCG lists of the GPU tests (msmarco-trecdl, xquad-en) and the bench's
# seedlike pairs (text-corpora). SOURCES.md marks the folder as present.
SHARED="${CROSSRANK_SHARED_DIR:-../shared}"
for d in SOURCES.md msmarco-trecdl-subset xquad-zh-en text-corpora; do
  if [ -e "$SHARED/data/$d" ] && [ ! -e "$B/shared/data/$d" ]; then
    cp -r "$SHARED/data/$d" "$B/shared/data/"
  fi
done
[ -e "$B/shared/data/SOURCES.md" ] || echo "gpu_bundle: warning: no $SHARED/data (the NDCG test will skip)" >&2

chmod -R u+w "$B"
echo "gpu_bundle: $(du -sh "$B" | cut -f1) in $B ($(ls "$B/debs" | wc -l) packages)"
