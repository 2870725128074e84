"""``map_nodes_json`` (the JSON PostgreSQL writes for REST) says exactly what ``map_nodes_list`` says."""

from __future__ import annotations

import json
import random
from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.renderers import JSONRenderer

from accounts.models import Visibility
from geo.selectors import ViewerContext, map_nodes_json, map_nodes_list, viewer_context_get
from realtime.presence import presence_away_set, presence_touch

from .conftest import HOME
from .geoutil import offset

pytestmark = pytest.mark.django_db

NAMES = ["Ada Lovelace", "", 'Quote "me" \\ back', "Ääkkönen Åsa", "Line\nbreak\ttab", "emoji 🚲 rider", "\u0001ctl"]


def _drf(items) -> list:
    """What the REST view sent before: DRF's renderer over ``map_nodes_list``."""
    return json.loads(JSONRenderer().render(items))


def _same(got: list, expected: list) -> None:
    """Same items, same keys in the same order, same values (numbers to 1.5e-7: both round to 1e-7)."""
    assert len(got) == len(expected)
    for g, e in zip(got, expected, strict=True):
        assert list(g) == list(e)
        for k, v in e.items():
            if isinstance(v, float) and not isinstance(v, bool):
                assert g[k] == pytest.approx(v, abs=1.5e-7), (k, g, e)
            else:
                assert g[k] == v, (k, g, e)


def _crowd(make_user, place, n=24, seed=3):
    rng = random.Random(seed)
    minute = timezone.now().replace(second=0, microsecond=0) - timedelta(minutes=1)
    users = []
    for i in range(n):
        user = make_user(
            sharing=True,
            full_name=NAMES[i % len(NAMES)],
            roles=rng.sample(["walker", "runner", "cyclist"], k=rng.randint(0, 2)),
        )
        stamp = minute + timedelta(seconds=rng.choice([0, 12.5, 37.123456, 59.999999]))
        accuracy = rng.choice([None, 3.25, 0.0, 12.0])
        extra = {"timestamp": stamp.isoformat()}
        if accuracy is not None:
            extra["accuracy_m"] = accuracy
        place(user, *offset(*HOME, north_m=rng.uniform(-600, 600), east_m=rng.uniform(-600, 600)), tick=False, **extra)
        users.append(user)
    return users


def test_json_equals_the_list_for_strangers_and_exact_positions(make_user, place):
    from geo.fanout import map_publish_tick

    viewer = make_user(sharing=True, roles=["walker"])
    users = _crowd(make_user, place)
    map_publish_tick()
    for user in users[::3]:
        presence_touch(user.pk, f"specific.chan-{user.pk}")
    presence_touch(users[1].pk, "specific.away")
    presence_away_set(users[1].pk, True)
    base = viewer_context_get(viewer)
    exact = ViewerContext(
        user_id=base.user_id,
        roles=base.roles,
        show_roles=base.show_roles,
        blocked_ids=base.blocked_ids,
        matured_roles=base.matured_roles,
        exact_user_ids=frozenset(u.pk for u in users[::2]),
    )
    for context in (base, exact):
        for radius in (100, 400, 900):
            for role in (None, "runner"):
                expected = _drf(map_nodes_list(context, lat=HOME[0], lng=HOME[1], radius_m=radius, role=role))
                count, text = map_nodes_json(context, lat=HOME[0], lng=HOME[1], radius_m=radius, role=role)
                got = json.loads(text)
                assert count == len(got)
                _same(got, expected)
    # the run covered what it claims to cover
    nodes = map_nodes_list(exact, lat=HOME[0], lng=HOME[1], radius_m=900)
    assert any(n["online"] for n in nodes) and not all(n["online"] for n in nodes)
    assert {n["precision_m"] for n in nodes} >= {100.0, 3.25}
    assert any(n["location_updated_at"].microsecond for n in nodes)
    assert {n["name"] for n in nodes} & {'Quote "me" \\ back', "Line\nbreak\ttab", "\u0001ctl"}


def test_json_honours_limit_and_contacts_only(make_user, place, settings):
    viewer = make_user(sharing=True)
    users = _crowd(make_user, place, n=8, seed=5)
    from accounts.models import UserSettings
    from geo.fanout import map_publish_tick

    UserSettings.objects.filter(user=users[0]).update(visibility=Visibility.CONTACTS)
    map_publish_tick()
    context = viewer_context_get(viewer)
    count, text = map_nodes_json(context, lat=HOME[0], lng=HOME[1], radius_m=2000, limit=3)
    ids = [item["user_id"] for item in json.loads(text)]
    assert count == 3
    assert ids == [str(n["user_id"]) for n in map_nodes_list(context, lat=HOME[0], lng=HOME[1], radius_m=2000)][:3]
    _, everything = map_nodes_json(context, lat=HOME[0], lng=HOME[1], radius_m=2000)
    assert str(users[0].pk) not in everything


def test_rest_body_is_the_json_of_the_selector(make_user, place, client_for):
    viewer = make_user(sharing=True)
    _crowd(make_user, place, n=6, seed=9)
    from geo.fanout import map_publish_tick

    map_publish_tick()
    response = client_for(viewer).get("/api/map_nodes", {"lat": HOME[0], "lng": HOME[1], "radius": 2000})
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    body = json.loads(response.content)
    expected = _drf(map_nodes_list(viewer_context_get(viewer), lat=HOME[0], lng=HOME[1], radius_m=2000))
    assert body["count"] == len(expected) == 6
    _same(body["results"], expected)


@pytest.mark.parametrize("fetch", ["list", "json"])
def test_bitmap_scans_stay_off_only_for_the_map_query(make_user, fetch):
    """``_map_nodes_fetch`` turns bitmap scans off for its own statement; later queries plan as before."""
    from django.db import connection, transaction

    viewer = viewer_context_get(make_user(sharing=True))
    select = map_nodes_list if fetch == "list" else map_nodes_json
    with transaction.atomic():  # an enclosing transaction, as in a request or a test
        select(viewer, lat=HOME[0], lng=HOME[1], radius_m=500)
        with connection.cursor() as cursor:
            cursor.execute("SHOW enable_bitmapscan")
            assert cursor.fetchone()[0] == "on"


@pytest.mark.parametrize(
    ("lat", "lng", "target"),
    [
        (90.0, 0.0, (89.9995, 120.0)),  # the pole: every longitude is near
        (-90.0, 180.0, (-89.9995, -60.0)),
        (0.0, 180.0, (0.0, -179.9995)),  # across the antimeridian
        (0.0, -180.0, (0.0, 179.9995)),
    ],
)
def test_hostile_coordinates_answer_valid_json_and_find_the_neighbour(make_user, place, client_for, lat, lng, target):
    viewer = make_user(sharing=True)
    neighbour = make_user(sharing=True)
    place(neighbour, *target)
    response = client_for(viewer).get("/api/map_nodes", {"lat": lat, "lng": lng, "radius": 2000})
    assert response.status_code == 200
    body = json.loads(response.content)
    assert [item["user_id"] for item in body["results"]] == [str(neighbour.pk)]
    expected = _drf(map_nodes_list(viewer_context_get(viewer), lat=lat, lng=lng, radius_m=2000))
    _same(body["results"], expected)
