"""Issue 7 item 1: no forgeable tokens, no settings in error pages, JSON errors in both modes.

Attacks: a token signed with the formerly published development key; a
request with ``Host: evil.com`` (Django's DEBUG page for it printed
``DATABASES`` and ``REDIS_URL``); an unknown URL and a CSRF failure, which
rendered HTML pages in DEBUG.
"""

from __future__ import annotations

import httpx
import jwt
import pytest
from django.test import Client

from tests.conftest import assert_error

pytestmark = pytest.mark.django_db

OLD_PUBLISHED_KEY = "dev-only-insecure-key-do-not-use-in-production"


@pytest.fixture(params=[True, False], ids=["debug", "production"])
def mode(request, settings):
    settings.DEBUG = request.param
    return request.param


def test_token_signed_with_the_old_published_key_is_refused(anon, make_user):
    user = make_user()
    forged = jwt.encode(
        {"token_type": "access", "user_id": str(user.pk), "jti": "x", "exp": 4102444800}, OLD_PUBLISHED_KEY, "HS256"
    )
    assert_error(anon.get("/api/auth/me", HTTP_AUTHORIZATION=f"Bearer {forged}"), 401)
    refresh = jwt.encode(
        {"token_type": "refresh", "user_id": str(user.pk), "jti": "y", "exp": 4102444800}, OLD_PUBLISHED_KEY, "HS256"
    )
    assert_error(anon.post("/api/auth/refresh", {"refresh": refresh}, format="json"), 401, "token_not_valid")


@pytest.mark.parametrize("path", ["/health", "/api/auth/me", "/admin/login/", "/nowhere"])
def test_bad_host_is_json_400_without_settings(mode, path):
    response = Client().get(path, HTTP_HOST="evil.com")
    error = assert_error(response, 400, "bad_request")
    assert "DATABASES" not in response.content.decode() and "REDIS" not in error["message"]


def test_unknown_url_is_json_404(mode):
    assert_error(Client().get("/definitely/not/here"), 404, "not_found")


def test_csrf_failure_is_json_403(mode):
    client = Client(enforce_csrf_checks=True)
    response = client.post("/admin/login/", {"username": "a@example.test", "password": "x"})
    assert_error(response, 403, "csrf_failed")


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("debug", ["true", "false"])
def test_real_server_answers_json_for_bad_host_and_unknown_urls(web_server, debug):
    env = {"DJANGO_DEBUG": debug}
    if debug == "false":
        env["SECURE_SSL_REDIRECT"] = "false"
    server = web_server(**env)
    bad_host = httpx.get(f"{server.url}/health", headers={"Host": "evil.com"}, timeout=10)
    assert bad_host.status_code == 400
    assert bad_host.json()["error"]["code"] == "bad_request"
    assert "DATABASES" not in bad_host.text
    missing = httpx.get(f"{server.url}/definitely/not/here", timeout=10)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
