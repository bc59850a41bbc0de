#!/usr/bin/env bash
# ONE command on a GPU machine: build crossrank with CUDA, run the GPU tests, run the bench
# sweep on the bge-reranker-v2-m3 and MiniLM shapes and the transformers fp16 peer on the
# same inputs, and write one Markdown report. Designed to finish in under 8 minutes on one
# GPU with nothing prepared there and no network.
#
#   bash scripts/gpu_check.sh [REPORT.md]
#
# Report: REPORT.md, else $OUT/gpu_report.md when $OUT is set, else ./gpu_report.md; the
# full log and the raw bench JSON go next to it.
#
# Needs on the GPU machine: nvcc, cmake (>= 3.24 for CUDA architecture "native"), ninja
# or make, g++, python3 (torch + transformers + sentence-transformers for the peer;
# skipped when missing). crossrank's Debian -dev packages (oneDNN, nlohmann-json,
# cpp-httplib, CLI11, utf8proc, GoogleTest) come from .gpu-bundle/debs, made beforehand by
# scripts/gpu_bundle.sh on a machine with apt, and are unpacked with `dpkg -x` (or ar+tar)
# into a private prefix ($CROSSRANK_DEPS_PREFIX, default /tmp/crossrank-deps), never over /.
# Packages already installed on the machine are used as they are (CROSSRANK_FORCE_BUNDLE=1
# unpacks the bundle anyway: how the flow is tested on a machine that has them).
#
# In this workplace (the `device` tool; the GPU machine has no network):
#   here, once:  bash scripts/gpu_bundle.sh            # ~20 MB into .gpu-bundle/ (git-ignored)
#   then:        run(command="bash scripts/gpu_check.sh", carry=[".gpu-bundle"], timeout_s=600)
#   The report comes back as $OUT/gpu_report.md (+ gpu_check.log, bench_*.json, peer_*.json).
#   Then give_back. A machine start costs 1-2 minutes of the 15-minute device budget. The
#   call sends the checkout the session started in: make sure it holds this code (main after
#   the merge), and make the bundle in that checkout.
#
# Phases (time boxes; a phase that overruns is cut and reported, the next one still runs;
# all end by CROSSRANK_GPU_DEADLINE, default 540 s; CROSSRANK_GPU_BUILD_BOX overrides the
# build's box, e.g. to try the flow on a slow machine with a larger deadline):
#   deps   unpack the bundle                                    ~5 s
#   build  -DCROSSRANK_WITH_CUDA=ON, CUDA arch native (fallback 90), targets
#          crossrank_cuda_tests + crossrank_cli, -j$(nproc)      box 240 s
#   tests  ctest -L gpu (every op vs the reference op per dtype, goldens, batch == single,
#          permutation, the 8192-token pair, NDCG vs fp32, OOM back-off)   box 150 s
#   bench  crossrank bench: v2-m3 seedlike (~200 tokens) fp16/bf16/fp32 x batch 1..64 and
#          100; v2-m3 512-token pairs; one 8192-token pair; MiniLM fp16/fp32   box 150 s
#   peer   sentence-transformers CrossEncoder fp16 on CUDA vs crossrank fp16, same pairs
#          and batches (scripts/gpu_peer.py)                    box 120 s
set -uo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd)
REPORT=${1:-}
if [ -z "$REPORT" ]; then
  if [ -n "${OUT:-}" ]; then REPORT=$OUT/gpu_report.md; else REPORT=$REPO/gpu_report.md; fi
fi
ART=$(dirname "$REPORT")
mkdir -p "$ART"
LOG=$ART/gpu_check.log
: >"$LOG"
export PREFIX=${CROSSRANK_DEPS_PREFIX:-/tmp/crossrank-deps}
export BUILD=${CROSSRANK_GPU_BUILD:-$REPO/build-gpu}
export NPROC=$(nproc) ART
T0=$(date +%s)
declare -A STATUS SECS

log() { echo "[gpu_check $(( $(date +%s) - T0 ))s] $*" | tee -a "$LOG" >&2; }
# run_phase NAME SECONDS CMD...: runs CMD (a command, or a function of this script) in a
# fresh bash with a time box; its output goes to the log.
# Every box ends by the deadline (CROSSRANK_GPU_DEADLINE, default 540 s after the start), so
# that the report is written inside a 600-second device call.
DEADLINE=${CROSSRANK_GPU_DEADLINE:-540}
run_phase() {
  local name=$1 box=$2 t=$(date +%s) rc
  shift 2
  local left=$(( DEADLINE - (t - T0) ))
  if [ "$left" -lt 15 ]; then
    STATUS[$name]="skipped (deadline ${DEADLINE}s reached)"
    SECS[$name]=0
    log "phase $name: ${STATUS[$name]}"
    return 1
  fi
  [ "$box" -gt "$left" ] && box=$left
  log "phase $name (box ${box}s): $*"
  if declare -F "$1" >/dev/null; then
    timeout --kill-after=10 "$box" bash -c "$(declare -f "$1"); $*" >>"$LOG" 2>&1
  else
    timeout --kill-after=10 "$box" "$@" >>"$LOG" 2>&1
  fi
  rc=$?
  SECS[$name]=$(( $(date +%s) - t ))
  case $rc in
    0) STATUS[$name]="ok" ;;
    124|137) STATUS[$name]="cut at ${box}s" ;;
    *) STATUS[$name]="failed (exit $rc)" ;;
  esac
  log "phase $name: ${STATUS[$name]} in ${SECS[$name]}s"
  return $rc
}

