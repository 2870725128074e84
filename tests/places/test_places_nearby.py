"""GET /api/places/nearby: ordering, radius, category, query, pagination, bad input and auth."""

from __future__ import annotations

import pytest
from django.conf import settings

from places.models import Place
from tests.conftest import assert_error

from ..geo.conftest import HOME
from ..geo.geoutil import offset, vincenty_m

pytestmark = pytest.mark.django_db

URL = "/api/places/nearby"
ITEM_KEYS = {
    "id",
    "osm_type",
    "osm_id",
    "name",
    "category",
    "lat",
    "lng",
    "distance_m",
    "address",
    "opening_hours",
    "website",
    "phone",
}


@pytest.fixture
def client(make_user, client_for):
    return client_for(make_user())


_ids = iter(range(1, 10**9))


def make_place(north_m=0.0, east_m=0.0, *, name="Place", category="amenity=cafe", **fields):
    lat, lng = offset(*HOME, north_m=north_m, east_m=east_m)
    return Place.objects.create(
        osm_type=fields.pop("osm_type", "node"),
        osm_id=fields.pop("osm_id", next(_ids)),
        name=name,
        category=category,
        location=f"SRID=4326;POINT({lng} {lat})",
        **fields,
    )


def get(client, **params):
    response = client.get(URL, {"lat": HOME[0], "lng": HOME[1], **params})
    assert response.status_code == 200, response.content[:500]
    return response.json()


def names(body):
    return [item["name"] for item in body["results"]]


def test_item_shape_and_distance(client):
    place = make_place(
        300,
        400,
        name="Café Mokka",
        address="Alexanderplatz 1, 10178 Berlin",
        opening_hours="Mo-Su 08:00-18:00",
        website="https://mokka.example",
        phone="+49 30 123",
        tags={"amenity": "cafe", "name": "Café Mokka"},
    )
    body = get(client, radius=1000)
    assert set(body) == {"count", "next", "previous", "results"}
    assert body["count"] == 1 and body["next"] is None and body["previous"] is None
    item = body["results"][0]
    assert set(item) == ITEM_KEYS
    lat, lng = place.location.y, place.location.x
    assert item["id"] == place.pk and item["osm_type"] == "node" and item["osm_id"] == place.osm_id
    assert item["name"] == "Café Mokka" and item["category"] == "amenity=cafe"
    assert (item["lat"], item["lng"]) == pytest.approx((lat, lng), abs=1e-7)
    assert item["distance_m"] == pytest.approx(vincenty_m(*HOME, lat, lng), abs=0.5)
    assert item["distance_m"] == pytest.approx(500, abs=3)
    assert item["address"] == "Alexanderplatz 1, 10178 Berlin"
    assert (item["opening_hours"], item["website"], item["phone"]) == (
        "Mo-Su 08:00-18:00",
        "https://mokka.example",
        "+49 30 123",
    )


def test_nearest_first(client):
    make_place(700, name="far")
    make_place(-50, name="nearest")
    make_place(0, 300, name="middle")
    body = get(client)
    assert names(body) == ["nearest", "middle", "far"]
    distances = [item["distance_m"] for item in body["results"]]
    assert distances == sorted(distances)


def test_equal_distances_are_ordered_by_id(client):
    a = make_place(100, name="a")
    b = make_place(100, name="b")
    assert [item["id"] for item in get(client)["results"]] == sorted([a.pk, b.pk])


def test_radius(client):
    make_place(400, name="400 m")
    make_place(900, name="900 m")
    make_place(3000, name="3 km")
    assert names(get(client, radius=500)) == ["400 m"]
    assert names(get(client)) == ["400 m", "900 m"]  # default MAP_DEFAULT_RADIUS_M = 1000
    assert names(get(client, radius=5000)) == ["400 m", "900 m", "3 km"]


def test_empty(client):
    assert get(client) == {"count": 0, "next": None, "previous": None, "results": []}


@pytest.mark.parametrize(
    ("category", "expected"),
    [
        ("amenity=cafe", ["cafe"]),
        ("shop=bakery", ["bakery"]),
        ("shop", ["bakery", "books"]),
        ("amenity=cafe,shop=books", ["cafe", "books"]),
        (" amenity = cafe ", ["cafe"]),
        ("amenity=bar", []),
        ("", ["cafe", "bakery", "books", "museum"]),
    ],
)
def test_category(client, category, expected):
    make_place(10, name="cafe", category="amenity=cafe")
    make_place(20, name="bakery", category="shop=bakery")
    make_place(30, name="books", category="shop=books")
    make_place(40, name="museum", category="tourism=museum")
    assert names(get(client, category=category)) == expected


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("kahvila", ["Kahvila Kulma", "Kulma Kahvila"]),
        ("KAHVILA kulma", ["Kahvila Kulma", "Kulma Kahvila"]),
        ("kulma", ["Kahvila Kulma", "Kulma Kahvila", "Kulmakirja"]),
        ("museum", ["Design Museum"]),  # category and name
        ("aleksanterinkatu", ["Kulmakirja"]),  # address
        ("kahvila nope", []),
        ("   ", ["Kahvila Kulma", "Kulma Kahvila", "Kulmakirja", "Design Museum"]),
    ],
)
def test_query(client, query, expected):
    make_place(10, name="Kahvila Kulma")
    make_place(20, name="Kulma Kahvila")
    make_place(30, name="Kulmakirja", category="shop=books", address="Aleksanterinkatu 1")
    make_place(40, name="Design Museum", category="tourism=museum")
    assert names(get(client, query=query)) == expected


