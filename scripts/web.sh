#!/usr/bin/env bash
# The web process of the Procfile (make run): uvicorn serving config.asgi on $HOST:$PORT.
#
# Proxy headers (X-Forwarded-For / X-Forwarded-Proto) are trusted only from the
# addresses in FORWARDED_ALLOW_IPS (comma-separated IPs or CIDRs). Unset or
# empty (the default): --no-proxy-headers, so no client, not even one on this
# host, can choose the address the throttles see. Behind a reverse proxy, list
# the proxy's address (docs/security.md). Extra uvicorn arguments pass through.
set -euo pipefail
# One worker process per core by default (uvicorn reads WEB_CONCURRENCY); the map tick,
# presence, rate limits and the reconnect streams are shared through Redis.
export WEB_CONCURRENCY=${WEB_CONCURRENCY:-$(nproc)}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

args=(config.asgi:application --host "${HOST:-127.0.0.1}" --port "${PORT:-8000}" --lifespan on
  --ws-max-size 1048576 --ws-per-message-deflate false)
if [[ -n ${FORWARDED_ALLOW_IPS:-} ]]; then
  args+=(--proxy-headers --forwarded-allow-ips "$FORWARDED_ALLOW_IPS")
else
  args+=(--no-proxy-headers)
fi
exec "${UVICORN:-$ROOT/.venv/bin/uvicorn}" "${args[@]}" "$@"
