"""Shared fixtures: real PostGIS (pytest-django) and real Redis, cleaned per test."""

from __future__ import annotations

import pytest
from django.conf import settings
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken

from accounts.models import UserSettings
from core.redis import get_redis
from core.validation import validated
from geo.fanout import map_publish_tick
from geo.serializers import LocationFixInputSerializer
from geo.services import location_record

from .factories import UserFactory


@pytest.fixture(scope="session", autouse=True)
def db_pool_closed_at_end(django_db_setup, django_db_blocker):
    """Close the psycopg pools before pytest-django drops the test database."""
    yield
    from django.db import connections

    with django_db_blocker.unblock():
        with connections["default"].cursor() as cursor:
            # Sessions left open by worker threads of async tests would block DROP DATABASE.
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        for conn in connections.all():
            if hasattr(conn, "close_pool"):
                conn.close_pool()


@pytest.fixture(autouse=True)
def redis_clean():
    """Delete every key under the test prefix before and after each test."""

    def wipe():
        r = get_redis()
        keys = list(r.scan_iter(f"{settings.REDIS_KEY_PREFIX}:*", count=1000))
        if keys:
            r.delete(*keys)

    wipe()
    yield get_redis()
    wipe()


@pytest.fixture
def make_user(db):
    """``make_user(roles=[...], sharing=True, visible_roles=[...], show_roles=[...], **user_fields)``."""

    def make(*, sharing: bool = False, visible_roles=None, show_roles=None, settings_fields=None, **fields):
        user = UserFactory(**fields)
        UserSettings.objects.filter(user=user).update(
            location_sharing=sharing,
            visible_roles=visible_roles or [],
            filters={"show_roles": show_roles or []},
            **(settings_fields or {}),
        )
        return user

    return make


def access_token(user) -> str:
    """A fresh access JWT for ``user``."""
    return str(AccessToken.for_user(user))


@pytest.fixture
def client_for():
    """``client_for(user)``: an ``APIClient`` sending ``Authorization: Bearer <access>``."""

    def make(user=None):
        client = APIClient()
        if user is not None:
            client.credentials(HTTP_AUTHORIZATION=f"Bearer {access_token(user)}")
        return client

    return make


@pytest.fixture
def anon():
    """An unauthenticated ``APIClient``."""
    return APIClient()


@pytest.fixture
def place(db, django_capture_on_commit_callbacks):
    """``place(user, lat, lng, tick=True, **extra)``: record a fix through the service, then run one map tick.

    Works both in transactional tests and in the default wrapped-transaction
    tests (the service's after-commit hooks are executed here).
    """

    def record(user, lat, lng, tick=True, **extra):
        with django_capture_on_commit_callbacks(execute=True):
            fix = validated(LocationFixInputSerializer, {"lat": lat, "lng": lng, **extra})
            result = location_record(user=user, fix=fix)
        if tick:
            map_publish_tick()
        return result

    return record


@pytest.fixture(autouse=True)
def default_roles(request):
    """Make sure the default roles exist (transactional tests flush the data migration's rows)."""
    if "transactional_db" not in request.fixturenames and "live_server" not in request.fixturenames:
        marker = request.node.get_closest_marker("django_db")
        if not (marker and marker.kwargs.get("transaction")):
            return
    from importlib import import_module

    from django.apps import apps as django_apps

    request.getfixturevalue("transactional_db")
    import_module("accounts.migrations.0002_default_roles").create_roles(django_apps, None)
    import_module("accounts.migrations.0005_staff_granted_roles").staff_granted(django_apps, None)


def assert_error(response, status: int, code: str | None = None):
    """Assert the one error shape ``{"error": {"code", "message", "fields"?}}`` with ``status``."""
    assert response.status_code == status, (response.status_code, getattr(response, "content", b"")[:500])
    body = response.json()
    assert set(body) == {"error"}, body
    assert isinstance(body["error"]["code"], str) and body["error"]["code"]
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    assert set(body["error"]) <= {"code", "message", "fields"}
    if code is not None:
        assert body["error"]["code"] == code, body
    return body["error"]
