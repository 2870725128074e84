"""Refresh rotation, logout (blacklisting) and access-token expiry."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

from tests.conftest import assert_error

from .conftest import AUTH_ME, LOGIN, LOGOUT, REFRESH, tokens_for

pytestmark = pytest.mark.django_db


def bearer(token: str) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


@pytest.fixture
def pair(anon, user, password):
    """Tokens obtained through the real login endpoint."""
    response = anon.post(LOGIN, {"email": user.email, "password": password}, format="json")
    assert response.status_code == 200
    return response.json()


# --- refresh ------------------------------------------------------------------


@pytest.mark.parametrize("path", [REFRESH, REFRESH + "/"])
def test_refresh_rotates_and_returns_working_tokens(anon, user, pair, path):
    response = anon.post(path, {"refresh": pair["refresh"]}, format="json")

    assert response.status_code == 200, response.content
    data = response.json()
    assert set(data) == {"access", "refresh"}
    assert data["refresh"] != pair["refresh"]
    assert RefreshToken(data["refresh"])["jti"] != RefreshToken(pair["refresh"], verify=False)["jti"]
    assert str(RefreshToken(data["refresh"])["user_id"]) == str(user.pk)
    assert anon.get(AUTH_ME, **bearer(data["access"])).json()["id"] == str(user.pk)
    # The rotated token refreshes in turn.
    assert anon.post(REFRESH, {"refresh": data["refresh"]}, format="json").status_code == 200


def test_reusing_a_rotated_refresh_token_is_401(anon, pair):
    assert anon.post(REFRESH, {"refresh": pair["refresh"]}, format="json").status_code == 200
    assert_error(anon.post(REFRESH, {"refresh": pair["refresh"]}, format="json"), 401, "token_not_valid")


@pytest.mark.parametrize("token", ["garbage", "a.b.c", "eyJhbGciOiJIUzI1NiJ9.e30.AAAA"])
def test_garbage_refresh_is_401(anon, token):
    assert_error(anon.post(REFRESH, {"refresh": token}, format="json"), 401, "token_not_valid")


def test_access_token_is_not_a_refresh_token(anon, pair):
    assert_error(anon.post(REFRESH, {"refresh": pair["access"]}, format="json"), 401, "token_not_valid")


def test_expired_refresh_is_401(anon, user):
    token = RefreshToken.for_user(user)
    token.set_exp(from_time=timezone.now() - timedelta(days=30), lifetime=timedelta(days=1))
    assert_error(anon.post(REFRESH, {"refresh": str(token)}, format="json"), 401, "token_not_valid")


@pytest.mark.parametrize("payload", [{}, {"refresh": ""}, {"other": "x"}])
def test_refresh_missing_field_is_400(anon, payload):
    error = assert_error(anon.post(REFRESH, payload, format="json"), 400, "invalid")
    assert "refresh" in error["fields"]


def test_refresh_malformed_json_is_400(anon):
    assert_error(anon.post(REFRESH, data="{", content_type="application/json"), 400, "malformed_request")


def test_refresh_for_a_deactivated_user_is_401(anon, user, pair):
    user.is_active = False
    user.save()
    assert_error(anon.post(REFRESH, {"refresh": pair["refresh"]}, format="json"), 401)


def test_refresh_for_a_deleted_user_is_401_not_500(anon, user, pair):
    user.delete()
    assert_error(anon.post(REFRESH, {"refresh": pair["refresh"]}, format="json"), 401)


# --- logout -------------------------------------------------------------------


@pytest.mark.parametrize("path", [LOGOUT, LOGOUT + "/"])
def test_logout_is_205_and_blacklists_the_refresh(anon, pair, path):
    response = anon.post(path, {"refresh": pair["refresh"]}, format="json", **bearer(pair["access"]))

    assert response.status_code == 205
    assert response.content == b""
    assert_error(anon.post(REFRESH, {"refresh": pair["refresh"]}, format="json"), 401, "token_not_valid")


def test_logout_without_access_token_still_blacklists(anon, pair):
    assert anon.post(LOGOUT, {"refresh": pair["refresh"]}, format="json").status_code == 205
    assert_error(anon.post(REFRESH, {"refresh": pair["refresh"]}, format="json"), 401)


def test_logout_twice_is_401(anon, pair):
    assert anon.post(LOGOUT, {"refresh": pair["refresh"]}, format="json").status_code == 205
    assert_error(anon.post(LOGOUT, {"refresh": pair["refresh"]}, format="json"), 401, "token_not_valid")


def test_logout_only_affects_that_refresh_token(anon, user, pair, password):
    other = anon.post(LOGIN, {"email": user.email, "password": password}, format="json").json()
    assert anon.post(LOGOUT, {"refresh": pair["refresh"]}, format="json").status_code == 205
    assert anon.post(REFRESH, {"refresh": other["refresh"]}, format="json").status_code == 200


def test_logging_out_someone_elses_token_is_403_and_keeps_it_valid(anon, make_user):
    alice, bob = make_user(), make_user()
    alice_tokens, bob_tokens = tokens_for(alice), tokens_for(bob)

    response = anon.post(LOGOUT, {"refresh": bob_tokens["refresh"]}, format="json", **bearer(alice_tokens["access"]))

    assert_error(response, 403, "permission_denied")
    assert anon.post(REFRESH, {"refresh": bob_tokens["refresh"]}, format="json").status_code == 200


@pytest.mark.parametrize("payload", [{}, {"refresh": ""}])
def test_logout_missing_refresh_is_400(anon, payload):
    error = assert_error(anon.post(LOGOUT, payload, format="json"), 400, "invalid")
    assert "refresh" in error["fields"]


def test_logout_garbage_refresh_is_401(anon):
    assert_error(anon.post(LOGOUT, {"refresh": "garbage"}, format="json"), 401, "token_not_valid")


def test_logout_with_an_access_token_as_refresh_is_401(anon, pair):
    assert_error(anon.post(LOGOUT, {"refresh": pair["access"]}, format="json"), 401, "token_not_valid")


def test_logout_with_a_bad_access_header_is_401(anon, pair):
    response = anon.post(LOGOUT, {"refresh": pair["refresh"]}, format="json", **bearer("garbage"))
    assert_error(response, 401, "token_not_valid")
    # The request was refused before anything was blacklisted.
    assert anon.post(REFRESH, {"refresh": pair["refresh"]}, format="json").status_code == 200


# --- access tokens ------------------------------------------------------------


def test_expired_access_token_is_401(anon, user):
    token = AccessToken.for_user(user)
    token.set_exp(from_time=timezone.now() - timedelta(hours=1), lifetime=timedelta(minutes=5))
    assert_error(anon.get(AUTH_ME, **bearer(str(token))), 401, "token_not_valid")


def test_unexpired_access_token_made_the_same_way_works(anon, user):
    token = AccessToken.for_user(user)
    token.set_exp(from_time=timezone.now() - timedelta(minutes=1), lifetime=timedelta(minutes=5))
    assert anon.get(AUTH_ME, **bearer(str(token))).status_code == 200


def test_refresh_token_is_not_an_access_token(anon, pair):
    assert_error(anon.get(AUTH_ME, **bearer(pair["refresh"])), 401, "token_not_valid")


def test_tampered_access_token_is_401(anon, pair):
    header, payload, signature = pair["access"].split(".")
    tampered = ".".join([header, payload, signature[:-2] + ("AA" if signature[-2:] != "AA" else "BB")])
    assert_error(anon.get(AUTH_ME, **bearer(tampered)), 401, "token_not_valid")


def test_access_token_of_a_deactivated_user_is_401(anon, user, pair):
    user.is_active = False
    user.save()
    assert_error(anon.get(AUTH_ME, **bearer(pair["access"])), 401)


@pytest.mark.parametrize("header", ["Token abc", "Bearer", "Basic dXNlcjpwYXNz"])
def test_malformed_authorization_header_is_401(anon, header):
    assert_error(anon.get(AUTH_ME, HTTP_AUTHORIZATION=header), 401)
