#!/usr/bin/env bash
# Builds the libFuzzer target for the rerank request decoder (tests/fuzz/request_fuzz.cc)
# with clang + ASan/UBSan and runs it for a bounded time.
#   scripts/fuzz.sh [SECONDS=60] [BUILD_DIR=build-fuzz]
# Crash inputs are written to $BUILD_DIR/crashes/; the corpus grows in $BUILD_DIR/corpus/.
set -euo pipefail
SECS=${1:-60}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${2:-$ROOT/build-fuzz}
command -v clang++ >/dev/null || { echo "clang++ not found (scripts/install-deps.sh installs it)" >&2; exit 2; }
cmake -S "$ROOT/tests/fuzz" -B "$BUILD" -G Ninja -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
ninja -C "$BUILD" request_fuzz
mkdir -p "$BUILD/corpus" "$BUILD/crashes"
# Seeds: byte 0 = dialect (0 TEI, 1 Cohere, 2 Jina, 3 auto), then a body.
seed() { printf "$1" > "$BUILD/corpus/seed_$2"; }
seed '\x00{"query":"what is panda?","texts":["hi","The giant panda"],"raw_scores":true,"return_text":true,"truncate":false,"truncation_direction":"right"}' tei
seed '\x01{"model":"m","query":"q","documents":["a","b","c"],"top_n":2,"max_tokens_per_doc":16}' cohere
seed '\x02{"model":"m","query":"q","documents":[{"text":"a"},"b"],"top_n":1,"return_documents":false}' jina
seed '\x03{"query":"q","documents":["a"]}' auto
seed '\x00{"query":"q","texts":[]}' empty
exec "$BUILD/request_fuzz" -max_total_time="$SECS" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
  -dict="$ROOT/tests/fuzz/request.dict" -artifact_prefix="$BUILD/crashes/" "$BUILD/corpus"
