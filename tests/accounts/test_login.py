"""POST /api/auth/login: tokens, wrong credentials, and the per-IP and per-account throttles."""

from __future__ import annotations

import pytest
from rest_framework_simplejwt.tokens import AccessToken

from accounts.throttles import LoginAccountThrottle, LoginIPThrottle
from tests.conftest import assert_error

from .conftest import AUTH_ME, LOGIN

pytestmark = pytest.mark.django_db


def login(client, email, password, ip="10.2.0.1", **extra):
    return client.post(LOGIN, {"email": email, "password": password}, format="json", REMOTE_ADDR=ip, **extra)


@pytest.mark.parametrize("path", [LOGIN, LOGIN + "/"])
def test_login_returns_tokens_and_user(anon, make_user, password, path):
    user = make_user(email="grace@example.test", username="grace", roles=["walker"])
    response = anon.post(path, {"email": "grace@example.test", "password": password}, format="json")

    assert response.status_code == 200, response.content
    data = response.json()
    assert set(data) == {"access", "refresh", "user"}
    assert data["user"]["id"] == str(user.pk)
    assert data["user"]["email"] == "grace@example.test"
    assert data["user"]["roles"] == ["walker"]
    assert str(AccessToken(data["access"])["user_id"]) == str(user.pk)
    me = anon.get(AUTH_ME, HTTP_AUTHORIZATION=f"Bearer {data['access']}")
    assert me.json()["username"] == "grace"


def test_login_records_last_login(anon, make_user, password):
    user = make_user(email="grace@example.test")
    assert user.last_login is None
    assert login(anon, "grace@example.test", password).status_code == 200
    user.refresh_from_db()
    assert user.last_login is not None


def test_login_email_is_case_insensitive(anon, make_user, password):
    user = make_user(email="grace@example.test")
    response = login(anon, "  GRACE@Example.Test ", password)
    assert response.status_code == 200, response.content
    assert response.json()["user"]["id"] == str(user.pk)


def test_login_after_register_with_mixed_case_email(anon):
    registered = anon.post(
        "/api/auth/register",
        {"email": "Mixed.Case@Example.Test", "username": "mixed", "password": "Plum-Lantern-8841"},
        format="json",
    )
    assert registered.status_code == 201
    assert login(anon, "mixed.case@example.test", "Plum-Lantern-8841").status_code == 200
    assert login(anon, "MIXED.CASE@EXAMPLE.TEST", "Plum-Lantern-8841").status_code == 200


def test_wrong_password_is_401_invalid_credentials(anon, make_user, password):
    make_user(email="grace@example.test")
    response = login(anon, "grace@example.test", password + "x")
    error = assert_error(response, 401, "invalid_credentials")
    assert "fields" not in error


def test_unknown_email_is_401_with_the_same_error(anon, make_user, password):
    make_user(email="grace@example.test")
    wrong_password = assert_error(login(anon, "grace@example.test", "nope-nope-nope"), 401, "invalid_credentials")
    unknown = assert_error(login(anon, "nobody@example.test", password), 401, "invalid_credentials")
    # Nothing tells an attacker which emails exist.
    assert unknown == wrong_password


def test_inactive_user_cannot_log_in(anon, make_user, password):
    make_user(email="gone@example.test", is_active=False)
    assert_error(login(anon, "gone@example.test", password), 401, "invalid_credentials")


@pytest.mark.parametrize(
    "payload",
    [{}, {"email": "grace@example.test"}, {"password": "x"}, {"email": "not-an-email", "password": "x"}],
)
def test_login_bad_input_is_400(anon, payload):
    error = assert_error(anon.post(LOGIN, payload, format="json"), 400, "invalid")
    assert error["fields"]


def test_login_malformed_json_is_400(anon):
    assert_error(anon.post(LOGIN, data="{not json", content_type="application/json"), 400, "malformed_request")


def test_login_is_throttled_per_ip(anon, make_user, password, throttle_rate):
    throttle_rate(LoginIPThrottle, "3/min")
    make_user(email="grace@example.test")
    make_user(email="alan@example.test")
    for n in range(3):
        assert_error(login(anon, f"probe{n}@example.test", password, ip="10.2.0.7"), 401)

    # A fourth attempt from that IP is refused even with good credentials for a fresh account...
    response = login(anon, "grace@example.test", password, ip="10.2.0.7")
    assert_error(response, 429, "rate_limited")
    assert int(response["Retry-After"]) > 0
    # ...and a spoofed X-Forwarded-For does not buy a new budget.
    assert_error(login(anon, "grace@example.test", password, ip="10.2.0.7", HTTP_X_FORWARDED_FOR="198.51.100.7"), 429)
    # Another IP still logs in.
    assert login(anon, "alan@example.test", password, ip="10.2.0.8").status_code == 200


def test_login_is_throttled_per_account_across_ips(anon, make_user, password, throttle_rate):
    throttle_rate(LoginAccountThrottle, "3/min")
    make_user(email="grace@example.test")
    make_user(email="alan@example.test")
    for n in range(3):
        assert_error(login(anon, "grace@example.test", "guess-guess", ip=f"10.3.0.{n}"), 401, "invalid_credentials")

    # The account is locked for this window whatever the IP and however the email is spelled.
    assert_error(login(anon, "grace@example.test", password, ip="10.3.0.50"), 429, "rate_limited")
    assert_error(login(anon, "Grace@EXAMPLE.test", password, ip="10.3.0.51"), 429, "rate_limited")
    # Another account, even from one of the same IPs, is unaffected.
    response = login(anon, "alan@example.test", password, ip="10.3.0.0")
    assert response.status_code == 200, response.content
