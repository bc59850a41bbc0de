#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz: clang + ASan/UBSan) and runs each one bounded.
#   scripts/fuzz.sh [--seconds S | --runs N] [--build DIR] [--max-len N] [CAMPAIGN...]
# Campaigns (default: all):
#   request          rerank request bodies           http            the HTTP request path
#   tok-xlmr         XLM-R Unigram tokenizer          tok-bert        BERT WordPiece tokenizer
#   tok-qwen         the Qwen byte-level BPE (tests/data/tokenizers/qwen-bpe/small)
#   tokenizer-json   tokenizer.json                   config          config.json
#   safetensors      the safetensors header           pairs-jsonl     pairs.jsonl
#   v2               Open Inference Protocol v2 infer bodies (JSON and binary tensors) and paths
# --seconds S: each campaign runs S seconds (default 15: the CI bound); --runs N: each
# runs N executions (the long campaigns: `nice -n 19 scripts/fuzz.sh --runs 10000000`).
# Per campaign: corpus in DIR/corpus/NAME (grows), crashes in DIR/crashes/NAME-*, log in
# DIR/logs/NAME.log; a summary line "NAME: N execs, exit C" is printed. Exit 1 when any
# campaign found a crash.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$ROOT/build-fuzz
SECS=15
RUNS=""
MAXLEN=4096
CAMPAIGNS=()
while [ $# -gt 0 ]; do
  case $1 in
    --seconds) SECS=$2; shift 2;;
    --runs) RUNS=$2; shift 2;;
    --build) BUILD=$2; shift 2;;
    --max-len) MAXLEN=$2; shift 2;;
    -*) echo "unknown option $1" >&2; exit 2;;
    *) CAMPAIGNS+=("$1"); shift;;
  esac
done
[ ${#CAMPAIGNS[@]} -eq 0 ] && CAMPAIGNS=(request http tok-xlmr tok-bert tok-qwen tokenizer-json config safetensors pairs-jsonl v2)
command -v clang++ >/dev/null || { echo "clang++ not found (scripts/install-deps.sh installs it)" >&2; exit 2; }
cmake -S "$ROOT/tests/fuzz" -B "$BUILD" -G Ninja -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
ninja -C "$BUILD" >/dev/null
mkdir -p "$BUILD/crashes" "$BUILD/logs"

# Seeds (small: short inputs keep executions fast).
seed() { mkdir -p "$BUILD/corpus/$1"; printf "%b" "$3" >"$BUILD/corpus/$1/seed_$2"; }
seed request tei '\x00{"query":"what is panda?","texts":["hi","The giant panda"],"raw_scores":true,"return_text":true,"truncate":false,"truncation_direction":"left","instruction":"x"}'
seed request cohere '\x01{"model":"m","query":"q","documents":["a","b","c"],"top_n":2,"max_tokens_per_doc":16,"max_chunks_per_doc":3}'
seed request jina '\x02{"model":"m","query":"q","documents":[{"text":"a"},"b"],"top_n":1,"return_documents":false}'
seed request auto '\x03{"query":"q","documents":["a"],"return_documents":true,"raw_scores":null}'
seed http post '\x10POST /rerank HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 30\r\n\r\n{"query":"q","texts":["a","b"]}'
seed http chunked '\x05POST /v2/rerank HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1f\r\n{"query":"q","documents":["a"]}\r\n0\r\n\r\n'
seed http pipelined '\xffGET /health HTTP/1.1\r\n\r\nGET /info?model=m HTTP/1.0\r\nConnection: keep-alive\r\n\r\nPOST /v1/rerank HTTP/1.1\r\nContent-Length: 31\r\n\r\n{"query":"q","documents":["a"]}'
for t in tok-xlmr tok-bert tok-qwen; do
  seed $t ascii 'The giant panda eats bamboo.'
  seed $t unicode 'Ünïcödé 中文 日本語 한국어 😀 \xe2\x80\x8b\xc2\xa0 ﬁ Ⅻ'
  seed $t mixed 'don'"'"'t  split\tme\nnow, 3.14 e-mail@x.org [CLS] <s>'
done
seed tokenizer-json wordpiece '{"model":{"type":"WordPiece","unk_token":"[UNK]","continuing_subword_prefix":"##","max_input_chars_per_word":100,"vocab":{"[PAD]":0,"[UNK]":1,"[CLS]":2,"[SEP]":3,"hello":4,"world":5,"##s":6,"a":7}},"normalizer":{"type":"BertNormalizer","clean_text":true,"handle_chinese_chars":true,"strip_accents":null,"lowercase":true},"pre_tokenizer":{"type":"BertPreTokenizer"},"added_tokens":[{"id":0,"content":"[PAD]","special":true},{"id":1,"content":"[UNK]","special":true},{"id":2,"content":"[CLS]","special":true},{"id":3,"content":"[SEP]","special":true}]}'
seed tokenizer-json unigram '{"model":{"type":"Unigram","unk_id":3,"vocab":[["<s>",0.0],["<pad>",0.0],["</s>",0.0],["<unk>",0.0],["\\u2581hello",-1.5],["\\u2581world",-2.0],["o",-3.0],["\\u2581",-2.5]]},"normalizer":{"type":"Sequence","normalizers":[{"type":"Replace","pattern":{"String":"  "},"content":" "}]},"pre_tokenizer":{"type":"Metaspace","replacement":"\\u2581","add_prefix_space":true},"added_tokens":[{"id":0,"content":"<s>","special":true},{"id":1,"content":"<pad>","special":true},{"id":2,"content":"</s>","special":true},{"id":3,"content":"<unk>","special":true}]}'
cp "$ROOT/tests/data/models/tiny-xlmr/config.json" "$BUILD/corpus/config/seed_xlmr" 2>/dev/null || mkdir -p "$BUILD/corpus/config"
cp "$ROOT/tests/data/models/tiny-bert/config.json" "$BUILD/corpus/config/seed_bert" 2>/dev/null || true
python3 - "$BUILD/corpus/safetensors" <<'EOF'
import json, os, struct, sys
os.makedirs(sys.argv[1], exist_ok=True)
def write(name, header, data):
    h = json.dumps(header).encode()
    open(os.path.join(sys.argv[1], name), "wb").write(struct.pack("<Q", len(h)) + h + data)
write("seed_f32", {"a": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16]}, "__metadata__": {"format": "pt"}}, bytes(16))
write("seed_mixed", {"w": {"dtype": "BF16", "shape": [3], "data_offsets": [0, 6]}, "b": {"dtype": "F16", "shape": [1], "data_offsets": [6, 8]}}, bytes(8))
EOF
seed v2 json '\x00\x00\x00{"id":"1","parameters":{"normalize":true,"truncate":false,"instruction":"x"},"inputs":[{"name":"query","datatype":"BYTES","shape":[1],"data":["q"]},{"name":"documents","datatype":"BYTES","shape":[2],"data":[["a"],["b"]]}],"outputs":[{"name":"scores","parameters":{"binary_data":true}}]}'
seed v2 binary '\x01\xb8\x00{"inputs":[{"name":"query","datatype":"BYTES","shape":[1],"parameters":{"binary_data_size":5}},{"name":"documents","datatype":"BYTES","shape":[1],"parameters":{"binary_data_size":5}}]}\x01\x00\x00\x00q\x01\x00\x00\x00d'
seed v2 path '\x00\x00\x00/v2/models/m%2Dx/versions/1/infer\n{}'
seed pairs-jsonl basic '{"query":"q","document":"d"}\n\n{"query":"q2","passage":"p"}\n'

