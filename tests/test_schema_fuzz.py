"""Schemathesis over the OpenAPI schema, against a real server (issue 7, item 13).

One ``uvicorn config.asgi:application`` process on the test database and Redis
(the same harness as ``tests/e2e``) serves ``/api/schema/``; schemathesis loads
the schema from it and sends every operation generated requests, authenticated
as a real user (``Authorization: Bearer <access>`` from ``POST /api/auth/login``),
running all of its checks: no 5xx, status codes, content types, headers and
bodies conform to the schema, invalid data is rejected, valid data is accepted,
an operation that needs auth refuses a missing or wrong token.

Examples are bounded (``MAX_EXAMPLES`` per operation, plus the explicit examples
and the coverage phase's boundary cases) so the run stays around a minute on two
cores. The server's throttles are raised so that the budgets (covered by
``tests/security``) do not turn most generated requests into 429s; everything
else is the production configuration with DEBUG off.

No operation is excluded: each operation gets a fresh user (``fuzz_token``), so
``logout`` can only blacklist a token schemathesis invents and the roles,
settings, blocks or messages it changes belong to that user alone. Every
check runs on every operation.
"""

from __future__ import annotations

import os

import httpx
import pytest
import schemathesis
from django.conf import settings
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from schemathesis.config import SchemathesisConfig

from tests.e2e.conftest import ROOT, Server, child_database_url, free_port
from tests.factories import PASSWORD, UserFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

MAX_EXAMPLES = 15
UNLIMITED = "1000000/min"

CONFIG = SchemathesisConfig.from_dict(
    {
        "seed": 20260701,
        "generation": {"max-examples": MAX_EXAMPLES},
        "phases": {"examples": {"enabled": True}, "coverage": {"enabled": True}, "fuzzing": {"enabled": True}},
        "checks": {"enabled": True},
    }
)


def _schema_from_the_app():
    """``/api/schema/`` as the app serves it (in-process WSGI, at collection time).

    The request opens the database pool on the main database (the test database does not exist
    yet); the pool is closed afterwards, or pytest-django would create the test database through
    it and migrate the main one instead.
    """
    from django.core.wsgi import get_wsgi_application
    from django.db import connections

    try:
        return schemathesis.openapi.from_wsgi("/api/schema/", get_wsgi_application(), config=CONFIG)
    finally:
        for conn in connections.all():
            conn.close()
            if hasattr(conn, "close_pool"):
                conn.close_pool()


schema = _schema_from_the_app()


@schema.hook("filter_case")
def filter_case(context, case):
    """Schema-valid registrations must also pass the part of the password policy JSON Schema cannot state.

    The schema says "8+ characters, not all digits"; "not a common password, not too similar to the
    email or names" is checked by Django's validators and answered 400 ``weak_password``. Positive
    cases that fail those are not schema-valid in the documented sense, so they are not sent as such.
    """
    from django.contrib.auth.password_validation import validate_password
    from django.core.exceptions import ValidationError

    from accounts.models import User

    if case.operation.path.rstrip("/") != "/api/auth/register" or case.meta is None:
        return True
    if case.meta.generation.mode != "positive" or not isinstance(case.body, dict):
        return True
    body = case.body
    candidate = User(
        email=str(body.get("email", "")),
        username=str(body.get("username", "")),
        full_name=str(body.get("full_name", "")),
    )
    try:
        validate_password(str(body.get("password", "")), user=candidate)
    except ValidationError:
        return False
    return True


def _test_database_url() -> str:
    """The test database's URL: outside a test's ``db`` fixture ``connection`` still names the main database."""
    url = child_database_url()
    return url[: url.rindex("/") + 1] + settings.DATABASES["default"]["TEST"]["NAME"]


@pytest.fixture(scope="module")
def fuzz_server(django_db_setup):
    """One real server process for the whole module, DEBUG off, the throttles raised."""
    (ROOT / ".run").mkdir(exist_ok=True)
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": _test_database_url(),
        "REDIS_URL": settings.REDIS_URL,
        "REDIS_KEY_PREFIX": settings.REDIS_KEY_PREFIX,
        "DJANGO_DEBUG": "false",
        "DJANGO_SECRET_KEY": "schemathesis-run-" + "x" * 50,
        "SECURE_SSL_REDIRECT": "false",
        "SESSION_COOKIE_SECURE": "false",
        "CSRF_COOKIE_SECURE": "false",
        "SECURE_HSTS_SECONDS": "0",
        "THROTTLE_LOGIN": UNLIMITED,
        "THROTTLE_REGISTER": UNLIMITED,
        "THROTTLE_LOCATION": UNLIMITED,
        "THROTTLE_USER": UNLIMITED,
        "THROTTLE_ROLE_CHANGE": UNLIMITED,
        "THROTTLE_PREFERENCE_CHANGE": UNLIMITED,
        "LOCATION_MIN_INTERVAL_S": "0",
        "MAP_TICKER_ENABLED": "false",
        "PYTHONUNBUFFERED": "1",
    }
    server = Server(free_port(), env)
    try:
        try:
            server.wait_ready()
        except TimeoutError:
            raise TimeoutError(httpx.get(f"{server.url}/health/db", timeout=5).text) from None
        yield server
    finally:
        server.stop()


@pytest.fixture
def fuzz_token(fuzz_server, transactional_db):
    """A real access token of a fresh real user (one per operation), from the server's login endpoint."""
    user = UserFactory()
    response = httpx.post(
        f"{fuzz_server.url}/api/auth/login", json={"email": user.email, "password": PASSWORD}, timeout=10
    )
    assert response.status_code == 200, response.text
    return response.json()["access"]


@schema.parametrize()
@hypothesis_settings(deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_api_conforms_to_its_schema(case, fuzz_server, fuzz_token):
    case.call_and_validate(base_url=fuzz_server.url, headers={"Authorization": f"Bearer {fuzz_token}"}, timeout=30)
