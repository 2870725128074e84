"""GET /api/map_nodes: the privacy matrix, the radius, the query parameters and the result shape."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from accounts.models import Block, User
from geo.fanout import map_publish_tick
from geo.grid import cell_for, haversine_m
from geo.models import LocationFix
from tests.conftest import assert_error

from .conftest import HOME
from .geoutil import cell_corners, offset, vincenty_m

pytestmark = pytest.mark.django_db

ITEM_KEYS = {"user_id", "name", "roles", "lat", "lng", "distance_m", "precision_m", "location_updated_at", "online"}


@pytest.fixture
def viewer(make_user):
    return make_user(roles=["walker"], sharing=True)


@pytest.fixture
def vclient(viewer, client_for):
    return client_for(viewer)


def near(north_m=120.0, east_m=80.0):
    return offset(*HOME, north_m=north_m, east_m=east_m)


# --- baseline and shape -------------------------------------------------------------


def test_visible_stranger_item_shape(make_user, place, vclient, map_nodes):
    target = make_user(roles=["runner", "walker"], sharing=True, full_name="Ada Lovelace")
    # A fix at hh:mm:37.5 of the previous minute: fresh, and far from a whole minute.
    minute = timezone.now().replace(second=0, microsecond=0) - timedelta(minutes=1)
    place(target, *near(), accuracy_m=3, timestamp=(minute + timedelta(seconds=37.5)).isoformat())
    body = map_nodes(vclient, *HOME, radius=1000)

    assert set(body) == {"count", "results"}
    assert body["count"] == 1 == len(body["results"])
    item = body["results"][0]
    assert set(item) == ITEM_KEYS
    cell = cell_for(*near())
    assert item["user_id"] == str(target.pk)
    assert item["name"] == "Ada Lovelace"
    assert item["roles"] == ["runner", "walker"]
    assert (item["lat"], item["lng"]) == pytest.approx((cell.lat, cell.lng), abs=2e-7)
    assert item["distance_m"] == pytest.approx(vincenty_m(*HOME, cell.lat, cell.lng), abs=1.0)
    assert item["precision_m"] == 100.0  # the grid, not the fix accuracy
    assert item["online"] is False
    # Strangers see the fix time rounded down to the minute: exactly hh:mm:00, never hh:mm:37.5.
    assert LocationFix.objects.get(user=target).recorded_at == minute + timedelta(seconds=37.5)
    assert parse_datetime(item["location_updated_at"]) == minute


def test_name_falls_back_to_username(make_user, place, vclient, map_nodes):
    target = make_user(sharing=True, full_name="", username="quietwalker")
    place(target, *near())
    assert map_nodes(vclient, *HOME)["results"][0]["name"] == "quietwalker"


def test_empty_map(vclient, map_nodes):
    assert map_nodes(vclient, *HOME) == {"count": 0, "results": []}


@pytest.mark.parametrize("path", ["/api/map_nodes", "/api/map_nodes/"])
def test_trailing_slash_optional(make_user, place, vclient, path):
    target = make_user(sharing=True)
    place(target, *near())
    response = vclient.get(path, {"lat": HOME[0], "lng": HOME[1]})
    assert response.status_code == 200
    assert response.json()["count"] == 1


def test_unauthenticated_is_401(anon, db):
    assert_error(anon.get("/api/map_nodes", {"lat": 1, "lng": 2}), 401, "not_authenticated")


# --- the privacy matrix ----------------------------------------------------------------


def test_sharing_off_is_hidden(make_user, place, vclient, node_ids):
    hidden = make_user(sharing=False)
    shown = make_user(sharing=True)
    place(hidden, *near(50, 50))
    place(shown, *near(-50, -50))
    map_publish_tick()
    assert node_ids(vclient, *HOME) == {str(shown.pk)}


def test_stale_fix_is_hidden(make_user, place, vclient, node_ids, settings):
    stale = make_user(sharing=True)
    fresh = make_user(sharing=True)
    # freshness ends at a whole minute (up to 60 s after the TTL): 65 s past it is stale whatever the clock
    place(stale, *near(), timestamp=(timezone.now() - timedelta(seconds=settings.LOCATION_TTL_S + 65)).isoformat())
    place(
        fresh, *near(-100, 0), timestamp=(timezone.now() - timedelta(seconds=settings.LOCATION_TTL_S - 60)).isoformat()
    )
    assert node_ids(vclient, *HOME) == {str(fresh.pk)}


def test_fix_goes_stale_with_the_ttl_even_before_a_tick(make_user, place, vclient, node_ids, settings):
    target = make_user(sharing=True)
    place(target, *near(), timestamp=(timezone.now() - timedelta(seconds=120)).isoformat())
    assert node_ids(vclient, *HOME) == {str(target.pk)}
    settings.LOCATION_TTL_S = 50  # the fix is now more than TTL + 60 s old (freshness ends at a whole minute)
    assert node_ids(vclient, *HOME) == set()
    map_publish_tick()
    assert LocationFix.objects.get(user=target).public_location is None
    settings.LOCATION_TTL_S = 300
    assert node_ids(vclient, *HOME) == set()  # stays hidden until a new fix
    place(target, *near())
    assert node_ids(vclient, *HOME) == {str(target.pk)}


@pytest.mark.parametrize(
    ("viewer_roles", "visible_roles", "visible"),
    [
        (["walker"], [], True),
        (["walker"], ["driver"], False),
        (["walker"], ["driver", "walker"], True),
        (["walker", "runner"], ["runner"], True),
        ([], ["walker"], False),
        ([], [], True),
    ],
)
def test_target_visible_roles(make_user, place, client_for, node_ids, viewer_roles, visible_roles, visible):
    viewer = make_user(roles=viewer_roles)
    target = make_user(roles=["rider"], sharing=True, visible_roles=visible_roles)
    place(target, *near())
    assert node_ids(client_for(viewer), *HOME) == ({str(target.pk)} if visible else set())


@pytest.mark.parametrize(
    ("show_roles", "target_roles", "visible"),
    [
        ([], [], True),
        ([], ["driver"], True),
        (["runner"], ["walker"], False),
        (["runner"], [], False),
        (["runner"], ["walker", "runner"], True),
        (["runner", "driver"], ["driver"], True),
    ],
)
def test_viewer_show_roles(make_user, place, client_for, node_ids, show_roles, target_roles, visible):
    viewer = make_user(roles=["walker"], show_roles=show_roles)
    target = make_user(roles=target_roles, sharing=True)
    place(target, *near())
    assert node_ids(client_for(viewer), *HOME) == ({str(target.pk)} if visible else set())


def test_visible_roles_change_applies_at_once(
    make_user, place, client_for, node_ids, django_capture_on_commit_callbacks
):
    viewer = make_user(roles=["walker"])
    target = make_user(sharing=True)
    place(target, *near())
    assert node_ids(client_for(viewer), *HOME) == {str(target.pk)}
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(target).patch("/api/settings", {"visible_roles": ["driver"]}, format="json")
    assert response.status_code == 200
    assert node_ids(client_for(viewer), *HOME) == set()


@pytest.mark.parametrize("direction", ["viewer_blocks_target", "target_blocks_viewer"])
def test_block_hides_both_ways(make_user, place, client_for, node_ids, django_capture_on_commit_callbacks, direction):
    viewer = make_user(sharing=True)
    target = make_user(sharing=True)
    bystander = make_user(sharing=True)
    place(viewer, *near(0, -60))
    place(target, *near(60, 0))
    place(bystander, *near(-60, 0))
    blocker, blocked = (viewer, target) if direction == "viewer_blocks_target" else (target, viewer)
    assert node_ids(client_for(viewer), *HOME) == {str(target.pk), str(bystander.pk)}

    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(blocker).post(f"/api/users/{blocked.pk}/block")
    assert response.status_code in (200, 201), response.content
    assert Block.objects.filter(blocker=blocker, blocked=blocked).exists()

    assert node_ids(client_for(viewer), *HOME) == {str(bystander.pk)}
    assert node_ids(client_for(target), *HOME) == {str(bystander.pk)}
    assert node_ids(client_for(bystander), *HOME) == {str(viewer.pk), str(target.pk)}

    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(blocker).delete(f"/api/users/{blocked.pk}/block")
    assert response.status_code in (200, 204)
    assert node_ids(client_for(viewer), *HOME) == {str(target.pk), str(bystander.pk)}


def test_self_is_never_listed(make_user, place, client_for, node_ids):
    me = make_user(sharing=True, roles=["walker"])
    other = make_user(sharing=True)
    place(me, *HOME)
    place(other, *near())
    assert node_ids(client_for(me), *HOME) == {str(other.pk)}
    assert node_ids(client_for(me), *HOME, role="walker") == set()


def test_inactive_user_is_hidden(make_user, place, vclient, node_ids):
    target = make_user(sharing=True)
    place(target, *near())
    User.objects.filter(pk=target.pk).update(is_active=False)
    assert node_ids(vclient, *HOME) == set()


def test_user_without_a_fix_is_not_listed(make_user, vclient, node_ids):
    make_user(sharing=True)
    assert node_ids(vclient, *HOME, radius=50_000) == set()


# --- radius -----------------------------------------------------------------------------


def test_radius_edge_uses_the_snapped_point(make_user, place, vclient, node_ids, map_nodes):
    """Two targets in one cell, on its near and far corners: both in or both out at the snapped distance."""
    base = offset(*HOME, north_m=170, east_m=140)
    cell = cell_for(*base)
    corners = cell_corners(*base)
    far_corner, near_corner = corners["ne"], corners["sw"]  # the cell lies north-east of HOME
    d = haversine_m(*HOME, cell.lat, cell.lng)
    margin = 4.0  # sphere vs spheroid differ by < 0.5 % of ~220 m
    # the exact points are well on the other side of each edge: a filter on them would answer differently
    assert haversine_m(*HOME, *far_corner) > d + 40
    assert haversine_m(*HOME, *near_corner) < d - 40

    far_t, near_t = make_user(sharing=True), make_user(sharing=True)
    place(far_t, *far_corner)
    place(near_t, *near_corner)

    assert node_ids(vclient, *HOME, radius=f"{d + margin:.3f}") == {str(far_t.pk), str(near_t.pk)}
    assert node_ids(vclient, *HOME, radius=f"{d - margin:.3f}") == set()

    # and exactly at the spheroid distance the API reports
    reported = map_nodes(vclient, *HOME, radius=1000)["results"][0]["distance_m"]
    assert reported == pytest.approx(vincenty_m(*HOME, cell.lat, cell.lng), abs=0.1)
    assert node_ids(vclient, *HOME, radius=reported + 0.2) == {str(far_t.pk), str(near_t.pk)}
    assert node_ids(vclient, *HOME, radius=reported - 0.2) == set()


def test_radius_defaults_to_the_callers_search_radius(make_user, place, client_for, node_ids):
    viewer = make_user(settings_fields={"search_radius_m": 400})
    close, far = make_user(sharing=True), make_user(sharing=True)
    place(close, *offset(*HOME, north_m=200))
    place(far, *offset(*HOME, north_m=700))
    client = client_for(viewer)
    assert node_ids(client, *HOME) == {str(close.pk)}
    assert node_ids(client, *HOME, radius="") == {str(close.pk)}
    assert node_ids(client, *HOME, radius=1000) == {str(close.pk), str(far.pk)}
    assert client.patch("/api/settings", {"search_radius_m": 900}, format="json").status_code == 200
    assert node_ids(client, *HOME) == {str(close.pk), str(far.pk)}


def test_default_search_radius_is_1000(make_user, place, client_for, node_ids):
    viewer = make_user()
    inside, outside = make_user(sharing=True), make_user(sharing=True)
    place(inside, *offset(*HOME, east_m=850))
    place(outside, *offset(*HOME, east_m=1200))
    assert node_ids(client_for(viewer), *HOME) == {str(inside.pk)}


def test_max_radius_is_accepted(make_user, place, vclient, node_ids):
    target = make_user(sharing=True)
    place(target, *offset(*HOME, north_m=45_000))
    assert node_ids(vclient, *HOME, radius=50_000) == {str(target.pk)}
    assert node_ids(vclient, *HOME, radius=40_000) == set()


@pytest.mark.parametrize("radius", ["50000.1", "50001", "1e6", "0", "-5", "-0.1", "abc", "nan", "Infinity", "true"])
def test_bad_radius_is_400(vclient, radius):
    error = assert_error(vclient.get("/api/map_nodes", {"lat": 1, "lng": 2, "radius": radius}), 400, "invalid")
    assert set(error["fields"]) == {"radius"}


@pytest.mark.parametrize(
    ("params", "fields"),
    [
        ({"lng": 2}, {"lat"}),
        ({"lat": 1}, {"lng"}),
        ({}, {"lat", "lng"}),
        ({"lat": "", "lng": 2}, {"lat"}),
        ({"lat": 90.5, "lng": 2}, {"lat"}),
        ({"lat": -91, "lng": 2}, {"lat"}),
        ({"lat": 1, "lng": 181}, {"lng"}),
        ({"lat": 1, "lng": -180.5}, {"lng"}),
        ({"lat": "NaN", "lng": 2}, {"lat"}),
        ({"lat": 1, "lng": "inf"}, {"lng"}),
        ({"lat": "-Infinity", "lng": 2}, {"lat"}),
        ({"lat": "north", "lng": 2}, {"lat"}),
        ({"lat": 1, "lng": "1,5"}, {"lng"}),
        ({"lat": "true", "lng": 2}, {"lat"}),
    ],
)
def test_bad_coordinates_are_400(vclient, params, fields):
    error = assert_error(vclient.get("/api/map_nodes", params), 400, "invalid")
    assert set(error["fields"]) == fields


# --- role parameter ----------------------------------------------------------------------


def test_role_filter(make_user, place, vclient, node_ids):
    runner = make_user(roles=["runner"], sharing=True)
    both = make_user(roles=["runner", "driver"], sharing=True)
    driver = make_user(roles=["driver"], sharing=True)
    none = make_user(roles=[], sharing=True)
    for i, user in enumerate([runner, both, driver, none]):
        place(user, *near(30 * i, 0))
    assert node_ids(vclient, *HOME, role="runner") == {str(runner.pk), str(both.pk)}
    assert node_ids(vclient, *HOME, role="driver") == {str(both.pk), str(driver.pk)}
    assert node_ids(vclient, *HOME, role="organizer") == set()
    assert node_ids(vclient, *HOME, role="") == {str(u.pk) for u in (runner, both, driver, none)}


def test_role_filter_does_not_override_the_privacy_rule(make_user, place, vclient, node_ids):
    hidden = make_user(roles=["runner"], sharing=True, visible_roles=["driver"])
    place(hidden, *near())
    assert node_ids(vclient, *HOME, role="runner") == set()


@pytest.mark.parametrize("role", ["astronaut", "Walker", "walker,runner", "x" * 33])
def test_unknown_role_is_400(vclient, role):
    error = assert_error(vclient.get("/api/map_nodes", {"lat": 1, "lng": 2, "role": role}), 400)
    assert set(error["fields"]) == {"role"}


def test_unknown_role_code(vclient):
    assert_error(vclient.get("/api/map_nodes", {"lat": 1, "lng": 2, "role": "astronaut"}), 400, "unknown_role")


# --- ordering and limit ---------------------------------------------------------------------


def test_nearest_first_and_at_most_map_max_results(make_user, place, vclient, map_nodes, settings):
    users = []
    for i, metres in enumerate([900, 150, 650, 400, 1500, 275]):
        user = make_user(sharing=True)
        place(user, *offset(*HOME, north_m=metres * (1 if i % 2 else -1), east_m=10))
        users.append((metres, user))
    by_distance = [str(u.pk) for _, u in sorted(users, key=lambda mu: mu[0])]

    body = map_nodes(vclient, *HOME, radius=5000)
    assert [item["user_id"] for item in body["results"]] == by_distance
    distances = [item["distance_m"] for item in body["results"]]
    assert distances == sorted(distances)

    settings.MAP_MAX_RESULTS = 3
    body = map_nodes(vclient, *HOME, radius=5000)
    assert body["count"] == 3
    assert [item["user_id"] for item in body["results"]] == by_distance[:3]


def test_default_max_results_is_200(settings):
    assert settings.MAP_MAX_RESULTS == 200
    assert settings.MAP_MAX_RADIUS_M == 50_000


def test_ties_are_ordered_deterministically(make_user, place, vclient, map_nodes):
    corners = cell_corners(*near())
    users = [make_user(sharing=True) for _ in range(4)]
    for user, point in zip(users, corners.values(), strict=True):
        place(user, *point)
    first = [item["user_id"] for item in map_nodes(vclient, *HOME)["results"]]
    assert sorted(first) == sorted(str(u.pk) for u in users)
    for lat, lng in (offset(*HOME, north_m=1), HOME):
        assert [item["user_id"] for item in map_nodes(vclient, lat, lng)["results"]] == first
