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


@pytest.mark.django_db
def test_openapi_schema_documents_errors_pages_health_and_radius(anon):
    """Issue 7 item 13: the schema says what the server answers."""
    doc = anon.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    assert "Error" in doc["components"]["schemas"]
    for path, operations in doc["paths"].items():
        for method, operation in operations.items():
            if path.startswith("/health"):
                assert {"200", "503"} <= set(operation["responses"]), path
                continue
            for status in ["400", "401", "403", "404", "409", "413", "415", "429"]:
                ref = operation["responses"][status]["content"]["application/json"]["schema"]["$ref"]
                assert ref.endswith("/Error"), (path, method, status)
    for path in ["/health", "/health/db", "/health/redis"]:
        assert path in doc["paths"]
    schemas = doc["components"]["schemas"]
    for path in ["/api/search/", "/api/users/blocked/"]:
        ref = doc["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
        page = schemas[ref.rsplit("/", 1)[1]]
        assert {"count", "next", "previous", "results"} <= set(page["properties"]), path
    radius = [
        p["schema"]
        for ops in doc["paths"].values()
        for op in ops.values()
        for p in op.get("parameters", [])
        if p["name"] == "radius"
    ]
    assert radius and all(r["minimum"] == 0 and r["exclusiveMinimum"] is True for r in radius)
