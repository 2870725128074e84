"""Health endpoints against the real PostGIS and Redis."""

import pytest


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/health", "/health/db", "/health/redis", "/health/"])
def test_health_ok(anon, path):
    response = anon.get(path)
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
