"""Issue 7 item 5: a client on the same host cannot choose its throttle bucket with X-Forwarded-For.

Attack over the real server ``make run`` starts (``scripts/web.sh``): a local
client spends the login budget, then sends ``X-Forwarded-For`` with a fresh
address per request. Before the fix uvicorn ran with ``--proxy-headers``
trusting 127.0.0.1, so each spoofed address was a new bucket.
"""

from __future__ import annotations

import httpx
import pytest

pytestmark = pytest.mark.django_db(transaction=True)


def login(url: str, n: int, **headers) -> int:
    body = {"email": f"probe{n}@example.test", "password": "wrong-password"}
    return httpx.post(f"{url}/api/auth/login", json=body, headers=headers, timeout=20).status_code


def test_local_forwarded_for_does_not_change_the_bucket_by_default(web_server, window_guard):
    server = web_server(THROTTLE_LOGIN="3/hour", FORWARDED_ALLOW_IPS="")
    window_guard(3600)
    assert [login(server.url, n) for n in range(3)] == [401, 401, 401]
    spoofed = [login(server.url, 10 + n, **{"X-Forwarded-For": f"203.0.113.{n}"}) for n in range(5)]
    assert spoofed == [429] * 5


def test_forwarded_for_is_honoured_from_a_configured_proxy(web_server, window_guard):
    """Control: with FORWARDED_ALLOW_IPS naming the proxy (here loopback), each forwarded client has its own bucket."""
    server = web_server(THROTTLE_LOGIN="1/hour", FORWARDED_ALLOW_IPS="127.0.0.1")
    window_guard(3600)
    first = [login(server.url, n, **{"X-Forwarded-For": f"203.0.113.{n}"}) for n in range(3)]
    assert first == [401, 401, 401]
    assert login(server.url, 9, **{"X-Forwarded-For": "203.0.113.0"}) == 429