def test_query_and_category_together(client):
    make_place(10, name="Kulma", category="amenity=cafe")
    make_place(20, name="Kulma", category="shop=books")
    assert [i["category"] for i in get(client, query="kulma", category="shop")["results"]] == ["shop=books"]


def test_pagination(client):
    for i in range(25):
        make_place(10 * (i + 1), name=f"p{i:02d}")
    first = get(client)
    assert first["count"] == 25 and len(first["results"]) == settings.REST_FRAMEWORK["PAGE_SIZE"] == 20
    assert first["previous"] is None and "page=2" in first["next"]
    second = client.get(first["next"]).json()
    assert names(second) == [f"p{i:02d}" for i in range(20, 25)]
    assert second["next"] is None and second["previous"]

    sized = get(client, page_size=10, page=3)
    assert names(sized) == [f"p{i:02d}" for i in range(20, 25)]
    assert len(get(client, page_size=1000)["results"]) == 25  # all 25 fit under the cap


def test_page_size_is_capped_at_100(client):
    Place.objects.bulk_create(
        [
            Place(
                osm_type="node",
                osm_id=next(_ids),
                name=f"c{i:03d}",
                category="amenity=cafe",
                location="SRID=4326;POINT({1} {0})".format(*offset(*HOME, north_m=i + 1.0)),
            )
            for i in range(105)
        ]
    )
    assert len(get(client, page_size=100)["results"]) == 100  # positive control: up to the cap is honoured
    for size in (101, 1000):
        body = get(client, page_size=size)
        assert body["count"] == 105
        assert names(body) == [f"c{i:03d}" for i in range(100)]  # nearest first, cut at 100
        assert "page=2" in body["next"]
    assert names(get(client, page_size=1000, page=2)) == [f"c{i:03d}" for i in range(100, 105)]


def test_page_past_the_end_is_404(client):
    make_place(10)
    assert_error(client.get(URL, {"lat": HOME[0], "lng": HOME[1], "page": 5}), 404, "not_found")


@pytest.mark.parametrize("path", [URL, URL + "/"])
def test_trailing_slash_optional(client, path):
    make_place(10)
    response = client.get(path, {"lat": HOME[0], "lng": HOME[1]})
    assert response.status_code == 200 and response.json()["count"] == 1


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"lng": HOME[1]}, "lat"),
        ({"lat": HOME[0]}, "lng"),
        ({"lat": 91, "lng": 0}, "lat"),
        ({"lat": 0, "lng": -180.5}, "lng"),
        ({"lat": "abc", "lng": 0}, "lat"),
        ({"lat": "nan", "lng": 0}, "lat"),
        ({"lat": 0, "lng": "inf"}, "lng"),
        ({"lat": 0, "lng": 0, "radius": 0}, "radius"),
        ({"lat": 0, "lng": 0, "radius": -5}, "radius"),
        ({"lat": 0, "lng": 0, "radius": 50_001}, "radius"),
        ({"lat": 0, "lng": 0, "radius": "far"}, "radius"),
        ({"lat": 0, "lng": 0, "category": "highway=footway"}, "category"),
        ({"lat": 0, "lng": 0, "category": "amenity="}, "category"),
        ({"lat": 0, "lng": 0, "category": ",".join(["shop"] * 11)}, "category"),
        ({"lat": 0, "lng": 0, "query": "x" * 101}, "query"),
        ({"lat": 0, "lng": 0, "query": "caf\x00e"}, "query"),
    ],
)
def test_bad_input_is_400(client, params, field):
    error = assert_error(client.get(URL, params), 400)
    assert field in error["fields"], error


def test_bad_page_size_falls_back_to_default(client):
    make_place(10)
    assert get(client, page_size="lots")["count"] == 1


def test_unauthenticated_is_401(anon):
    assert_error(anon.get(URL, {"lat": HOME[0], "lng": HOME[1]}), 401, "not_authenticated")


def test_bad_token_is_401(anon):
    anon.credentials(HTTP_AUTHORIZATION="Bearer not-a-token")
    assert_error(anon.get(URL, {"lat": HOME[0], "lng": HOME[1]}), 401)


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_other_methods_are_405(client, method):
    assert_error(getattr(client, method)(URL), 405)


def test_places_across_the_antimeridian(client):
    """Geography distances: a place 1 km east across 180 degrees is found from just west of it."""
    Place.objects.create(
        osm_type="node", osm_id=42, name="Fiji", category="tourism=viewpoint", location="SRID=4326;POINT(-179.995 -17)"
    )
    response = client.get(URL, {"lat": -17, "lng": 179.995, "radius": 2000})
    assert response.status_code == 200
    body = response.json()
    assert names(body) == ["Fiji"] and body["results"][0]["distance_m"] < 1100
