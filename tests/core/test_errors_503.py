"""503 ``service_unavailable``: the REST API with Redis unreachable (docs/realtime.md "Frames", docs/security.md).

Redis is made unreachable by pointing ``REDIS_URL`` at a closed port and
dropping the cached client; the original is restored in a ``finally``. The
PostgreSQL-down case needs another process: ``tests/e2e/test_promises_e2e.py``.
"""

from __future__ import annotations

import pytest

from core.errors import SERVICE_RETRY_AFTER_S
from geo.models import LocationFix
from tests.conftest import assert_error

from .test_health import redis_unreachable

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("post", "/api/location", {"lat": 60.17, "lng": 24.94}),  # the location throttle counts in Redis
        ("get", "/api/users/me", None),  # every authenticated request counts against THROTTLE_USER in Redis
        ("get", "/api/map_nodes?lat=60.17&lng=24.94", None),  # presence (online) lives in Redis
    ],
)
def test_rest_answers_503_service_unavailable_when_redis_is_down(make_user, client_for, settings, method, path, body):
    user = make_user(sharing=True)
    client = client_for(user)
    call = getattr(client, method)

    def request():
        return call(path, body, format="json") if body is not None else call(path)

    assert request().status_code == 200  # positive control: the same request with Redis up
    LocationFix.objects.filter(user=user).delete()
    with redis_unreachable(settings):
        response = request()
        error = assert_error(response, 503, "service_unavailable")
        assert "redis" not in error["message"].lower()  # no internals
        assert response["Retry-After"] == str(SERVICE_RETRY_AFTER_S)
    if method == "post":
        assert not LocationFix.objects.filter(user=user).exists()  # nothing stored during the outage
    assert request().status_code == 200  # and back once Redis answers


def test_unauthenticated_login_is_503_not_500_when_redis_is_down(make_user, anon, settings):
    """The login throttle (per IP and per account) counts in Redis."""
    make_user(email="login503@example.test", password="correct horse battery")
    with redis_unreachable(settings):
        response = anon.post(
            "/api/auth/login", {"email": "login503@example.test", "password": "correct horse battery"}, format="json"
        )
        assert_error(response, 503, "service_unavailable")
    response = anon.post(
        "/api/auth/login", {"email": "login503@example.test", "password": "correct horse battery"}, format="json"
    )
    assert response.status_code == 200, response.content
