#!/usr/bin/env bash
# Scale-out check: two `crossrank serve` replicas on loopback behind Debian's nginx
# (apt-get install nginx), using deploy/nginx.conf with the ports rewritten. nginx runs as
# a normal foreground process with its config and temp files in a temp dir.
# Sends requests through nginx, then checks every response and that BOTH replicas served
# (each replica's /metrics request counter), and cleans everything up.
#   scripts/test_nginx_replicas.sh [--bin build/crossrank] [--model synthetic:tiny-xlmr]
#                                  [--requests 40] [--base-port 20100]
# Ports: nginx on BASE, replicas on BASE+1 and BASE+2 (all >= 20000, loopback only).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=$ROOT/build/crossrank
MODEL=synthetic:tiny-xlmr
N=40
BASE=20100
while [ $# -gt 0 ]; do
  case $1 in
    --bin) BIN=$2; shift 2;;
    --model) MODEL=$2; shift 2;;
    --requests) N=$2; shift 2;;
    --base-port) BASE=$2; shift 2;;
    *) echo "unknown option $1" >&2; exit 2;;
  esac
done
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
[ -x "$NGINX" ] || { echo "nginx not found (apt-get install nginx)" >&2; exit 2; }
[ -x "$BIN" ] || { echo "$BIN not found (build first or pass --bin)" >&2; exit 2; }
[ "$BASE" -ge 20000 ] || { echo "--base-port must be >= 20000" >&2; exit 2; }

WORK=$(mktemp -d /tmp/crossrank_nginx.XXXXXX)
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  done
  rm -rf "$WORK"
}
trap cleanup EXIT

wait_healthy() {  # port pid
  for _ in $(seq 1 600); do
    if [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$1/health")" = 200 ]; then return 0; fi
    kill -0 "$2" 2>/dev/null || { echo "process $2 (port $1) died" >&2; cat "$WORK"/*.log >&2; exit 1; }
    sleep 0.2
  done
  echo "port $1 not healthy after 120 s" >&2
  exit 1
}

for i in 1 2; do
  port=$((BASE + i))
  "$BIN" serve --model "$MODEL" --host 127.0.0.1 --port "$port" --cache-mb 0 \
    --served-model-name "replica$i" >"$WORK/replica$i.log" 2>&1 &
  PIDS+=($!)
done
wait_healthy $((BASE + 1)) "${PIDS[0]}"
wait_healthy $((BASE + 2)) "${PIDS[1]}"

# deploy/nginx.conf with the listen port and upstream servers moved to the test ports.
sed -e "s/listen 8080;/listen 127.0.0.1:$BASE;/" \
    -e "s/127\.0\.0\.1:8081/127.0.0.1:$((BASE + 1))/" \
    -e "s/127\.0\.0\.1:8082/127.0.0.1:$((BASE + 2))/" \
    -e "s/^worker_processes auto;/worker_processes 1;/" \
    "$ROOT/deploy/nginx.conf" >"$WORK/nginx.conf"
# As root, nginx's workers would switch to "nobody", who cannot write the temp dir.
[ "$(id -u)" = 0 ] && sed -i '1i user root;' "$WORK/nginx.conf"
"$NGINX" -t -p "$WORK/" -c "$WORK/nginx.conf" -e "$WORK/error.log" 2>"$WORK/nginx_t.log" ||
  { cat "$WORK/nginx_t.log" >&2; exit 1; }
"$NGINX" -p "$WORK/" -c "$WORK/nginx.conf" -e "$WORK/error.log" -g 'daemon off;' 2>"$WORK/nginx.log" &
PIDS+=($!)
for _ in $(seq 1 100); do
  curl -s -o /dev/null --max-time 2 "http://127.0.0.1:$BASE/health" && break
  sleep 0.1
done

echo "sending $N requests through nginx on 127.0.0.1:$BASE (replicas on $((BASE + 1)), $((BASE + 2)))"
fail=0
for i in $(seq 1 "$N"); do
  case $((i % 3)) in
    0) path=/rerank; body="{\"query\":\"q$i\",\"texts\":[\"panda\",\"bamboo forest\",\"paris\"]}";;
    1) path=/v2/rerank; body="{\"model\":\"m\",\"query\":\"q$i\",\"documents\":[\"panda\",\"bamboo\"],\"top_n\":1}";;
    2) path=/v1/rerank; body="{\"query\":\"q$i\",\"documents\":[{\"text\":\"panda\"},\"bamboo\"]}";;
  esac
  code=$(curl -s -o "$WORK/resp.json" -w '%{http_code}' --max-time 30 -X POST -H 'Content-Type: application/json' \
    -d "$body" "http://127.0.0.1:$BASE$path")
  if [ "$code" != 200 ] || ! python3 -c "import json,sys; json.load(open(sys.argv[1]))" "$WORK/resp.json"; then
    echo "request $i ($path): HTTP $code $(head -c 200 "$WORK/resp.json")"
    fail=1
  fi
done

count() {  # port -> successful rerank requests over all routes
  curl -s --max-time 5 "http://127.0.0.1:$1/metrics" |
    awk '/^crossrank_requests_total\{/ && /outcome="success"/ {n += $2} END {print n + 0}'
}
c1=$(count $((BASE + 1)))
c2=$(count $((BASE + 2)))
echo "replica1 served $c1, replica2 served $c2 (total $((c1 + c2)) of $N)"
[ "$c1" -gt 0 ] && [ "$c2" -gt 0 ] || { echo "FAIL: a replica served nothing"; fail=1; }
[ $((c1 + c2)) -eq "$N" ] || { echo "FAIL: counts do not add up to $N"; fail=1; }
[ "$fail" = 0 ] && echo PASS || { echo FAIL; tail -5 "$WORK/error.log" 2>/dev/null; exit 1; }