target_of() {
  case $1 in
    request) echo request_fuzz;; http) echo http_fuzz;; tok-*) echo tokenizer_fuzz;;
    tokenizer-json) echo tokenizer_json_fuzz;; config) echo config_fuzz;; safetensors) echo safetensors_fuzz;;
    pairs-jsonl) echo pairs_jsonl_fuzz;; v2) echo v2_fuzz;; *) echo "";;
  esac
}
dict_of() {
  case $1 in request) echo "-dict=$ROOT/tests/fuzz/request.dict";; http) echo "-dict=$ROOT/tests/fuzz/http.dict";; *) echo "";; esac
}

found=0
for c in "${CAMPAIGNS[@]}"; do
  t=$(target_of "$c")
  [ -n "$t" ] || { echo "unknown campaign $c" >&2; exit 2; }
  export CROSSRANK_FUZZ_TOKENIZER_DIR=""
  case $c in
    tok-xlmr) CROSSRANK_FUZZ_TOKENIZER_DIR=$ROOT/tests/data/tokenizers/xlmr-unigram;;
    tok-bert) CROSSRANK_FUZZ_TOKENIZER_DIR=$ROOT/tests/data/models/tiny-bert;;
    tok-qwen)
      CROSSRANK_FUZZ_TOKENIZER_DIR=$ROOT/tests/data/tokenizers/qwen-bpe/small
      [ -d "$CROSSRANK_FUZZ_TOKENIZER_DIR" ] || { echo "$c: skipped (no $CROSSRANK_FUZZ_TOKENIZER_DIR yet)"; continue; };;
  esac
  mkdir -p "$BUILD/corpus/$c"
  if [ -n "$RUNS" ]; then bound=(-runs="$RUNS"); else bound=(-max_total_time="$SECS"); fi
  rc=0
  # shellcheck disable=SC2046
  "$BUILD/$t" "${bound[@]}" -max_len="$MAXLEN" -timeout=60 -rss_limit_mb=2048 -malloc_limit_mb=1024 \
    -print_final_stats=1 $(dict_of "$c") -artifact_prefix="$BUILD/crashes/$c-" "$BUILD/corpus/$c" \
    >"$BUILD/logs/$c.log" 2>&1 || rc=$?
  execs=$(awk '/stat::number_of_executed_units/ {print $2}' "$BUILD/logs/$c.log")
  echo "$c: ${execs:-?} execs, exit $rc"
  if [ "$rc" != 0 ]; then
    found=1
    grep -E "ERROR|SUMMARY|==[0-9]+==|runtime error|deadly signal" "$BUILD/logs/$c.log" | head -8
  fi
done
exit $found
