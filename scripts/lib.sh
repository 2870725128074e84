# shellcheck shell=bash disable=SC2034
# Shared helpers for scripts/setup.sh and scripts/services.sh (sourced, not run).
# Sets ROOT, RUN_DIR, SUDO, loads .env and parses DATABASE_URL / REDIS_URL.

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RUN_DIR=$ROOT/.run
cd "$ROOT" || exit 1

log() { printf '==> %s\n' "$*"; }
warn() { printf '==> WARNING: %s\n' "$*" >&2; }
die() { printf '==> ERROR: %s\n' "$*" >&2; exit 1; }

# Root runs commands directly; anyone else goes through sudo.
if [[ $EUID -eq 0 ]]; then SUDO=(); else SUDO=(sudo); fi
as_postgres() { if [[ $EUID -eq 0 ]]; then runuser -u postgres -- "$@"; else sudo -u postgres "$@"; fi; }

# Load KEY=VALUE lines from .env; variables already set in the environment win
# (same rule as django-environ's read_env(overwrite=False) in config/settings.py).
load_env() {
  [[ -f $ROOT/.env ]] || return 0
  local line key val
  while IFS= read -r line || [[ -n $line ]]; do
    line=${line#"${line%%[![:space:]]*}"}
    [[ -z $line || $line == \#* ]] && continue
    line=${line#export }
    key=${line%%=*} val=${line#*=}
    [[ $line == *=* && $key =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] || continue
    if [[ $val =~ ^\"(.*)\"$ || $val =~ ^\'(.*)\'$ ]]; then val=${BASH_REMATCH[1]}; fi
    [[ -n ${!key+x} ]] || export "$key=$val"
  done <"$ROOT/.env"
}

urldecode() { local s=${1//+/ }; printf '%b' "${s//%/\\x}"; }

# parse_url URL DEFAULT_PORT -> U_USER U_PASS U_HOST U_PORT U_PATH
parse_url() {
  local rest=${1#*://} auth="" hostport
  rest=${rest%%\?*}
  U_PATH=""
  if [[ $rest == */* ]]; then U_PATH=${rest#*/}; rest=${rest%%/*}; fi
  if [[ $rest == *@* ]]; then auth=${rest%@*}; hostport=${rest##*@}; else hostport=$rest; fi
  U_USER=$(urldecode "${auth%%:*}") U_PASS=""
  if [[ $auth == *:* ]]; then U_PASS=$(urldecode "${auth#*:}"); fi
  if [[ $hostport == \[* ]]; then   # [ipv6]:port
    U_HOST=${hostport#[} U_HOST=${U_HOST%%]*} U_PORT=${hostport##*]} U_PORT=${U_PORT#:}
  else
    U_HOST=${hostport%%:*} U_PORT=""
    if [[ $hostport == *:* ]]; then U_PORT=${hostport##*:}; fi
  fi
  U_HOST=${U_HOST:-localhost} U_PORT=${U_PORT:-$2}
}

is_local() { [[ $1 == localhost || $1 == 127.* || $1 == ::1 ]]; }
port_open() { timeout 2 bash -c "exec 3<>/dev/tcp/$1/$2" 2>/dev/null; }
pg_ready() {
  if command -v pg_isready >/dev/null; then pg_isready -q -h "$DB_HOST" -p "$DB_PORT"; else port_open "$DB_HOST" "$DB_PORT"; fi
}
redis_ready() { port_open "$REDIS_HOST" "$REDIS_PORT"; }

# wait_for NAME SECONDS CHECK_FUNCTION
wait_for() {
  local name=$1 secs=$2 check=$3 i
  for ((i = 0; i < secs * 2; i++)); do
    "$check" && return 0
    sleep 0.5
  done
  die "$name is not reachable after ${secs}s"
}

pkg_installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q '^install ok installed$'; }
apt_update_once() {
  [[ -n ${APT_UPDATED:-} ]] && return 0
  log "apt-get update"
  "${SUDO[@]}" apt-get update -q
  export APT_UPDATED=1
}
# ensure_packages PKG... : install only the missing ones (apt-get update only then).
ensure_packages() {
  local p missing=()
  for p in "$@"; do pkg_installed "$p" || missing+=("$p"); done
  ((${#missing[@]})) || return 0
  command -v apt-get >/dev/null || die "missing packages (${missing[*]}) and no apt-get: install them by hand"
  [[ $EUID -eq 0 ]] || command -v sudo >/dev/null || die "not root and no sudo: install ${missing[*]} by hand"
  apt_update_once
  log "installing ${missing[*]}"
  # C.UTF-8 so that the cluster PostgreSQL's postinst may create is UTF8.
  "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive LANG=C.UTF-8 LC_ALL=C.UTF-8 \
    apt-get install -y -q --no-install-recommends "${missing[@]}"
}

# PG_VER: $PG_VERSION, else an installed server (15 preferred), else the
# available one (15 preferred, else the newest with postgis-3 packaged).
resolve_pg_version() {
  [[ -n ${PG_VER:-} ]] && return 0
  PG_VER=${PG_VERSION:-}
  [[ -n $PG_VER ]] && return 0
  local installed
  installed=$(find /usr/lib/postgresql -path "*/bin/postgres" 2>/dev/null | cut -d/ -f5 | sort -n || true)
  if grep -qx 15 <<<"$installed"; then PG_VER=15; return 0; fi
  if [[ -n $installed ]]; then PG_VER=$(tail -n1 <<<"$installed"); return 0; fi
  apt_update_once
  if apt-cache show postgresql-15-postgis-3 >/dev/null 2>&1; then PG_VER=15; return 0; fi
  PG_VER=$(apt-cache pkgnames postgresql- | sed -n 's/^postgresql-\([0-9]\+\)-postgis-3$/\1/p' | sort -n | tail -n1)
  [[ -n $PG_VER ]] || die "no postgresql-N-postgis-3 package available from apt"
}

load_env
export DATABASE_URL=${DATABASE_URL:-postgis://rendezvous:rendezvous@127.0.0.1:5432/rendezvous}
export REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379/0}
export PORT=${PORT:-8000} HOST=${HOST:-127.0.0.1}
parse_url "$DATABASE_URL" 5432
DB_HOST=$U_HOST DB_PORT=$U_PORT DB_USER=${U_USER:-rendezvous} DB_PASS=$U_PASS DB_NAME=${U_PATH:-rendezvous}
parse_url "$REDIS_URL" 6379
REDIS_HOST=$U_HOST REDIS_PORT=$U_PORT
