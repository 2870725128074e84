#!/usr/bin/env bash
# Provision everything Rendezvous needs on Debian/Ubuntu, idempotently, then
# optionally exec a command in the same environment (.env loaded, URLs exported).
#
#   scripts/setup.sh [STEP...] [-- COMMAND ARGS...]
#
# Steps (default: all of them, in this order):
#   packages  apt packages that are missing (GDAL/GEOS/PROJ, python3-venv,
#             PostgreSQL+PostGIS and Redis unless already reachable or external)
#   services  start PostgreSQL/Redis if not reachable; create role, database, postgis
#   venv      .venv + pip install -r requirements.txt (only when it changed)
#   app       manage.py migrate --noinput && collectstatic --noinput
set -euo pipefail
# shellcheck source=scripts/services.sh
source "$(dirname "${BASH_SOURCE[0]}")/services.sh"

PYTHON=${PYTHON:-python3}
VENV=$ROOT/.venv
STAMP=$VENV/.requirements.sha256
mkdir -p "$RUN_DIR"   # redis data, celerybeat schedule, logs

# .env on the first run (mode 0600): a random DJANGO_SECRET_KEY, and the settings
# that let `make run` (DEBUG off) serve plain http on localhost. An existing .env
# is kept; only a missing DJANGO_SECRET_KEY is appended. Then .env is (re)loaded.
ensure_dotenv() {
  local file=$ROOT/.env key
  key=$("$PYTHON" -c 'import secrets; print(secrets.token_urlsafe(64))' 2>/dev/null ||
    head -c 48 /dev/urandom | base64 | tr -d '\n/+=')
  if [[ ! -f $file ]]; then
    log "creating .env (mode 0600) with a random DJANGO_SECRET_KEY"
    (
      umask 077
      cat >"$file" <<EOF_ENV
# Written by scripts/setup.sh on its first run. Secret: never commit or share it.
# Every variable is explained in .env.example; the environment wins over this file.
DJANGO_SECRET_KEY=$key
# make run serves plain http on localhost with DEBUG off: no https redirect,
# no https-only cookies, no HSTS. Remove these lines behind TLS (docs/security.md).
SECURE_SSL_REDIRECT=false
SESSION_COOKIE_SECURE=false
CSRF_COOKIE_SECURE=false
SECURE_HSTS_SECONDS=0
EOF_ENV
    )
  elif ! grep -qE '^[[:space:]]*(export[[:space:]]+)?DJANGO_SECRET_KEY=.{50,}' "$file"; then
    log "adding a random DJANGO_SECRET_KEY to .env"
    printf '\n# Added by scripts/setup.sh. Secret: never commit or share it.\nDJANGO_SECRET_KEY=%s\n' "$key" >>"$file"
  fi
  chmod 600 "$file"
  load_env
  # uvicorn reads FORWARDED_ALLOW_IPS itself (default 127.0.0.1): exported empty, every
  # server started from here (web.sh, demo, bench, e2e tests) trusts no proxy headers.
  export FORWARDED_ALLOW_IPS=${FORWARDED_ALLOW_IPS-}
}

python_packages() {
  PY_PKGS=()
  command -v "$PYTHON" >/dev/null || PY_PKGS+=(python3)
  "$PYTHON" -c 'import ensurepip, venv' 2>/dev/null || PY_PKGS+=(python3-venv)
}

step_packages() {
  python_packages
  service_packages
  ensure_packages gdal-bin libgdal-dev libgeos-dev libproj-dev binutils \
    "${PY_PKGS[@]}" "${SERVICE_PKGS[@]}"
}

step_services() { start_postgres; start_redis; }

step_venv() {
  if ! "$VENV/bin/python" -c '' 2>/dev/null; then
    [[ -x $VENV/bin/python ]] || { python_packages; ensure_packages "${PY_PKGS[@]}"; }
    log "creating .venv"
    "$PYTHON" -m venv --clear "$VENV"
  fi
  if [[ ! -f requirements.txt ]]; then
    warn "requirements.txt not found: skipping pip install"
    return 0
  fi
  local sum
  sum=$(cat requirements.txt <("$VENV/bin/python" -VV) | sha256sum | cut -d' ' -f1)
  if [[ $(cat "$STAMP" 2>/dev/null) == "$sum" ]]; then
    log "requirements.txt unchanged since last install"
    return 0
  fi
  log "pip install -r requirements.txt"
  "$VENV/bin/pip" install -q --disable-pip-version-check -r requirements.txt
  echo "$sum" >"$STAMP"
}

step_app() {
  if [[ ! -f manage.py ]]; then
    warn "manage.py not found: skipping migrate/collectstatic"
    return 0
  fi
  log "manage.py migrate"
  "$VENV/bin/python" manage.py migrate --noinput
  log "manage.py collectstatic"
  "$VENV/bin/python" manage.py collectstatic --noinput -v 0
}

# Demo data, for `make run` only (the exec'd command is `honcho start`): the
# Helsinki POIs on the first start (skipped while places exist), then
# SEED_DEMO_USERS (default 200, 0 for none) demo users, idempotently. A failure
# only warns: the server still starts.
run_demo_data() {
  [[ -f manage.py ]] || return 0
  log "manage.py import_osm (Helsinki, first start only)"
  "$VENV/bin/python" manage.py import_osm --if-empty --no-progress ||
    warn "import_osm failed: starting without OpenStreetMap places"
  local count=${SEED_DEMO_USERS:-200}
  [[ $count =~ ^[0-9]+$ ]] || { warn "SEED_DEMO_USERS=$count is not a number: no demo users"; return 0; }
  ((count > 0)) || return 0
  log "manage.py seed_users --count $count"
  "$VENV/bin/python" manage.py seed_users --count "$count" --no-progress ||
    warn "seed_users failed: starting without demo users"
}

steps=()
while (($#)); do
  case $1 in
    --) shift; break ;;
    packages | services | venv | app) steps+=("$1"); shift ;;
    *) die "unknown step '$1' (packages services venv app)" ;;
  esac
done
((${#steps[@]})) || steps=(packages services venv app)
ensure_dotenv
for s in "${steps[@]}"; do "step_$s"; done

if (($#)); then
  if [[ $(basename "$1") == honcho && " ${*:2} " == *" start "* ]]; then run_demo_data; fi
  log "running: $*"
  exec "$@"
fi
log "setup done"
