#!/usr/bin/env bash
# Goodput under overload with clients that never back off (wrk ignores Retry-After and
# re-sends at once): --max-concurrent-pairs admits CAP requests of 20 pairs; wrk drives
# CAP connections (the unloaded figure), then 2 x CAP and 10 x CAP. For each level:
# successful pairs/s and the p99 latency of the successes (from the server's own
# crossrank_request_duration_seconds histogram, which counts successes only, interpolated
# inside its x1.5 buckets), and the 429 rate.
# Targets (issue 14): pairs/s at 2x and 10x >= 80 % of unloaded; p99 <= 2 x unloaded.
# Usage: scripts/overload_goodput.sh [--bin build/crossrank] [--model NAME] [--cap 4]
#          [--duration S] [--levels "1 2 10"] [--port P] [--threads T] [--no-check]
#          [--server-args "--reject-delay-ms 0 ..."]
# Prints a markdown table; exits 1 when a target is missed (unless --no-check).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=$ROOT/build/crossrank
MODEL=synthetic:ms-marco-MiniLM-L-6-v2
CAP=4
DUR=8
LEVELS="1 2 10"
PORT=20180
THREADS=0
CHECK=1
WORDS=20
SERVER_ARGS=""
while [ $# -gt 0 ]; do
  case $1 in
    --bin) BIN=$2; shift 2;;
    --model) MODEL=$2; shift 2;;
    --cap) CAP=$2; shift 2;;
    --duration) DUR=$2; shift 2;;
    --levels) LEVELS=$2; shift 2;;
    --port) PORT=$2; shift 2;;
    --threads) THREADS=$2; shift 2;;
    --no-check) CHECK=0; shift;;
    --server-args) SERVER_ARGS=$2; shift 2;;
    *) echo "unknown option $1" >&2; exit 2;;
  esac
done
command -v wrk >/dev/null || { echo "wrk not found (apt-get install wrk)" >&2; exit 2; }
[ -x "$BIN" ] || { echo "$BIN not found (build first or pass --bin)" >&2; exit 2; }
WORK=$(mktemp -d /tmp/crossrank_goodput.XXXXXX)
source "$ROOT/scripts/serve_lib.sh"
python3 "$ROOT/scripts/loadgen.py" --words "$WORDS" --lua "$WORK/load.lua"

scrape() { curl -sf "http://127.0.0.1:$PORT/metrics" >"$1"; }
# successes and p99 (ms) of the successes between two scrapes.
delta() {
  python3 - "$1" "$2" <<'EOF'
import re, sys
def load(p):
    ok, buckets = 0.0, {}
    for line in open(p):
        if line.startswith('crossrank_requests_total{route="/rerank",outcome="success"}'):
            ok = float(line.split()[-1])
        m = re.match(r'crossrank_request_duration_seconds_bucket\{le="([^"]+)"\} (\S+)', line)
        if m:
            buckets[float(m.group(1))] = float(m.group(2))
    return ok, buckets
ok0, b0 = load(sys.argv[1]); ok1, b1 = load(sys.argv[2])
n = ok1 - ok0
les = sorted(b1)
cum = [b1[le] - b0.get(le, 0.0) for le in les]
p99 = float("nan")
if n > 0:
    target = 0.99 * cum[-1]
    prev_le, prev_c = 0.0, 0.0
    for le, c in zip(les, cum):
        if c >= target:
            if le == float("inf"):
                p99 = prev_le
            else:  # linear inside the bucket
                p99 = prev_le + (le - prev_le) * ((target - prev_c) / max(c - prev_c, 1e-9))
            break
        prev_le, prev_c = le, c
print(int(n), "%.1f" % (p99 * 1000))
EOF
}

