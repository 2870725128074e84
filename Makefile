# Rendezvous developer commands. Everything provisions itself on Debian/Ubuntu:
# see docs/setup.md. Pass pytest arguments with ARGS, e.g. make test ARGS="-k auth -x".
SHELL := /bin/bash
SETUP := bash scripts/setup.sh
VENV := .venv/bin
ARGS ?=

.DEFAULT_GOAL := help
.PHONY: help setup run test lint fmt migrate bench demo clean-run status

help:
	@echo "make run        provision everything, then start web+worker+beat (honcho, Ctrl-C stops all)"
	@echo "make test       provision, then pytest \$$(ARGS)"
	@echo "make setup      provision only (packages, PostgreSQL, Redis, .venv, migrate, collectstatic)"
	@echo "make migrate    provision services + .venv, then manage.py migrate"
	@echo "make lint       ruff check + ruff format --check"
	@echo "make fmt        ruff format + ruff check --fix"
	@echo "make demo       serve in the background, simulate 200 walking clients for 60 s, print the summary"
	@echo "make bench      benchmark scenarios -> bench/results/*.json, bench/README.md (ARGS=\"--quick\")"
	@echo "make status     is PostgreSQL/Redis reachable?"
	@echo "make clean-run  stop the Redis that the scripts started (.run/redis.pid)"

setup:
	@$(SETUP)

# honcho gets --env /dev/null because setup.sh already loaded .env (the
# environment wins over .env, as in config/settings.py) and exported it;
# honcho's own .env loading would let .env win instead.
run:
	@$(SETUP) -- $(VENV)/honcho start -f Procfile --env /dev/null

test:
	@$(SETUP) -- $(VENV)/pytest $(ARGS)

migrate:
	@$(SETUP) packages services venv -- $(VENV)/python manage.py migrate --noinput

lint:
	@$(SETUP) venv -- bash -c '$(VENV)/ruff check . && $(VENV)/ruff format --check .'

fmt:
	@$(SETUP) venv -- bash -c '$(VENV)/ruff format . && $(VENV)/ruff check --fix .'

bench:
	@$(SETUP) -- bash scripts/bench.sh $(ARGS)

demo:
	@$(SETUP) -- bash scripts/demo.sh $(ARGS)

status:
	@bash scripts/services.sh status

clean-run:
	@bash scripts/services.sh stop
