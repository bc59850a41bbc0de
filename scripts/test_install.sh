#!/usr/bin/env bash
# An installed crossrank needs no source tree: `cmake --install` of an existing build to a
# temporary prefix, the prefix moved elsewhere, then, from an unrelated working directory
# and with no CROSSRANK_* variable pointing at data:
#   - the binary holds no path of the checkout or of its shared/ folder (strings),
#   - `score`, `bench` (seedlike inputs from the installed corpora), `eval` (an installed
#     dataset) and `serve` (TEI and v2 routes) run on synthetic models.
#   scripts/test_install.sh [BUILD_DIR]        (default build/; ~30 s)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$(cd "${1:-$ROOT/build}" && pwd)
WORK=$(mktemp -d /tmp/crossrank_install.XXXXXX)
SERVER_PID=""
cleanup() {
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok: $*"; }

cmake --install "$BUILD" --prefix "$WORK/stage" >"$WORK/install.log" || { cat "$WORK/install.log"; fail "cmake --install"; }
# Move the prefix: nothing may depend on where it was installed either.
mv "$WORK/stage" "$WORK/elsewhere"
PREFIX=$WORK/elsewhere
BIN=$PREFIX/bin/crossrank
[ -x "$BIN" ] || fail "no $BIN after install"
ok "installed to a prefix and moved it ($(du -sh "$PREFIX" | cut -f1))"

# No checkout path compiled in (the checkout, its build dir, the shared/ folder beside it).
for p in "$ROOT" "$BUILD" "$(cd "$ROOT/.." && pwd)/shared"; do
  if strings -n 8 "$BIN" | grep -F -q "$p"; then
    strings -n 8 "$BIN" | grep -F "$p" | head -5 >&2
    fail "the installed binary contains the path $p"
  fi
done
ok "the installed binary holds no path of the checkout ($ROOT)"

mkdir "$WORK/cwd"
cd "$WORK/cwd"
NOENV=(env -u CROSSRANK_SHARED_DIR -u CROSSRANK_TOKENIZER_DIR -u CROSSRANK_MODEL)
run() { "${NOENV[@]}" "$@"; }

# score: both built-in tokenizers (BERT WordPiece, XLM-R unigram).
for m in synthetic:tiny-bert synthetic:tiny-xlmr; do
  out=$(run "$BIN" score --model "$m" --query "what is a panda?" --doc "a bear from China" --doc "Paris") ||
    fail "score $m"
  [ "$(echo "$out" | grep -c '"score"')" = 2 ] || fail "score $m: $out"
done
ok "score on synthetic:tiny-bert and synthetic:tiny-xlmr"

# bench: seedlike pairs cut from the installed text corpora (not the built-in sample).
run "$BIN" bench --model synthetic:tiny-bert --batch-sizes 1 --repeats 1 --pairs 8 --max-seconds 5 --gemm-seconds 0 \
  --format json --output "$WORK/bench.json" >"$WORK/bench.log" 2>&1 || { cat "$WORK/bench.log"; fail "bench"; }
grep -q "$PREFIX/share/crossrank" "$WORK/bench.json" "$WORK/bench.log" ||
  { head -c 2000 "$WORK/bench.json"; fail "bench did not read the installed corpora"; }
ok "bench (seedlike inputs from $PREFIX/share/crossrank/data/text-corpora)"

# eval: an installed dataset, the first queries only.
run "$BIN" eval --model synthetic:tiny-bert --dataset wikiqa --queries 5 --format json --output "$WORK/eval.json" \
  >"$WORK/eval.log" 2>&1 || { cat "$WORK/eval.log"; fail "eval"; }
grep -q '"ndcg' "$WORK/eval.json" || { head -c 2000 "$WORK/eval.json"; fail "eval report"; }
ok "eval on the installed wikiqa"

# serve: the TEI and the v2 routes (env execs the server: $! is its pid).
"${NOENV[@]}" "$BIN" serve --model synthetic:tiny-bert --served-model-name ranker --host 127.0.0.1 --port 0 --cache-mb 0 \
  2>"$WORK/serve.log" &
SERVER_PID=$!
URL=""
for _ in $(seq 1 300); do
  URL=$(grep -o 'ready: POST http://127\.0\.0\.1:[0-9]*' "$WORK/serve.log" | head -1 | sed 's/ready: POST //') || true
  [ -n "$URL" ] && break
  kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK/serve.log"; fail "serve exited"; }
  sleep 0.2
done
[ -n "$URL" ] || { cat "$WORK/serve.log"; fail "serve not ready in 60 s"; }
curl -sf "$URL/v2/health/ready" >/dev/null || fail "serve: /v2/health/ready"
tei=$(curl -sf "$URL/rerank" -H 'Content-Type: application/json' \
  -d '{"query": "what is a panda?", "texts": ["a bear from China", "Paris"]}') || fail "serve: /rerank"
v2=$(curl -sf "$URL/v2/models/ranker/infer" -H 'Content-Type: application/json' -d '{"inputs": [
  {"name": "query", "datatype": "BYTES", "shape": [1], "data": ["what is a panda?"]},
  {"name": "documents", "datatype": "BYTES", "shape": [2], "data": ["a bear from China", "Paris"]}]}') ||
  fail "serve: v2 infer"
echo "$tei" | grep -q '"index"' || fail "serve: /rerank answered $tei"
echo "$v2" | grep -q '"FP32"' || fail "serve: v2 answered $v2"
kill -TERM "$SERVER_PID"
rc=0
wait "$SERVER_PID" || rc=$?
SERVER_PID=""
[ "$rc" = 0 ] || fail "serve exited $rc on SIGTERM"
ok "serve: /rerank and /v2/models/ranker/infer, clean exit on SIGTERM"
echo "installed binary runs without the source tree"
