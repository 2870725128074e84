"""POST /api/auth/register: tokens on success, validators, conflicts, limits and throttling."""

from __future__ import annotations

import json

import pytest
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

from accounts.models import User, UserSettings
from accounts.throttles import RegisterIPThrottle
from tests.conftest import assert_error

from .conftest import AUTH_ME, REGISTER

pytestmark = pytest.mark.django_db

GOOD_PASSWORD = "Plum-Lantern-8841"


def body(**overrides) -> dict:
    data = {"email": "ada@example.test", "username": "ada", "password": GOOD_PASSWORD, "full_name": "Ada L"}
    data.update(overrides)
    return data


@pytest.mark.parametrize("path", [REGISTER, REGISTER + "/"])
def test_register_returns_user_and_working_tokens(anon, path):
    response = anon.post(path, body(email="Ada.Lovelace@Example.TEST"), format="json")

    assert response.status_code == 201, response.content
    data = response.json()
    assert set(data) == {"user", "access", "refresh"}
    user = User.objects.get(username="ada")
    assert data["user"]["id"] == str(user.pk)
    assert data["user"]["email"] == "ada.lovelace@example.test" == user.email
    assert data["user"]["full_name"] == "Ada L"
    assert "password" not in data["user"]
    assert user.check_password(GOOD_PASSWORD)
    # The settings row is created with the user, with the privacy default off.
    assert UserSettings.objects.get(user=user).location_sharing is False
    # Both tokens are real and belong to the new user.
    assert str(AccessToken(data["access"])["user_id"]) == str(user.pk)
    assert str(RefreshToken(data["refresh"])["user_id"]) == str(user.pk)
    me = anon.get(AUTH_ME, HTTP_AUTHORIZATION=f"Bearer {data['access']}")
    assert me.status_code == 200
    assert me.json()["id"] == str(user.pk)


def test_register_full_name_is_optional(anon):
    data = body()
    del data["full_name"]
    response = anon.post(REGISTER, data, format="json")
    assert response.status_code == 201
    assert response.json()["user"]["full_name"] == ""


@pytest.mark.parametrize(
    "password",
    [
        "short1!",  # MinimumLengthValidator
        "password123",  # CommonPasswordValidator
        "83920174659281",  # NumericPasswordValidator
        "ada.lovelace.test",  # UserAttributeSimilarityValidator (close to the email)
    ],
)
def test_weak_password_is_400_with_password_field(anon, password):
    response = anon.post(REGISTER, body(email="ada.lovelace@example.test", password=password), format="json")
    error = assert_error(response, 400, "weak_password")
    assert set(error["fields"]) == {"password"}
    assert error["fields"]["password"] and all(isinstance(m, str) for m in error["fields"]["password"])
    assert not User.objects.filter(username="ada").exists()


@pytest.mark.parametrize("email", ["ada@example.test", "ADA@Example.Test"])
def test_duplicate_email_is_409_case_insensitive(anon, make_user, email):
    make_user(email="ada@example.test", username="first")
    response = anon.post(REGISTER, body(email=email, username="second"), format="json")
    error = assert_error(response, 409, "already_registered")
    assert "email" in error["fields"] and "username" not in error["fields"]
    assert User.objects.filter(email__iexact="ada@example.test").count() == 1


@pytest.mark.parametrize("username", ["ada", "ADA"])
def test_duplicate_username_is_409(anon, make_user, username):
    make_user(username="ada", email="someone@example.test")
    response = anon.post(REGISTER, body(username=username), format="json")
    error = assert_error(response, 409, "already_registered")
    assert "username" in error["fields"] and "email" not in error["fields"]
    assert not User.objects.filter(email="ada@example.test").exists()


