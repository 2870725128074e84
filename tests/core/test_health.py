"""Health endpoints: their failure paths (the success paths are in tests/test_smoke.py).

``/health/redis`` is checked in process with ``REDIS_URL`` pointed at a closed
port. ``/health/db`` with PostgreSQL unreachable needs a process whose
database settings point elsewhere: that test starts a real server, in
``tests/e2e/test_promises_e2e.py``.
"""

from __future__ import annotations

import socket
from contextlib import contextmanager

import pytest

from core.redis import get_redis

pytestmark = pytest.mark.django_db


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def redis_unreachable(settings):
    """Point the shared Redis client at a closed port; always restore it."""
    original = settings.REDIS_URL
    settings.REDIS_URL = f"redis://127.0.0.1:{closed_port()}/0"
    get_redis.cache_clear()
    try:
        yield
    finally:
        settings.REDIS_URL = original
        get_redis.cache_clear()


@pytest.mark.parametrize("path", ["/health/redis", "/health/redis/"])
def test_health_redis_is_503_when_redis_is_unreachable(anon, settings, path):
    assert anon.get(path).status_code == 200  # positive control: the same path, Redis up
    with redis_unreachable(settings):
        response = anon.get(path)
        assert response.status_code == 503
        assert response.json() == {"error": {"code": "redis_unavailable", "message": "redis: ConnectionError"}}
        # the other probes do not depend on Redis
        assert anon.get("/health").json() == {"status": "ok"}
        assert anon.get("/health/db").json() == {"status": "ok"}
    assert anon.get(path).status_code == 200  # and back once Redis answers
