"""The snapped-position guarantee: strangers only ever learn a grid cell, published on the map tick."""

from __future__ import annotations

import dataclasses

import pytest
from django.conf import settings as django_settings

from geo.fanout import map_publish_tick
from geo.grid import cell_for, haversine_m
from geo.models import LocationFix
from geo.selectors import map_nodes_list, viewer_context_get

from .conftest import HOME
from .geoutil import cell_bounds, cell_corners, offset, vincenty_m

pytestmark = pytest.mark.django_db

GRID = float(django_settings.MAP_GRID_M)


@pytest.fixture
def viewer(make_user):
    return make_user()


@pytest.fixture
def vclient(viewer, client_for):
    return client_for(viewer)


def only_item(body):
    assert body["count"] == 1, body
    return body["results"][0]


def test_same_cell_centre_from_every_query_centre(make_user, place, vclient, map_nodes):
    exact = offset(*HOME, north_m=37, east_m=-21)
    target = make_user(sharing=True)
    place(target, *exact)
    cell = cell_for(*exact)
    assert haversine_m(*exact, cell.lat, cell.lng) > 5  # the exact point is not the centre itself

    seen = set()
    centres = [HOME] + [
        offset(*exact, north_m=n, east_m=e)
        for n, e in [(0, 0), (300, 0), (-300, 0), (0, 300), (0, -300), (211, 211), (-150, 260), (3, -7), (-4000, 1200)]
    ]
    for q_lat, q_lng in centres:
        item = only_item(map_nodes(vclient, q_lat, q_lng, radius=10_000))
        seen.add((item["lat"], item["lng"]))
        assert (item["lat"], item["lng"]) == pytest.approx((cell.lat, cell.lng), abs=1e-7)
        assert item["distance_m"] == pytest.approx(vincenty_m(q_lat, q_lng, cell.lat, cell.lng), abs=1.0)
        assert item["precision_m"] == GRID
    assert len(seen) == 1  # bit-for-bit identical whatever the query


def test_distance_is_from_the_snapped_point_not_the_exact_one(make_user, place, vclient, map_nodes):
    exact = cell_corners(*offset(*HOME, north_m=200))["ne"]
    target = make_user(sharing=True)
    place(target, *exact)
    cell = cell_for(*exact)
    # query right on the exact point: a leak would answer ~0 m
    item = only_item(map_nodes(vclient, *exact, radius=500))
    assert item["distance_m"] == pytest.approx(vincenty_m(*exact, cell.lat, cell.lng), abs=1.0)
    assert item["distance_m"] > 50
    # query on the cell centre: 0 m, whatever the exact point
    assert only_item(map_nodes(vclient, cell.lat, cell.lng, radius=500))["distance_m"] == pytest.approx(0, abs=0.1)


def test_precision_follows_the_grid_setting(make_user, place, vclient, map_nodes, settings):
    target = make_user(sharing=True)
    place(target, *offset(*HOME, north_m=100))
    settings.MAP_GRID_M = 250.0
    assert only_item(map_nodes(vclient, *HOME))["precision_m"] == 250.0


def test_moving_within_the_cell_changes_nothing_strangers_see(make_user, place, vclient, map_nodes):
    base = offset(*HOME, north_m=300, east_m=100)
    corners = cell_corners(*base)
    target = make_user(sharing=True)
    place(target, *corners["sw"])
    before = only_item(map_nodes(vclient, *HOME))
    published_at = LocationFix.objects.get(user=target).public_at

    for name in ("ne", "nw", "se", "sw"):
        place(target, *corners[name], tick=False)
        untick = only_item(map_nodes(vclient, *HOME))
        map_publish_tick()
        ticked = only_item(map_nodes(vclient, *HOME))
        for item in (untick, ticked):
            assert (item["lat"], item["lng"], item["distance_m"]) == (
                before["lat"],
                before["lng"],
                before["distance_m"],
            )
    assert LocationFix.objects.get(user=target).public_at == published_at  # nothing was republished


def test_crossing_into_another_cell_shows_only_after_the_tick(make_user, place, vclient, map_nodes):
    start = offset(*HOME, north_m=300)
    target = make_user(sharing=True)
    place(target, *start)
    old_cell = cell_for(*start)
    south, north, west, east = cell_bounds(*start)
    moved = (north + (north - south) * 0.5, start[1])  # half a cell north of the old cell
    new_cell = cell_for(*moved)
    assert new_cell.id != old_cell.id

    place(target, *moved, tick=False)
    assert LocationFix.objects.get(user=target).cell == new_cell.id
    item = only_item(map_nodes(vclient, *HOME))
    assert (item["lat"], item["lng"]) == pytest.approx((old_cell.lat, old_cell.lng), abs=1e-7)
    assert item["distance_m"] == pytest.approx(vincenty_m(*HOME, old_cell.lat, old_cell.lng), abs=1.0)

    map_publish_tick()
    item = only_item(map_nodes(vclient, *HOME))
    assert (item["lat"], item["lng"]) == pytest.approx((new_cell.lat, new_cell.lng), abs=1e-7)
    assert item["distance_m"] == pytest.approx(vincenty_m(*HOME, new_cell.lat, new_cell.lng), abs=1.0)