echo "# overload goodput: model=$MODEL cap=$CAP requests x 20 pairs, ${DUR}s per level, cores=$(nproc), load=$(cut -d' ' -f1-3 /proc/loadavg)"
echo "# cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
# shellcheck disable=SC2086
start_server --max-concurrent-pairs $((CAP * 20)) --max-client-batch-size 20 $SERVER_ARGS
echo
echo "| load | connections | ok pairs/s | vs unloaded | p99 ok ms | vs unloaded | 429/s | /health max ms |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|"
# One level: wrk with CAP*m connections for DUR seconds; sets pps, p99, r429, bad, hmax.
measure() {
  local m=$1 c=$((CAP * $1)) out n n429 prober
  scrape "$WORK/m0"
  # /health probed twice a second on fresh connections while wrk runs.
  ( end=$((SECONDS + DUR)); while [ $SECONDS -lt "$end" ]; do
      curl -s -o /dev/null -m 5 -w '%{time_total}\n' "http://127.0.0.1:$PORT/health" || echo 5; sleep 0.5; done ) >"$WORK/health" &
  prober=$!
  out=$(timeout $((DUR + 60)) wrk -t 2 -c "$c" -d "${DUR}s" --timeout 30s -s "$WORK/load.lua" "http://127.0.0.1:$PORT/rerank")
  wait "$prober" 2>/dev/null || true
  hmax=$(awk '{ms = $1 * 1000; if (ms > m) m = ms} END {printf "%.1f", m}' "$WORK/health")
  scrape "$WORK/m1"
  read -r n p99 < <(delta "$WORK/m0" "$WORK/m1")
  n429=$(echo "$out" | awk '/^STATUS 429/ {print $3}'); n429=${n429:-0}
  bad=$(echo "$out" | awk '/^STATUS/ && $2 != 200 && $2 != 429 {s += $3} END {print s + 0}')
  statuses=$(echo "$out" | grep ^STATUS | tr '\n' ' ')
  pps=$(awk -v n="$n" -v d="$DUR" 'BEGIN {printf "%.1f", n * 20 / d}')
  r429=$(awk -v n="$n429" -v d="$DUR" 'BEGIN {printf "%.0f", n / d}')
}
# Prints level m's row against the baseline; returns 1 when a check fails (msg says which).
row() {
  local m=$1 tag=$2
  rp=$(awk -v a="$pps" -v b="$base_pps" 'BEGIN {printf "%.2f", (b > 0 ? a / b : 0)}')
  rl=$(awk -v a="$p99" -v b="$base_p99" 'BEGIN {printf "%.2f", (b > 0 ? a / b : 0)}')
  echo "| ${m}x$tag | $((CAP * m)) | $pps | $rp | $p99 | $rl | $r429 | $hmax |"
  msg=""
  if [ "$bad" != 0 ]; then msg="statuses other than 200/429: $statuses"; return 1; fi
  if [ "$m" != 1 ] && [ "$CHECK" = 1 ]; then
    awk -v r="$rp" 'BEGIN {exit !(r >= 0.8)}' || { msg="goodput at ${m}x is $rp of unloaded (< 0.8)"; return 1; }
    awk -v r="$rl" 'BEGIN {exit !(r <= 2.0)}' || { msg="p99 at ${m}x is $rl x unloaded (> 2)"; return 1; }
  fi
  return 0
}
base_pps=""; base_p99=""; fail=0
for m in $LEVELS; do
  measure "$m"
  if [ -z "$base_pps" ]; then base_pps=$pps; base_p99=$p99; fi
  row "$m" "" && continue
  # Six-second windows on a shared machine are noisy: a failed level is measured once more,
  # with a fresh unloaded baseline just before it, and fails only if it fails again.
  echo "(re-measuring 1x and ${m}x after: $msg)"
  measure 1; base_pps=$pps; base_p99=$p99
  row 1 " (again)" || true
  measure "$m"
  row "$m" " (again)" || { echo "FAIL: $msg"; fail=1; }
done
healthy=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/health")
stop_server
echo
echo "/health after: $healthy   SIGTERM: exit $STOP_RC"
[ "$healthy" = 200 ] && [ "$STOP_RC" = 0 ] || fail=1
[ "$fail" = 0 ] && echo PASS || { echo FAIL; exit 1; }
