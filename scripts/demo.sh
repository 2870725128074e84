#!/usr/bin/env bash
# make demo: serve Rendezvous in the background (uvicorn with the map ticker, on the
# database and Redis that scripts/setup.sh provisioned), make sure demo users exist,
# run 200 simulated clients for 60 s, print their summary, then stop the server.
#
#   scripts/demo.sh [simulate_city options]    e.g. scripts/demo.sh --users 50 --duration 20
#
# Runs inside scripts/setup.sh (the Makefile does that), so .env is loaded and the
# services are up. Only the uvicorn process started here is stopped at the end.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PY=$ROOT/.venv/bin/python
USERS=${DEMO_USERS:-200}
mkdir -p "$RUN_DIR"

port=${DEMO_PORT:-$PORT}
if port_open 127.0.0.1 "$port"; then
  port=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  log "port ${DEMO_PORT:-$PORT} is busy: the demo server uses $port"
fi
url=http://127.0.0.1:$port

if "$PY" manage.py help seed_users >/dev/null 2>&1; then
  log "manage.py seed_users --count $USERS (idempotent)"
  "$PY" manage.py seed_users --count "$USERS"
else
  die "manage.py seed_users is not available: the demo needs demo users"
fi

# Every simulated client logs in from 127.0.0.1: the per-IP login throttle must
# allow them all at once. Only this demo server gets the raised limit.
log "starting uvicorn on $url (log: .run/demo-server.log)"
THROTTLE_LOGIN=${DEMO_THROTTLE_LOGIN:-100000/min} MAP_TICKER_ENABLED=true \
  "$ROOT/.venv/bin/uvicorn" config.asgi:application --host 127.0.0.1 --port "$port" \
  --lifespan on --ws-max-size 1048576 --ws-per-message-deflate false --no-proxy-headers --log-level warning \
  >"$RUN_DIR/demo-server.log" 2>&1 &
server_pid=$!
stop_server() {
  if kill -0 "$server_pid" 2>/dev/null; then
    log "stopping the demo server (pid $server_pid)"
    kill -TERM "$server_pid" 2>/dev/null || true
    for _ in $(seq 40); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.25; done
    kill -KILL "$server_pid" 2>/dev/null || true
  fi
}
trap stop_server EXIT INT TERM

healthy() { "$PY" -c 'import sys, httpx; sys.exit(httpx.get(sys.argv[1], timeout=2).status_code != 200)' "$url/health/db" 2>/dev/null; }
for _ in $(seq 120); do
  kill -0 "$server_pid" 2>/dev/null || die "the demo server exited (see .run/demo-server.log)"
  healthy && break
  sleep 0.5
done
healthy || die "the demo server is not healthy after 60 s"

"$PY" manage.py simulate_city --users "$USERS" --duration 60 --interval 2 --url "$url" \
  --server-pid "$server_pid" "$@"