def test_radius_filter_follows_the_published_cell(make_user, place, vclient, node_ids):
    target = make_user(sharing=True)
    place(target, *offset(*HOME, north_m=100))
    far = offset(*HOME, north_m=5000)
    place(target, *far, tick=False)
    assert node_ids(vclient, *HOME, radius=500) == {str(target.pk)}  # still the published cell
    assert node_ids(vclient, *far, radius=500) == set()
    map_publish_tick()
    assert node_ids(vclient, *HOME, radius=500) == set()
    assert node_ids(vclient, *far, radius=500) == {str(target.pk)}


def test_rest_posted_fix_goes_through_the_tick(make_user, client_for, post_fix, vclient, map_nodes):
    target = make_user(sharing=True)
    point = offset(*HOME, north_m=250, east_m=-60)
    assert post_fix(client_for(target), {"lat": point[0], "lng": point[1]}).json()["stored"] is True
    assert map_nodes(vclient, *HOME)["count"] == 0  # not published yet
    map_publish_tick()
    item = only_item(map_nodes(vclient, *HOME))
    cell = cell_for(*point)
    assert (item["lat"], item["lng"]) == pytest.approx((cell.lat, cell.lng), abs=1e-7)


def test_exact_position_hook(make_user, place, viewer):
    """Relationships granted through ``exact_user_ids`` (walks, parties, meetups) see the exact point."""
    exact_point = offset(*HOME, north_m=77, east_m=33)
    friend = make_user(sharing=True)
    stranger = make_user(sharing=True)
    place(friend, *exact_point, accuracy_m=6.5)
    place(stranger, *exact_point)
    ctx = dataclasses.replace(viewer_context_get(viewer), exact_user_ids=frozenset({friend.pk}))
    items = {item["user_id"]: item for item in map_nodes_list(ctx, lat=HOME[0], lng=HOME[1], radius_m=1000)}
    cell = cell_for(*exact_point)

    f = items[friend.pk]
    assert (f["lat"], f["lng"]) == pytest.approx(exact_point, abs=1e-7)
    assert f["precision_m"] == 6.5
    assert f["distance_m"] == pytest.approx(vincenty_m(*HOME, *exact_point), abs=1.0)
    assert f["location_updated_at"] == LocationFix.objects.get(user=friend).recorded_at

    s = items[stranger.pk]
    assert (s["lat"], s["lng"]) == pytest.approx((cell.lat, cell.lng), abs=1e-7)
    assert s["precision_m"] == GRID

    # without the grant, the friend is a stranger again
    plain = {
        i["user_id"]: i for i in map_nodes_list(viewer_context_get(viewer), lat=HOME[0], lng=HOME[1], radius_m=1000)
    }
    assert (plain[friend.pk]["lat"], plain[friend.pk]["lng"]) == pytest.approx((cell.lat, cell.lng), abs=1e-7)


# --- sharing toggled through the settings API --------------------------------------------------


def test_sharing_off_hides_at_once_and_on_shows_after_a_tick(
    make_user, place, client_for, vclient, node_ids, django_capture_on_commit_callbacks
):
    target = make_user(sharing=True)
    place(target, *offset(*HOME, north_m=150))
    tclient = client_for(target)
    assert node_ids(vclient, *HOME) == {str(target.pk)}

    with django_capture_on_commit_callbacks(execute=True):
        response = tclient.patch("/api/settings", {"location_sharing": False}, format="json")
    assert response.status_code == 200
    assert response.json()["location_sharing"] is False
    assert node_ids(vclient, *HOME) == set()  # no tick needed
    map_publish_tick()
    assert node_ids(vclient, *HOME) == set()

    with django_capture_on_commit_callbacks(execute=True):
        response = tclient.patch("/api/settings", {"location_sharing": True}, format="json")
    assert response.status_code == 200
    assert node_ids(vclient, *HOME) == set()  # not before the tick
    map_publish_tick()
    assert node_ids(vclient, *HOME) == {str(target.pk)}


def test_sharing_off_via_preferences_alias(
    make_user, place, client_for, vclient, node_ids, django_capture_on_commit_callbacks
):
    target = make_user(sharing=True)
    place(target, *offset(*HOME, north_m=150))
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(target).patch("/api/users/preferences", {"location_sharing": False}, format="json")
    assert response.status_code == 200
    assert node_ids(vclient, *HOME) == set()


def test_fixes_while_not_sharing_stay_private_until_sharing_resumes(
    make_user, place, client_for, vclient, node_ids, django_capture_on_commit_callbacks
):
    target = make_user(sharing=True)
    tclient = client_for(target)
    place(target, *offset(*HOME, north_m=150))
    with django_capture_on_commit_callbacks(execute=True):
        tclient.patch("/api/settings", {"location_sharing": False}, format="json")
    moved = offset(*HOME, north_m=-600)
    place(target, *moved)
    assert node_ids(vclient, *HOME) == set()
    assert LocationFix.objects.get(user=target).public_location is None

    with django_capture_on_commit_callbacks(execute=True):
        tclient.patch("/api/settings", {"location_sharing": True}, format="json")
    map_publish_tick()
    cell = cell_for(*moved)
    fix = LocationFix.objects.get(user=target)
    assert fix.public_cell == cell.id
    assert node_ids(vclient, *moved, radius=200) == {str(target.pk)}
