"""The one error shape on the accounts surface: unknown URLs, wrong methods, media types, body limits."""

from __future__ import annotations

import pytest

from tests.conftest import assert_error

from .conftest import AUTH_ME, BLOCKED, LOGIN, LOGOUT, PREFERENCES, REFRESH, REGISTER, SEARCH, SETTINGS, USERS_ME

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("path", ["/api/nope", "/api/nope/", "/api/auth", "/api/users/me/extra", "/nothing-here"])
def test_unknown_url_is_404_json(anon, path):
    response = anon.get(path)
    assert response["Content-Type"].startswith("application/json")
    assert_error(response, 404, "not_found")


def test_unknown_url_is_404_json_when_authenticated_too(api):
    assert_error(api.post("/api/nope", {"x": 1}, format="json"), 404, "not_found")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", REGISTER),
        ("delete", LOGIN),
        ("get", REFRESH),
        ("put", LOGOUT),
        ("post", AUTH_ME),
        ("patch", AUTH_ME),
        ("delete", USERS_ME),
        ("post", SETTINGS),
        ("delete", PREFERENCES),
        ("post", BLOCKED),
        ("post", SEARCH),
    ],
)
def test_wrong_method_is_405(api, method, path):
    response = getattr(api, method)(path)
    assert_error(response, 405, "method_not_allowed")


def test_wrong_method_on_block_is_405(api, make_user):
    target = make_user()
    assert_error(api.get(f"/api/users/{target.pk}/block"), 405, "method_not_allowed")


def test_unsupported_media_type_is_415(anon):
    response = anon.post(LOGIN, data="email=a&password=b", content_type="text/plain")
    assert_error(response, 415, "unsupported_media_type")


def test_non_numeric_content_length_is_400(anon):
    response = anon.generic("POST", LOGIN, b"{}", content_type="application/json", CONTENT_LENGTH="lots")
    assert_error(response, 400, "bad_request")


@pytest.mark.parametrize("path", [LOGIN, REGISTER, REFRESH, LOGOUT])
def test_oversized_json_body_is_413_on_anonymous_endpoints(anon, settings, path):
    settings.REQUEST_MAX_BODY_BYTES = 1024
    response = anon.post(path, data='{"refresh": "' + "x" * 2000 + '"}', content_type="application/json")
    assert_error(response, 413, "payload_too_large")


@pytest.mark.parametrize("path", [USERS_ME, SETTINGS])
def test_oversized_json_body_is_413_on_authenticated_endpoints(api, user, settings, path):
    settings.REQUEST_MAX_BODY_BYTES = 1024
    response = api.patch(path, data='{"bio": "' + "x" * 2000 + '"}', content_type="application/json")
    assert_error(response, 413, "payload_too_large")
    user.refresh_from_db()
    assert "x" * 100 not in user.bio


def test_the_upload_limit_applies_to_multipart_not_json(api, user, settings):
    """A JSON body is bounded by REQUEST_MAX_BODY_BYTES even when uploads are allowed to be larger."""
    settings.REQUEST_MAX_BODY_BYTES = 1024
    settings.UPLOAD_MAX_BYTES = 10 * 1024 * 1024
    response = api.patch(USERS_ME, data='{"bio": "' + "x" * 2000 + '"}', content_type="application/json")
    assert_error(response, 413, "payload_too_large")


def test_throttled_response_uses_the_error_shape(anon, make_user, password, throttle_rate):
    from accounts.throttles import LoginIPThrottle

    throttle_rate(LoginIPThrottle, "1/min")
    user = make_user()
    anon.post(LOGIN, {"email": user.email, "password": password}, format="json")
    error = assert_error(anon.post(LOGIN, {"email": user.email, "password": password}, format="json"), 429)
    assert error["code"] == "rate_limited"
    assert "fields" not in error


def test_validation_errors_list_messages_per_field(anon):
    error = assert_error(anon.post(REGISTER, {"email": "bad", "username": "x"}, format="json"), 400, "invalid")
    assert set(error["fields"]) == {"email", "username", "password"}
    for messages in error["fields"].values():
        assert isinstance(messages, list) and messages and all(isinstance(m, str) and m for m in messages)
