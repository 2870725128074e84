"""Issue 7 item 4: every throttle is atomic; 100 parallel requests let exactly the limit through.

Attack: fire 100 requests at once from one identity (before the fix DRF's
cache throttle read and wrote its history non-atomically, and 1 100 logins 20
at a time got no 429). The server is pytest-django's ``live_server`` (a real
multi-threaded HTTP server on the test database and Redis).
"""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from accounts.throttles import LoginAccountThrottle, LoginIPThrottle, RegisterIPThrottle
from core.ratelimit import UserThrottle
from tests.conftest import access_token
from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)

PARALLEL = 100
LIMIT = 10
RATE = f"{LIMIT}/hour"


def burst(send) -> list[int]:
    """Run ``send(i)`` for i in 0..99 on 100 threads at once; the sorted status codes."""
    with ThreadPoolExecutor(PARALLEL) as pool:
        return sorted(pool.map(send, range(PARALLEL)))


def post(url: str, **kwargs) -> int:
    for _ in range(3):  # the live server's listen backlog is small: retry a refused connection
        try:
            return httpx.post(url, timeout=30, **kwargs).status_code
        except httpx.ConnectError:
            continue
    raise AssertionError("connection refused three times")


def test_login_per_ip_lets_exactly_the_limit_through(live_server, monkeypatch, window_guard):
    monkeypatch.setattr(LoginIPThrottle, "rate", RATE)
    window_guard(3600)
    statuses = burst(
        lambda i: post(f"{live_server.url}/api/auth/login", json={"email": f"p{i}@example.test", "password": "x"})
    )
    assert statuses == [401] * LIMIT + [429] * (PARALLEL - LIMIT), statuses


def test_login_per_account_lets_exactly_the_limit_through(live_server, monkeypatch, window_guard):
    monkeypatch.setattr(LoginAccountThrottle, "rate", RATE)
    monkeypatch.setattr(LoginIPThrottle, "rate", "100000/hour")
    window_guard(3600)
    user = UserFactory()
    statuses = burst(
        lambda i: post(f"{live_server.url}/api/auth/login", json={"email": user.email, "password": f"guess-{i}"})
    )
    assert statuses == [401] * LIMIT + [429] * (PARALLEL - LIMIT), statuses


def test_register_per_ip_lets_exactly_the_limit_through(live_server, monkeypatch, window_guard):
    monkeypatch.setattr(RegisterIPThrottle, "rate", RATE)
    window_guard(3600)
    statuses = burst(lambda i: post(f"{live_server.url}/api/auth/register", json={"email": "not-an-email"}))
    assert statuses == [400] * LIMIT + [429] * (PARALLEL - LIMIT), statuses


def test_user_throttle_lets_exactly_the_limit_through(live_server, monkeypatch, window_guard):
    monkeypatch.setattr(UserThrottle, "rate", RATE)
    window_guard(3600)
    token = access_token(UserFactory())

    def get(_):
        for _ in range(3):
            try:
                return httpx.get(
                    f"{live_server.url}/api/auth/me", headers={"Authorization": f"Bearer {token}"}, timeout=30
                ).status_code
            except httpx.ConnectError:
                continue
        raise AssertionError("connection refused three times")

    statuses = burst(get)
    assert statuses == [200] * LIMIT + [429] * (PARALLEL - LIMIT), statuses


def test_admin_login_is_throttled_with_the_login_budget(live_server, monkeypatch, window_guard):
    monkeypatch.setattr(LoginIPThrottle, "rate", RATE)
    window_guard(3600)
    page = httpx.get(f"{live_server.url}/admin/login/", timeout=30)
    assert page.status_code == 200
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    cookies = {"csrftoken": page.cookies["csrftoken"]}

    statuses = burst(
        lambda i: post(
            f"{live_server.url}/admin/login/",
            data={"csrfmiddlewaretoken": csrf, "username": f"a{i}@example.test", "password": PASSWORD},
            cookies=cookies,
        )
    )
    # A failed admin login re-renders the form (200); past the budget it is 429.
    assert statuses == [200] * LIMIT + [429] * (PARALLEL - LIMIT), statuses
    # The API login shares that per-IP budget.
    assert post(f"{live_server.url}/api/auth/login", json={"email": "z@example.test", "password": "x"}) == 429
