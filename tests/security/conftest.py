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
