"""Fixtures for the attack tests: real uvicorn processes (the e2e harness) and attack helpers."""

from __future__ import annotations

import time

import pytest

from tests.e2e.conftest import start_servers  # noqa: F401  (the fixture, shared with tests/e2e)


@pytest.fixture
def window_guard():
    """``window_guard(period_s)``: wait out the last 3 s of a fixed rate-limit window before an attack.

    The limiter's windows are aligned to the period, so a burst that straddles
    a boundary would get two budgets; waiting makes "exactly the limit" exact.
    """

    def guard(period_s: int) -> None:
        left = period_s - (time.time() % period_s)
        if left < 3:
            time.sleep(left + 0.05)

    return guard


def _live_server_backlog(size: int = 256) -> None:
    """Let ``live_server`` queue 100 simultaneous connections (Django's default listen backlog is 10)."""
    from django.core.servers.basehttp import WSGIServer

    WSGIServer.request_queue_size = size


_live_server_backlog()


def web_script_server(env: dict):
    """``scripts/web.sh`` (the Procfile's web process, as ``make run`` starts it) on loopback.

    The e2e harness's ``Server`` with another command: same readiness wait and stop.
    """
    import sys
    from pathlib import Path

    from tests.e2e.conftest import ROOT, Server, free_port

    port = free_port()
    (ROOT / ".run").mkdir(exist_ok=True)
    env = {**env, "HOST": "127.0.0.1", "PORT": str(port), "UVICORN": str(Path(sys.executable).parent / "uvicorn")}
    command = ["bash", str(ROOT / "scripts" / "web.sh"), "--log-level", "warning"]
    return Server(port, env, command=command, log_name="security-web")


@pytest.fixture
def web_server(transactional_db):
    """``web_server(**env)``: start ``scripts/web.sh`` (as ``make run`` does) on the test DB and Redis."""
    import os

    from django.conf import settings

    from tests.e2e.conftest import child_database_url

    started = []

    def start(**extra_env):
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings.test",
            "DATABASE_URL": child_database_url(),
            "REDIS_URL": settings.REDIS_URL,
            "REDIS_KEY_PREFIX": settings.REDIS_KEY_PREFIX,
            "MAP_TICKER_ENABLED": "false",
            "PYTHONUNBUFFERED": "1",
            **{k: str(v) for k, v in extra_env.items()},
        }
        server = web_script_server(env)
        started.append(server)
        server.wait_ready()
        return server

    yield start
    for server in started:
        server.stop()