@pytest.mark.parametrize("missing", ["email", "username", "password"])
def test_missing_field_is_400_naming_it(anon, missing):
    data = body()
    del data[missing]
    error = assert_error(anon.post(REGISTER, data, format="json"), 400, "invalid")
    assert missing in error["fields"]
    assert User.objects.count() == 0


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("email", "not-an-email"),
        ("email", ""),
        ("username", "a b"),
        ("username", "ab"),
        ("username", "x" * 33),
        ("username", "semi;colon"),
        ("password", "x" * 129),
        ("full_name", "n" * 151),
        ("email", 12345),
    ],
)
def test_invalid_field_is_400(anon, field, value):
    error = assert_error(anon.post(REGISTER, body(**{field: value}), format="json"), 400, "invalid")
    assert field in error["fields"]
    assert User.objects.count() == 0


def test_malformed_json_is_400(anon):
    response = anon.post(REGISTER, data='{"email": "ada@example.test",', content_type="application/json")
    assert_error(response, 400, "malformed_request")
    assert User.objects.count() == 0


@pytest.mark.parametrize("payload", ["[]", '"just a string"', "null"])
def test_json_that_is_not_an_object_is_400(anon, payload):
    response = anon.post(REGISTER, data=payload, content_type="application/json")
    assert_error(response, 400)
    assert User.objects.count() == 0


def test_body_over_request_limit_is_413_and_nothing_is_created(anon, settings):
    settings.REQUEST_MAX_BODY_BYTES = 300
    raw = json.dumps(body(full_name="n" * 150, bio="b" * 200))
    assert len(raw) > 300
    response = anon.post(REGISTER, data=raw, content_type="application/json")
    assert_error(response, 413, "payload_too_large")
    assert User.objects.count() == 0


def test_body_exactly_at_request_limit_is_accepted(anon, settings):
    raw = json.dumps(body())
    settings.REQUEST_MAX_BODY_BYTES = len(raw.encode())
    response = anon.post(REGISTER, data=raw, content_type="application/json")
    assert response.status_code == 201, response.content


def test_register_is_throttled_per_ip(anon, throttle_rate):
    throttle_rate(RegisterIPThrottle, "2/min")
    for n in range(2):
        response = anon.post(
            REGISTER, body(email=f"u{n}@example.test", username=f"user{n}"), format="json", REMOTE_ADDR="10.1.0.1"
        )
        assert response.status_code == 201, response.content

    response = anon.post(
        REGISTER, body(email="u2@example.test", username="user2"), format="json", REMOTE_ADDR="10.1.0.1"
    )
    assert_error(response, 429, "rate_limited")
    assert int(response["Retry-After"]) > 0
    assert not User.objects.filter(username="user2").exists()

    # Another client IP has its own budget.
    response = anon.post(
        REGISTER, body(email="u3@example.test", username="user3"), format="json", REMOTE_ADDR="10.1.0.2"
    )
    assert response.status_code == 201


def test_register_throttle_counts_rejected_attempts_too(anon, throttle_rate):
    throttle_rate(RegisterIPThrottle, "2/min")
    for _ in range(2):
        assert_error(anon.post(REGISTER, {"email": "bad"}, format="json", REMOTE_ADDR="10.1.0.3"), 400)
    assert_error(anon.post(REGISTER, body(), format="json", REMOTE_ADDR="10.1.0.3"), 429, "rate_limited")
    assert User.objects.count() == 0


def test_register_throttle_ignores_spoofed_forwarded_for(anon, throttle_rate):
    """X-Forwarded-For is client-controlled; the ASGI server (--proxy-headers) resolves the real address."""
    throttle_rate(RegisterIPThrottle, "2/min")
    for n in range(2):
        response = anon.post(
            REGISTER,
            body(email=f"s{n}@example.test", username=f"spoof{n}"),
            format="json",
            REMOTE_ADDR="10.1.0.4",
            HTTP_X_FORWARDED_FOR=f"203.0.113.{n}",
        )
        assert response.status_code == 201
    response = anon.post(
        REGISTER,
        body(email="s9@example.test", username="spoof9"),
        format="json",
        REMOTE_ADDR="10.1.0.4",
        HTTP_X_FORWARDED_FOR="203.0.113.99",
    )
    assert_error(response, 429, "rate_limited")
