#!/usr/bin/env bash
# Online vs offline throughput on the same pairs (target: online >= 90 % of offline).
#   offline: `crossrank score --input` (Engine::score: length-sorted batches of
#            --batch-size) over R x 640 pairs, minus the time of a 1-pair run (model load);
#   online:  `crossrank serve` (cache off) driven by wrk with 32 connections, each request
#            one of the same 32 queries x 20 passages (TEI /rerank).
# Usage: scripts/online_offline.sh [--bin build/crossrank] [--model NAME] [--words N]
#          [--repeat R] [--duration S] [--batch-size B] [--threads T] [--rounds N] [--port P]
# --rounds N alternates offline and online N times and compares the medians (the
# machine may be shared: interleaving spreads the noise over both sides).
# --threads T goes to both sides (crossrank score --threads / crossrank serve --threads);
# on a small shared machine 1 avoids OpenMP barrier stalls under oversubscription.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=$ROOT/build/crossrank
MODEL=synthetic:ms-marco-MiniLM-L-6-v2
WORDS=20
REPEAT=3
DUR=30
BATCH=32
PORT=20090
THREADS=0
ROUNDS=1
while [ $# -gt 0 ]; do
  case $1 in
    --bin) BIN=$2; shift 2;;
    --model) MODEL=$2; shift 2;;
    --words) WORDS=$2; shift 2;;
    --repeat) REPEAT=$2; shift 2;;
    --duration) DUR=$2; shift 2;;
    --batch-size) BATCH=$2; shift 2;;
    --port) PORT=$2; shift 2;;
    --threads) THREADS=$2; shift 2;;
    --rounds) ROUNDS=$2; shift 2;;
    *) echo "unknown option $1" >&2; exit 2;;
  esac
done
command -v wrk >/dev/null || { echo "wrk not found (apt-get install wrk)" >&2; exit 2; }
WORK=$(mktemp -d /tmp/crossrank_onoff.XXXXXX)
source "$ROOT/scripts/serve_lib.sh"
now() { date +%s.%N; }

python3 "$ROOT/scripts/loadgen.py" --words "$WORDS" --lua "$WORK/load.lua" --pairs "$WORK/pairs.jsonl" --repeat "$REPEAT"
head -1 "$WORK/pairs.jsonl" >"$WORK/one.jsonl"
NPAIRS=$(wc -l <"$WORK/pairs.jsonl")
echo "model=$MODEL words/doc~$WORDS threads=$THREADS cores=$(nproc) load=$(cut -d' ' -f1-3 /proc/loadavg)"

# Offline: load time = best of two 1-pair runs, subtracted from each full run.
t_load=999999
for _ in 1 2; do
  t0=$(now); "$BIN" score -m "$MODEL" --threads "$THREADS" -i "$WORK/one.jsonl" -o /dev/null 2>/dev/null; t1=$(now)
  t_load=$(awk -v a="$t0" -v b="$t1" -v m="$t_load" 'BEGIN {d = b - a; print (d < m ? d : m)}')
done
offline_run() {
  local t0 t1
  t0=$(now)
  "$BIN" score -m "$MODEL" --threads "$THREADS" -i "$WORK/pairs.jsonl" -o "$WORK/offline.jsonl" --batch-size "$BATCH" 2>/dev/null
  t1=$(now)
  local pps
  pps=$(awk -v a="$t0" -v b="$t1" -v l="$t_load" -v n="$NPAIRS" 'BEGIN {printf "%.1f", n / (b - a - l)}')
  echo "  offline: crossrank score --batch-size $BATCH on $NPAIRS pairs: $(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.2f", b - a}') s - load $(printf '%.2f' "$t_load") s -> $pps pairs/s" >&2
  echo "$pps"
}

# Runs in this shell (not $(...)), so that the EXIT trap can always stop the server.
ONLINE_PPS=""
online_run() {
  start_server
  local out rps st pps batches busy
  out=$(timeout $((DUR + 120)) wrk -t 2 -c 32 -d "${DUR}s" --timeout 120s --latency -s "$WORK/load.lua" \
    "http://127.0.0.1:$PORT/rerank")
  rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
  st=$(echo "$out" | awk '/^STATUS/ {printf "%s%s:%s", sep, $2, $3; sep=" "}')
  pps=$(awk -v r="$rps" 'BEGIN {printf "%.1f", r * 20}')
  # Worker utilisation: forward-pass seconds / wall seconds (a pass still running at the
  # end is not counted, so this is a lower bound).
  curl -s "http://127.0.0.1:$PORT/metrics" >"$WORK/metrics.txt"
  batches=$(awk '/^crossrank_batch_size_(sum|count) / {v[$1] = $2} END {if (v["crossrank_batch_size_count"] > 0) printf "%.1f", v["crossrank_batch_size_sum"] / v["crossrank_batch_size_count"]}' "$WORK/metrics.txt")
  busy=$(awk -v d="$DUR" '/^crossrank_inference_duration_seconds_sum / {printf "%.0f", 100 * $2 / d}' "$WORK/metrics.txt")
  fwd=$(awk '/^crossrank_batch_size_sum / {p = $2} /^crossrank_inference_duration_seconds_sum / {t = $2} END {if (t > 0) printf "%.1f", p / t}' "$WORK/metrics.txt")
  stop_server
  echo "  online: 32 connections x 20 passages for ${DUR} s: $rps req/s -> $pps pairs/s (statuses $st; mean batch $batches pairs; worker in forward >= ${busy}% of the time, at $fwd pairs/s)" >&2
  ONLINE_PPS=$pps
}

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{v[NR] = $1} END {if (NR % 2) print v[(NR + 1) / 2]; else printf "%.1f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }

offs=""; ons=""
for r in $(seq 1 "$ROUNDS"); do
  echo "round $r/$ROUNDS (load $(cut -d' ' -f1 /proc/loadavg))"
  offs="$offs $(offline_run)"
  online_run
  ons="$ons $ONLINE_PPS"
done
off_m=$(echo "$offs" | median)
on_m=$(echo "$ons" | median)
echo "offline pairs/s:$offs (median $off_m)"
echo "online  pairs/s:$ons (median $on_m)"
echo "online/offline = $(awk -v a="$on_m" -v b="$off_m" 'BEGIN {printf "%.1f %%", 100 * a / b}')"
