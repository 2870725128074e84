"""Real server processes (uvicorn on loopback) for end-to-end tests over real sockets."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def child_database_url() -> str:
    """``DATABASE_URL`` of the database pytest-django made for this run (for child processes)."""
    db = connection.settings_dict
    host, port = db["HOST"] or "127.0.0.1", db["PORT"] or 5432
    return f"postgis://{db['USER']}:{db['PASSWORD']}@{host}:{port}/{db['NAME']}"


class Server:
    """One ``uvicorn config.asgi:application`` process on the test database and Redis."""

    def __init__(self, port: int, env: dict, command: list[str] | None = None, log_name: str = "e2e-server"):
        """Start ``command`` (default: uvicorn on ``config.asgi``) listening on 127.0.0.1:``port`` with ``env``."""
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.ws_url = f"ws://127.0.0.1:{port}/ws/"
        self.log = open(ROOT / ".run" / f"{log_name}-{port}.log", "w")  # noqa: SIM115
        if command is None:
            command = [
                sys.executable,
                "-m",
                "uvicorn",
                "config.asgi:application",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--lifespan",
                "on",
                "--no-proxy-headers",
                "--ws-max-size",
                "1048576",
                "--ws-per-message-deflate",
                "false",
                "--log-level",
                "warning",
            ]
        self.proc = subprocess.Popen(  # noqa: S603
            command,
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )

    def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server on {self.port} exited with {self.proc.returncode}")
            try:
                if httpx.get(f"{self.url}/health/db", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise TimeoutError(f"server on {self.port} not ready")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        self.log.close()


@pytest.fixture
def start_servers(transactional_db):
    """``start_servers(n, **env)``: start ``n`` server processes sharing the test DB and Redis."""
    started: list[Server] = []
    (ROOT / ".run").mkdir(exist_ok=True)

    def start(n: int = 1, **extra_env) -> list[Server]:
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings.test",
            "DATABASE_URL": child_database_url(),
            "REDIS_URL": settings.REDIS_URL,
            "REDIS_KEY_PREFIX": settings.REDIS_KEY_PREFIX,
            "MAP_PUBLISH_TICK_S": "0.5",
            "PYTHONUNBUFFERED": "1",
            **{k: str(v) for k, v in extra_env.items()},
        }
        servers = [Server(free_port(), env) for _ in range(n)]
        started.extend(servers)
        for server in servers:
            server.wait_ready()
        return servers

    yield start
    for server in started:
        server.stop()
