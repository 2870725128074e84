#!/usr/bin/env bash
# make bench: run the benchmark scenarios (bench/run.py) on this machine.
#
#   scripts/bench.sh [--quick] [--only radius,ingest,fanout,idle] [--profile]
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
exec .venv/bin/python bench/run.py "$@"
