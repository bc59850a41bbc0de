#!/usr/bin/env bash
# Load test of `crossrank serve` with wrk (apt-get install wrk) on 127.0.0.1:
#   1. sweep: concurrency 1..64, each connection posting 20-document TEI /rerank bodies
#      (32 distinct bodies, score cache off) -> table of req/s, pairs/s, p50/p99 latency,
#      HTTP statuses and server RSS;
#   2. overload: --max-concurrent-pairs sized for CAP concurrent requests, driven with
#      2 x CAP connections -> only 200 and 429 allowed, server still healthy, RSS flat;
#   3. SIGTERM -> the server must exit 0.
# Usage: scripts/loadtest.sh [options]
#   --bin PATH        crossrank binary (default build/crossrank)
#   --model NAME      model (default synthetic:ms-marco-MiniLM-L-6-v2)
#   --duration S      seconds per level (default 15)
#   --levels "..."    concurrency levels (default "1 2 4 8 16 32 64")
#   --words N         words per document (default 20)
#   --cap N           overload phase: admitted requests (default 8; pairs = 20 x N)
#   --port P          port (default 20080)
#   --threads N       server compute threads (default 0 = all cores)
# Every wrk run is bounded (timeout), the server is always stopped on exit.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=$ROOT/build/crossrank
MODEL=synthetic:ms-marco-MiniLM-L-6-v2
DUR=15
LEVELS="1 2 4 8 16 32 64"
WORDS=20
CAP=8
PORT=20080
THREADS=0
while [ $# -gt 0 ]; do
  case $1 in
    --bin) BIN=$2; shift 2;;
    --model) MODEL=$2; shift 2;;
    --duration) DUR=$2; shift 2;;
    --levels) LEVELS=$2; shift 2;;
    --words) WORDS=$2; shift 2;;
    --cap) CAP=$2; shift 2;;
    --port) PORT=$2; shift 2;;
    --threads) THREADS=$2; shift 2;;
    *) echo "unknown option $1" >&2; exit 2;;
  esac
done
command -v wrk >/dev/null || { echo "wrk not found (apt-get install wrk)" >&2; exit 2; }
[ -x "$BIN" ] || { echo "$BIN not found (build first or pass --bin)" >&2; exit 2; }
WORK=$(mktemp -d /tmp/crossrank_load.XXXXXX)
source "$ROOT/scripts/serve_lib.sh"

# wrk script: 32 deterministic 20-document bodies, rotated; per-status counts in done().
python3 "$ROOT/scripts/loadgen.py" --words "$WORDS" --lua "$WORK/load.lua"

rss_mb() { awk '/VmRSS/ {printf "%.1f", $2/1024}' "/proc/$SERVER_PID/status" 2>/dev/null || echo "?"; }

# ms from wrk's latency strings (e.g. 812.33us, 1.20s, 45.10ms, 2.00m).
to_ms() {
  awk -v v="$1" 'BEGIN {
    if (v ~ /us$/) { sub(/us$/, "", v); printf "%.1f", v / 1000 }
    else if (v ~ /ms$/) { sub(/ms$/, "", v); printf "%.1f", v }
    else if (v ~ /m$/) { sub(/m$/, "", v); printf "%.0f", v * 60000 }
    else if (v ~ /s$/) { sub(/s$/, "", v); printf "%.0f", v * 1000 }
    else print "?" }'
}

run_wrk() {  # connections seconds -> prints wrk output
  local c=$1 d=$2 t=2
  [ "$c" -lt 2 ] && t=1
  timeout $((d + 120)) wrk -t "$t" -c "$c" -d "${d}s" --timeout 120s --latency -s "$WORK/load.lua" \
    "http://127.0.0.1:$PORT/rerank"
}

echo "# crossrank serve load test"
echo "model=$MODEL words/doc~$WORDS docs/request=20 duration=${DUR}s/level cores=$(nproc) load=$(cut -d' ' -f1-3 /proc/loadavg)"
start_server --max-concurrent-pairs 4096
echo "server RSS after warm-up: $(rss_mb) MB"
echo
echo "| concurrency | req/s | pairs/s | p50 ms | p99 ms | statuses | RSS MB |"
echo "|---:|---:|---:|---:|---:|---|---:|"
for c in $LEVELS; do
  out=$(run_wrk "$c" "$DUR")
  rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
  p50=$(to_ms "$(echo "$out" | awk '$1 == "50%" {print $2}')")
  p99=$(to_ms "$(echo "$out" | awk '$1 == "99%" {print $2}')")
  st=$(echo "$out" | awk '/^STATUS/ {printf "%s%s:%s", sep, $2, $3; sep=" "}')
  err=$(echo "$out" | awk '/^ERRORS/ {print $2, $3, $4, $5}')
  [ "$err" != "connect=0 read=0 write=0 timeout=0" ] && st="$st ($err)"
  pps=$(awk -v r="$rps" 'BEGIN {printf "%.1f", r * 20}')
  echo "| $c | $rps | $pps | $p50 | $p99 | $st | $(rss_mb) |"
done
stop_server
rc=$STOP_RC
echo
echo "SIGTERM after the sweep: exit code $rc"
[ "$rc" = 0 ] || { echo "FAIL: server did not exit 0"; exit 1; }

# Overload: admission sized for CAP requests of 20 pairs, driven with 2 x CAP connections.
PAIRS=$((CAP * 20))
OVER=$((CAP * 2))
start_server --max-concurrent-pairs "$PAIRS" --max-client-batch-size 20
RSS0=$(rss_mb)
: >"$WORK/rss.txt"
( while kill -0 "$SERVER_PID" 2>/dev/null; do rss_mb >>"$WORK/rss.txt"; echo >>"$WORK/rss.txt"; sleep 1; done ) &
SAMPLER=$!
out=$(run_wrk "$OVER" $((DUR * 2)))
kill "$SAMPLER" 2>/dev/null || true
wait "$SAMPLER" 2>/dev/null || true
healthy=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/health")
RSS1=$(rss_mb)
st=$(echo "$out" | awk '/^STATUS/ {printf "%s%s:%s", sep, $2, $3; sep=" "}')
bad=$(echo "$out" | awk '/^STATUS/ && $2 != 200 && $2 != 429 {n += $3} END {print n + 0}')
n429=$(echo "$out" | awk '/^STATUS/ && $2 == 429 {print $3}')
rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
# RSS per quarter of the run (max of each): flat = no growth after the first quarter.
quarters=$(awk 'NF {v[++n] = $1} END {for (q = 0; q < 4; q++) {m = 0; for (i = int(q * n / 4) + 1; i <= int((q + 1) * n / 4); i++) if (v[i] > m) m = v[i]; printf "%s%s", (q ? " / " : ""), m}}' "$WORK/rss.txt")
echo
echo "## Overload: --max-concurrent-pairs $PAIRS ($CAP requests), $OVER connections for $((DUR * 2)) s"
echo "statuses: $st   (req/s incl. 429s: $rps)"
echo "other statuses: $bad   /health after: $healthy   RSS before/after: $RSS0 / $RSS1 MB   RSS max per quarter of the run: $quarters MB"
stop_server
rc=$STOP_RC
echo "SIGTERM after overload: exit code $rc"
if [ "$bad" != 0 ] || [ "$healthy" != 200 ] || [ "$rc" != 0 ] || [ -z "$n429" ]; then
  echo "FAIL: overload check (need only 200/429, some 429s, healthy, exit 0)"
  exit 1
fi
echo "PASS"
