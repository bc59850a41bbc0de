# Shared by the scripts that drive `crossrank serve` on loopback (loadtest.sh,
# online_offline.sh). Source it after setting BIN, MODEL, PORT, THREADS and WORK.
# Provides SERVER_PID, an EXIT trap that always stops the server and removes $WORK,
# start_server [extra serve args...] and stop_server (sets STOP_RC).
SERVER_PID=""
cleanup() {
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$SERVER_PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

# Starts the server (cache off) and waits up to 120 s for /health.
start_server() {
  "$BIN" serve --model "$MODEL" --host 127.0.0.1 --port "$PORT" --cache-mb 0 --threads "$THREADS" "$@" \
    >"$WORK/server.log" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 1 600); do
    if curl -sf -o /dev/null "http://127.0.0.1:$PORT/health"; then return 0; fi
    kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK/server.log" >&2; echo "server died" >&2; exit 1; }
    sleep 0.2
  done
  echo "server not healthy after 120 s" >&2
  exit 1
}

# SIGTERM, then the exit code in STOP_RC (call in this shell, not $(...): wait needs the
# server as our child).
STOP_RC=""
stop_server() {
  kill -TERM "$SERVER_PID"
  STOP_RC=0
  wait "$SERVER_PID" || STOP_RC=$?
  SERVER_PID=""
}
