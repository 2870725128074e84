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


class WebScriptServer:
    """``scripts/web.sh`` (the Procfile's web process) on loopback, on the test database and Redis."""

    def __init__(self, env: dict):
        import subprocess
        import sys
        from pathlib import Path

        from tests.e2e.conftest import ROOT, free_port

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        (ROOT / ".run").mkdir(exist_ok=True)
        self.log = open(ROOT / ".run" / f"security-web-{self.port}.log", "w")  # noqa: SIM115
        self.proc = subprocess.Popen(  # noqa: S603
            ["bash", str(ROOT / "scripts" / "web.sh"), "--log-level", "warning"],  # noqa: S607
            cwd=ROOT,
            env={
                **env,
                "HOST": "127.0.0.1",
                "PORT": str(self.port),
                "UVICORN": str(Path(sys.executable).parent / "uvicorn"),
            },
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )

    def wait_ready(self, timeout: float = 30.0) -> None:
        """Wait for ``/health/db`` 200; raises if the process exits or ``timeout`` seconds pass."""
        import httpx

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"scripts/web.sh on {self.port} exited with {self.proc.returncode}")
            try:
                if httpx.get(f"{self.url}/health/db", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise TimeoutError(f"scripts/web.sh on {self.port} not ready")

    def stop(self) -> None:
        """SIGTERM (then SIGKILL) this server only."""
        import signal
        import subprocess

        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        self.log.close()


@pytest.fixture
def web_server(transactional_db):
    """``web_server(**env)``: start ``scripts/web.sh`` (as ``make run`` does) on the test DB and Redis."""
    import os

    from django.conf import settings

    from tests.e2e.conftest import child_database_url

    started: list[WebScriptServer] = []

    def start(**extra_env) -> WebScriptServer:
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
        server = WebScriptServer(env)
        started.append(server)
        server.wait_ready()
        return server

    yield start
    for server in started:
        server.stop()
