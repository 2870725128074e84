"""Health endpoints against the real PostGIS and Redis."""

import pytest


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/health", "/health/db", "/health/redis", "/health/"])
def test_health_ok(anon, path):
    response = anon.get(path)
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_openapi_schema_lists_the_api(anon):
    response = anon.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    for path in [
        "/api/auth/register",
        "/api/auth/login",
        "/api/auth/refresh",
        "/api/auth/logout",
        "/api/users/me",
        "/api/settings",
        "/api/search",
        "/api/location",
        "/api/map_nodes",
        "/api/users/nearby",
    ]:
        assert any(p.rstrip("/") == path or p.startswith(path) for p in paths), path


@pytest.mark.django_db
def test_swagger_ui_served_with_local_assets(anon):
    """The docs page works offline: its JS/CSS come from our own static files (sidecar)."""
    import re

    page = anon.get("/api/docs/")
    assert page.status_code == 200
    html = page.content.decode()
    assets = re.findall(r'(?:src|href)="(/static/[^"]+)"', html)
    assert any(a.endswith(".js") for a in assets), html[:500]
    assert not re.search(r'(?:src|href)="https?://', html)
    for asset in assets:
        response = anon.get(asset)
        assert response.status_code == 200, asset
        b"".join(response.streaming_content) if response.streaming else response.content


@pytest.mark.django_db
def test_unknown_url_is_json_404(anon):
    response = anon.get("/definitely/not/here")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
