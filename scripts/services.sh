#!/usr/bin/env bash
# Start / stop the local PostgreSQL and Redis that Rendezvous needs.
#   scripts/services.sh start    make both reachable (install, start, create role/db)
#   scripts/services.sh stop     stop the Redis that this script started (.run/redis.pid)
#   scripts/services.sh status   show what is reachable
# A service whose URL points at another host is never provisioned: we only wait for it.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

REDIS_PID=$RUN_DIR/redis.pid

# Service packages a machine still needs (into SERVICE_PKGS); nothing for a reachable/external service.
service_packages() {
  SERVICE_PKGS=()
  if is_local "$DB_HOST" && ! pg_ready; then
    resolve_pg_version
    SERVICE_PKGS+=("postgresql-$PG_VER" "postgresql-$PG_VER-postgis-3")
  fi
  if is_local "$REDIS_HOST" && ! redis_ready; then SERVICE_PKGS+=(redis-server); fi
}

# The postgresql-common cluster listening on $DB_PORT: "VERSION NAME STATUS", or nothing.
local_cluster() {
  command -v pg_lsclusters >/dev/null || return 0
  pg_lsclusters -h 2>/dev/null | awk -v p="$DB_PORT" '$3 == p { print $1, $2, $4; exit }'
}

start_postgres() {
  if ! is_local "$DB_HOST"; then
    log "PostgreSQL at $DB_HOST:$DB_PORT is external: waiting for it"
    wait_for "PostgreSQL ($DB_HOST:$DB_PORT)" 60 pg_ready
    return 0
  fi
  if pg_ready; then
    log "PostgreSQL already running on $DB_HOST:$DB_PORT"
  else
    resolve_pg_version
    ensure_packages "postgresql-$PG_VER" "postgresql-$PG_VER-postgis-3"
    local ver name status
    read -r ver name status <<<"$(local_cluster)"
    if [[ -z ${ver:-} ]]; then
      ver=$PG_VER name=main status=down
      if pg_lsclusters -h | awk '{ print $1, $2 }' | grep -qx "$ver main"; then name=rendezvous-$DB_PORT; fi
      log "creating PostgreSQL $ver cluster '$name' on port $DB_PORT"
      "${SUDO[@]}" pg_createcluster --locale C.UTF-8 -p "$DB_PORT" "$ver" "$name"
    fi
    if [[ $status != online ]]; then
      log "starting PostgreSQL $ver/$name (pg_ctlcluster)"
      "${SUDO[@]}" pg_ctlcluster "$ver" "$name" start
    fi
    wait_for "PostgreSQL ($DB_HOST:$DB_PORT)" 60 pg_ready
  fi
  provision_db
}

# Role (SUPERUSER, so pytest-django can create the test DB with postgis), database, extension.
provision_db() {
  if [[ $(local_cluster) != *online ]]; then
    log "PostgreSQL on port $DB_PORT is not a local cluster (Docker?): not creating role/database"
    return 0
  fi
  log "ensuring role '$DB_USER', database '$DB_NAME' and extension postgis"
  local psql=(psql -X -q -v ON_ERROR_STOP=1 -p "$DB_PORT" -v "user=$DB_USER" -v "pass=$DB_PASS" -v "db=$DB_NAME")
  (cd / && as_postgres "${psql[@]}" -d postgres) <<'SQL'
SET client_min_messages = warning;
SELECT format('CREATE ROLE %I', :'user') WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'user') \gexec
SELECT format('ALTER ROLE %I LOGIN SUPERUSER PASSWORD %L', :'user', :'pass') \gexec
SELECT format('CREATE DATABASE %I OWNER %I ENCODING ''UTF8'' TEMPLATE template0', :'db', :'user')
  WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = :'db') \gexec
\connect :"db"
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS postgis;
SQL
}

start_redis() {
  if ! is_local "$REDIS_HOST"; then
    log "Redis at $REDIS_HOST:$REDIS_PORT is external: waiting for it"
    wait_for "Redis ($REDIS_HOST:$REDIS_PORT)" 60 redis_ready
    return 0
  fi
  if redis_ready; then
    log "Redis already running on $REDIS_HOST:$REDIS_PORT"
    return 0
  fi
  ensure_packages redis-server
  # The package's postinst may have started a system Redis on this port.
  if redis_ready; then log "Redis running on $REDIS_HOST:$REDIS_PORT"; return 0; fi
  mkdir -p "$RUN_DIR"
  local bind=$REDIS_HOST
  [[ $bind == localhost ]] && bind=127.0.0.1
  log "starting redis on $bind:$REDIS_PORT (data, log and pid in .run/)"
  redis-server --daemonize yes --bind "$bind" --port "$REDIS_PORT" --dir "$RUN_DIR" \
    --pidfile "$REDIS_PID" --logfile "$RUN_DIR/redis.log"
  wait_for "Redis ($REDIS_HOST:$REDIS_PORT)" 30 redis_ready
}

stop_redis() {
  local pid
  pid=$(cat "$REDIS_PID" 2>/dev/null || true)
  if [[ -z $pid ]] || ! grep -q redis "/proc/$pid/comm" 2>/dev/null; then
    log "no Redis started by us (.run/redis.pid): nothing to stop"
    rm -f "$REDIS_PID"
    return 0
  fi
  log "stopping redis (pid $pid)"
  kill "$pid"
  for _ in $(seq 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
  kill -0 "$pid" 2>/dev/null && die "redis (pid $pid) did not stop"
  rm -f "$REDIS_PID"
}

status() {
  local s
  pg_ready && s=up || s=down; log "PostgreSQL $DB_HOST:$DB_PORT: $s"
  redis_ready && s=up || s=down; log "Redis $REDIS_HOST:$REDIS_PORT: $s"
}

# Sourced by setup.sh for its functions; run directly for a command.
[[ ${BASH_SOURCE[0]} == "$0" ]] || return 0
case ${1:-start} in
  start) start_postgres; start_redis ;;
  stop) stop_redis ;;
  status) status ;;
  *) die "usage: $0 start|stop|status" ;;
esac
