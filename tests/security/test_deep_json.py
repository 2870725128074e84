"""Issue 7 item 8: JSON nested too deeply to parse is 400 ``malformed_request``, never 500."""

from __future__ import annotations

import pytest

from tests.conftest import assert_error

pytestmark = pytest.mark.django_db

DEEP = "[" * 1000 + "]" * 1000
DEEP_OBJECT = '{"a":' * 5000 + "1" + "}" * 5000


@pytest.mark.parametrize("path", ["/api/auth/login", "/api/auth/register", "/api/auth/refresh"])
@pytest.mark.parametrize("body", [DEEP, DEEP_OBJECT])
def test_deep_json_to_anonymous_endpoints_is_400(anon, path, body):
    assert_error(anon.post(path, data=body, content_type="application/json"), 400, "malformed_request")


@pytest.mark.parametrize("path", ["/api/location", "/api/users/me", "/api/settings"])
def test_deep_json_to_authenticated_endpoints_is_400(client_for, make_user, path):
    api = client_for(make_user())
    method = api.post if path == "/api/location" else api.patch
    assert_error(method(path, data=DEEP, content_type="application/json"), 400, "malformed_request")
