#!/usr/bin/env bash
# make bench: run the benchmark scenarios (bench/run.py) on this machine.
#
#   scripts/bench.sh [--quick] [--only radius,rest,ingest,fanout,idle,scaling,chat] [--profile]
#
# Runs inside scripts/setup.sh (the Makefile does that): PostgreSQL and Redis are
# up and .env is loaded. The scenarios use their own databases (rendezvous_bench,
# rendezvous_bench_city; *_quick for --quick), created and migrated here, their own
# Redis key prefix (rdvbench) and their own uvicorn processes on loopback.
# Results: bench/results/*.json and bench/README.md (docs/bench.md explains them).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# 5 000 idle sockets need 5 000 descriptors on each side, in one process each.
want=65536
hard=$(ulimit -Hn)
if [[ $hard != unlimited && $hard -lt $want ]]; then want=$hard; fi
ulimit -n "$want" 2>/dev/null || true
echo "==> open files limit: $(ulimit -n)"
# The rest scenario drives REST with wrk (a Python client tops out near 400 req/s here).
if ! command -v wrk >/dev/null; then
  if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
    echo "==> installing wrk (apt)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q wrk >/dev/null || apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q wrk >/dev/null || true
  fi
  command -v wrk >/dev/null || echo "==> wrk not found: the rest scenario will report it (sudo apt-get install wrk)"
fi
# The scenarios of bench/run.py, then the chat scenario (bench/chat.py: rooms of members over real
# sockets, issue 9), quick with --quick. --only picks among radius,rest,ingest,fanout,idle,scaling,chat.
args=() quick=() only="radius,rest,ingest,fanout,idle,scaling,chat"
while [[ $# -gt 0 ]]; do
  case $1 in
    --only) only=$2; shift 2 ;;
    --quick) quick=(--quick); args+=("$1"); shift ;;
    *) args+=("$1"); shift ;;
  esac
done
run_only=$(tr ',' '\n' <<<"$only" | { grep -v '^chat$' || true; } | paste -sd, -)
if [[ -n $run_only ]]; then
  .venv/bin/python bench/run.py --only "$run_only" "${args[@]}"
fi
if [[ ,$only, == *,chat,* ]]; then
  .venv/bin/python bench/chat.py "${quick[@]}"
fi
