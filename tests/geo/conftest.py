"""Fixtures of the geo REST tests (the shared ones are in tests/conftest.py)."""

from __future__ import annotations

import pytest

#: Query centre used by most tests (Berlin, Alexanderplatz).
HOME = (52.5219, 13.4132)


@pytest.fixture
def post_fix(django_capture_on_commit_callbacks):
    """``post_fix(client, payload, path="/api/location", method="post")``: send a fix over REST.

    The service's after-commit hooks (map queueing) run, as they would
    outside the test transaction.
    """

    def send(client, payload, path="/api/location", method="post"):
        with django_capture_on_commit_callbacks(execute=True):
            return getattr(client, method)(path, payload, format="json")

    return send


@pytest.fixture
def map_nodes():
    """``map_nodes(client, lat, lng, **params)``: GET /api/map_nodes, asserting 200; returns the body."""

    def get(client, lat, lng, **params):
        response = client.get("/api/map_nodes", {"lat": lat, "lng": lng, **params})
        assert response.status_code == 200, response.content[:500]
        return response.json()

    return get


@pytest.fixture
def node_ids(map_nodes):
    """``node_ids(client, lat, lng, **params)``: the set of user ids (str) on the map."""

    def ids(client, lat, lng, **params):
        return {item["user_id"] for item in map_nodes(client, lat, lng, **params)["results"]}

    return ids