# ---- machine -----------------------------------------------------------------------------
GPU=$(nvidia-smi --query-gpu=name,driver_version,memory.total,compute_cap --format=csv,noheader 2>/dev/null | head -1)
NVCC=$(nvcc --version 2>/dev/null | tail -1)
log "GPU: ${GPU:-none visible}; $NVCC; $(cmake --version | head -1); $NPROC cores"

# ---- deps ----------------------------------------------------------------------------------
deps() {
  set -e
  have() { [ -e "/usr/include/$1" ] || [ -e "$PREFIX/usr/include/$1" ]; }
  if [ "${CROSSRANK_FORCE_BUNDLE:-0}" != 1 ] && have oneapi/dnnl/dnnl.hpp && have nlohmann/json.hpp && have httplib.h &&
     have CLI/CLI.hpp && have utf8proc.h && have gtest/gtest.h; then
    echo "deps: every header present"
    return 0
  fi
  [ -d .gpu-bundle/debs ] || { echo "deps: missing headers and no .gpu-bundle/debs (run scripts/gpu_bundle.sh where apt works)"; return 1; }
  mkdir -p "$PREFIX"
  for f in .gpu-bundle/debs/*.deb; do
    if command -v dpkg >/dev/null; then
      dpkg -x "$f" "$PREFIX"
    else
      local m
      m=$(ar t "$f" | grep '^data.tar')
      case $m in
        *.xz) ar p "$f" "$m" | tar -xJ -C "$PREFIX" ;;
        *.zst) ar p "$f" "$m" | zstd -d | tar -x -C "$PREFIX" ;;
        *) ar p "$f" "$m" | tar -xz -C "$PREFIX" ;;
      esac
    fi
    echo "deps: unpacked $(basename "$f")"
  done
}
run_phase deps 120 deps
export CMAKE_PREFIX_PATH="$PREFIX/usr${CMAKE_PREFIX_PATH:+:$CMAKE_PREFIX_PATH}"
ARCHLIB=$PREFIX/usr/lib/$(gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)
export LD_LIBRARY_PATH="$ARCHLIB${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
[ -d .gpu-bundle/shared/data ] && export CROSSRANK_SHARED_DIR=$REPO/.gpu-bundle/shared

# ---- build ---------------------------------------------------------------------------------
export GEN=""; command -v ninja >/dev/null && GEN="-G Ninja"
build() {
  local arch=native
  if ! cmake -S . -B "$BUILD" $GEN -DCMAKE_BUILD_TYPE=Release -DCROSSRANK_WITH_CUDA=ON \
       -DCMAKE_CUDA_ARCHITECTURES=$arch -DCROSSRANK_BUILD_BENCH=OFF -DCMAKE_PREFIX_PATH="$PREFIX/usr"; then
    arch=90
    rm -rf "$BUILD"
    cmake -S . -B "$BUILD" $GEN -DCMAKE_BUILD_TYPE=Release -DCROSSRANK_WITH_CUDA=ON \
      -DCMAKE_CUDA_ARCHITECTURES=$arch -DCROSSRANK_BUILD_BENCH=OFF -DCMAKE_PREFIX_PATH="$PREFIX/usr" || return 1
  fi
  echo "build: CUDA architectures $arch"
  cmake --build "$BUILD" --target crossrank_cuda_tests crossrank_cli -j "$NPROC"
}
run_phase build "${CROSSRANK_GPU_BUILD_BOX:-240}" build
export CLI=$BUILD/crossrank

# ---- tests ---------------------------------------------------------------------------------
TESTLOG=$ART/gpu_tests.log
if [ -x "$BUILD/tests/crossrank_cuda_tests" ]; then
  run_phase tests 150 ctest --test-dir "$BUILD" -L gpu -V --timeout 140 -j 4
  # ctest -V output is in the log; keep the tests' own lines for the report.
  grep -E '^[0-9]+: (\[ RUN|\[       OK|\[  FAILED|\[  SKIPPED|    \[|.*Failure|Expected|Which is|  Actual)' "$LOG" \
    | sed -E 's/^[0-9]+: //' >"$TESTLOG" || true
else
  STATUS[tests]="not run (no build)"
fi

# ---- bench ---------------------------------------------------------------------------------
bench() {
  set -e
  local common=(--backend cuda --gemm-seconds 0 --format json --max-seconds 0 --repeats 8)
  "$CLI" bench --model synthetic:bge-reranker-v2-m3 --dtype fp16,bf16,fp32 --batch-sizes 1,4,16,64,100 \
    --inputs seedlike --pairs 256 --measure-seconds 4 "${common[@]}" -o "$ART/bench_v2m3_seedlike.json"
  "$CLI" bench --model synthetic:bge-reranker-v2-m3 --dtype fp16 --batch-sizes 16,64 --inputs len:512 \
    --pairs 128 --measure-seconds 4 "${common[@]}" -o "$ART/bench_v2m3_len512.json"
  "$CLI" bench --model synthetic:bge-reranker-v2-m3 --dtype fp16 --batch-sizes 1 --inputs len:8192 \
    --pairs 2 --repeats 4 --backend cuda --gemm-seconds 0 --format json --max-seconds 0 -o "$ART/bench_v2m3_len8192.json"
  "$CLI" bench --model synthetic:ms-marco-MiniLM-L-6-v2 --dtype fp16,fp32 --batch-sizes 1,4,16,64 \
    --inputs seedlike --pairs 256 --measure-seconds 3 "${common[@]}" -o "$ART/bench_minilm_seedlike.json"
}
if [ -x "$CLI" ]; then run_phase bench 150 bench; else STATUS[bench]="not run (no build)"; fi

# ---- peer ----------------------------------------------------------------------------------
if [ -x "$CLI" ] && python3 -c 'import torch, transformers, sentence_transformers; assert torch.cuda.is_available()' 2>>"$LOG"; then
  run_phase peer 120 python3 scripts/gpu_peer.py --crossrank "$CLI" --models ms-marco-MiniLM-L-6-v2,bge-reranker-v2-m3 \
    --batch-size 64 --pairs 256 --time-cap 8 --output "$ART/peer.json"
else
  STATUS[peer]="not run (no CLI, or no torch / transformers / sentence-transformers with CUDA)"
fi

# ---- report --------------------------------------------------------------------------------
export GC_GPU="$GPU" GC_NVCC="$NVCC" GC_COMMIT="$(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
export GC_DIRTY="$(git status --porcelain 2>/dev/null | grep -v '^??' | wc -l)" GC_TOTAL=$(( $(date +%s) - T0 ))
export GC_ART="$ART" GC_REPORT="$REPORT" GC_TESTLOG="$TESTLOG"
for k in deps build tests bench peer; do export "GC_STATUS_$k=${STATUS[$k]:-not run}" "GC_SECS_$k=${SECS[$k]:-0}"; done
python3 - <<'PY' || { log "report: python failed; see $LOG"; cp "$LOG" "$REPORT"; }
import json, os, re, time
E = os.environ
art = E["GC_ART"]
out = []
w = out.append
w(f"# crossrank GPU check, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}\n")
w(f"- GPU: {E['GC_GPU'] or 'none visible'}")
w(f"- {E['GC_NVCC']}; commit {E['GC_COMMIT']}" + (f" (+{E['GC_DIRTY']} uncommitted changes)" if E['GC_DIRTY'] != '0' else ""))
w(f"- Total {E['GC_TOTAL']} s. Phases: " + ", ".join(f"{k} {E['GC_STATUS_'+k]} ({E['GC_SECS_'+k]} s)" for k in ["deps", "build", "tests", "bench", "peer"]))
w("")
# tests
w("## GPU tests (ctest -L gpu)\n")
lines = open(E["GC_TESTLOG"]).read().splitlines() if os.path.exists(E["GC_TESTLOG"]) else []
def names(tag):  # unique test names with that status (gtest repeats them in its summary)
    return sorted({re.sub(r" \(\d+ ms\)$", "", l.split("]", 1)[1].strip()).split(" # ")[0]
                   for l in lines if l.startswith(tag) and "]" in l and "test" not in l.split("]", 1)[1][:8]})
ok, fail, skip = names("[       OK"), names("[  FAILED"), names("[  SKIPPED")
w(f"{len(ok)} passed, {len(fail)} failed, {len(skip)} skipped" +
  (" (no usable GPU: every GPU test skips)" if skip and not ok and not fail else "") + ".\n")
for n in fail:
    w(f"- FAILED {n}")
meas = [l.strip() for l in lines if l.startswith("    [")]
if meas:
    w("\nMeasured (test output):\n\n```")
    w("\n".join(meas[:400]))
    w("```")
w("")
# bench
def load(name):
    p = os.path.join(art, name)
    try:
        return json.load(open(p))
    except Exception:
        return None
def table(j, title):
    if not j:
        w(f"### {title}\n\nnot run\n")
        return
    w(f"### {title}\n")
    w("| dtype | batch | p50 ms | p90 ms | ms/pair | pairs/s | tokens/pair | peak device MB | peak RSS MB | note |")
    w("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for r in j.get("results", []):
        if r.get("status") != "ok":
            w(f"| {r['dtype']} | {r['batch_size']} | | | | | | | | {r.get('status')}: {r.get('note','')} |")
            continue
        b = r["batch_ms"]
        f = lambda x, d=1: "-" if x is None else f"{x:.{d}f}"
        w(f"| {r['dtype']} | {r['batch_size']} | {f(b['p50'])} | {f(b['p90'])} | {f(r['pair_ms'],2)} | {f(r['pairs_per_s'])} | "
          f"{f(r['tokens_per_pair'],0)} | {f(r.get('peak_device_mb'),0)} | {f(r['peak_rss_mb'],0)} | {r.get('note','')} |")
    w("")
w("## Bench (crossrank bench --backend cuda)\n")
v2 = load("bench_v2m3_seedlike.json"); l512 = load("bench_v2m3_len512.json"); l8k = load("bench_v2m3_len8192.json")
mini = load("bench_minilm_seedlike.json")
table(v2, "bge-reranker-v2-m3 shape, seedlike pairs (70 % zh / 30 % en)")
table(l512, "bge-reranker-v2-m3 shape, 512-token pairs")
table(l8k, "bge-reranker-v2-m3 shape, one 8192-token pair")
table(mini, "ms-marco-MiniLM-L-6-v2 shape, seedlike pairs")
# targets
def pick(j, dtype, batch=None, key="pairs_per_s", best=True):
    if not j: return None
    rs = [r for r in j["results"] if r.get("status") == "ok" and r["dtype"] == dtype and (batch is None or r["batch_size"] == batch)]
    if not rs: return None
    v = [r["batch_ms"]["p50"] if key == "p50" else r[key] for r in rs]
    return max(v) if best else min(v)
def row(name, got, target, unit, higher=True):
    if got is None:
        return f"| {name} | not measured | {target} {unit} | - |"
    met = got >= target if higher else got <= target
    return f"| {name} | {got:.1f} {unit} | {'>=' if higher else '<='} {target} {unit} | {'met' if met else 'NOT met'} |"
w("## Targets (issue 11)\n")
w("| target | measured | goal | |")
w("|---|---:|---:|---|")
tp = v2 and v2.get("results") and [r for r in v2["results"] if r.get("status") == "ok"]
toks = None
if tp:
    t = [r["tokens_per_pair"] for r in tp if r["dtype"] == "fp16"]
    toks = sum(t) / len(t) if t else None
w(row(f"v2-m3 fp16 throughput, seedlike pairs (~{toks:.0f} tokens)" if toks else "v2-m3 fp16 throughput, seedlike pairs", pick(v2, "fp16"), 3200, "pairs/s"))
w(row("v2-m3 fp16 throughput, 512-token pairs", pick(l512, "fp16"), 1200, "pairs/s"))
w(row("v2-m3 fp16, batch of 100 pairs, p50", pick(v2, "fp16", 100, "p50"), 40, "ms", higher=False))
w(row("v2-m3 fp16, one 8192-token pair, p50", pick(l8k, "fp16", 1, "p50"), 50, "ms", higher=False))
peer = load("peer.json")
if peer:
    for m in peer.get("models", []):
        cr, st = m.get("crossrank", {}), m.get("st_fp16", {})
        if cr.get("pairs_per_s") and st.get("pairs_per_s"):
            w(row(f"{m['model']}: crossrank fp16 / sentence-transformers fp16 (batch {m['batch_size']})",
                  cr["pairs_per_s"] / st["pairs_per_s"], 2, "x"))
w("")
w("## Peer: sentence-transformers / transformers fp16 on the same GPU and inputs\n")
if peer:
    w("| model | system | pairs | pairs/s | tokens/s | note |")
    w("|---|---|---:|---:|---:|---|")
    for m in peer.get("models", []):
        if "error" in m:
            w(f"| {m['model']} | - | | | | error: {m['error']} |")
        for k in ("crossrank", "st_fp16"):
            if k not in m:
                continue
            r = m[k]
            w(f"| {m['model']} | {k} | {r.get('pairs','-')} | {r.get('pairs_per_s', float('nan')):.1f} | "
              f"{r.get('tokens_per_s', float('nan')):.0f} | {r.get('note','')} |")
else:
    w("not run (see the phases above)")
w("\nLog: gpu_check.log; raw bench results: bench_*.json.")
open(E["GC_REPORT"], "w").write("\n".join(out) + "\n")
PY
log "report: $REPORT"
# Exit status: the tests'.
[ "${STATUS[tests]:-}" = ok ]
