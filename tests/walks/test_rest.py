"""REST of walks: request, transitions, wrong users, blocks, exact sharing, track and distance, expiry, history."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test import override_settings
from django.utils import timezone

from geo.selectors import contact_ids_for, exact_user_ids_for, map_nodes_list, viewer_context_get
from notifications.models import Notification
from tests.conftest import assert_error
from tests.geo.geoutil import offset
from walks.models import Walk, WalkPoint, WalkStatus
from walks.services import walk_expire_due

from .conftest import HOME, block, ts

pytestmark = pytest.mark.django_db

URL = "/api/walks"


def request_walk(client, partner, **extra):
    return client.post(f"{URL}/request", {"partner_id": str(partner.pk), **extra}, format="json")


@pytest.fixture
def walk(trio, client_for, django_capture_on_commit_callbacks):
    alice, bob, _ = trio
    with django_capture_on_commit_callbacks(execute=True):
        r = request_walk(client_for(alice), bob, message="Park?", meeting_point={"lat": HOME[0], "lng": HOME[1]})
    assert r.status_code == 201, r.content
    return Walk.objects.get(pk=r.json()["id"])


def test_request_creates_walk_and_notifies_partner(walk, trio):
    alice, bob, _ = trio
    assert walk.status == "requested" and walk.initiator == alice and walk.partner == bob
    assert walk.message == "Park?" and abs(walk.meeting_point.y - HOME[0]) < 1e-9
    note = Notification.objects.get(user=bob)
    assert note.type == "walk_request" and note.related_kind == "walk" and note.related_id == str(walk.pk)
    assert not Notification.objects.filter(user=alice).exists()


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"partner_id": "nope"},
        {"partner_id": 5},
        {"partner_id": "PARTNER", "message": "x" * 501},
        {"partner_id": "PARTNER", "meeting_point": {"lat": 91, "lng": 0}},
        {"partner_id": "PARTNER", "meeting_point": {"lat": "NaN", "lng": 0}},
        {"partner_id": "PARTNER", "meeting_point": [1, 2]},
        {"partner_id": "SELF"},
    ],
)
def test_request_bad_input(trio, client_for, body):
    alice, bob, _ = trio
    body = {k: (str(bob.pk) if v == "PARTNER" else str(alice.pk) if v == "SELF" else v) for k, v in body.items()}
    assert_error(client_for(alice).post(f"{URL}/request", body, format="json"), 400, "invalid")
    assert not Walk.objects.exists()


def test_request_body_not_an_object(trio, client_for):
    assert_error(client_for(trio[0]).post(f"{URL}/request", [1, 2], format="json"), 400)


def test_request_needs_auth(anon, trio):
    assert anon.post(f"{URL}/request", {"partner_id": str(trio[1].pk)}, format="json").status_code == 401


def test_refusals_do_not_say_why(trio, make_user, client_for, place):
    alice, bob, carol = trio
    hidden = make_user(username="hidden", sharing=False)
    place(hidden, *HOME)
    block(bob, alice)  # bob blocked alice
    block(alice, carol)  # alice blocked carol
    api = client_for(alice)
    answers = [
        request_walk(api, bob),  # blocked by the partner
        request_walk(api, carol),  # the caller blocked the partner
        request_walk(api, hidden),  # not sharing: not visible
        api.post(f"{URL}/request", {"partner_id": "00000000-0000-0000-0000-000000000000"}, format="json"),
    ]
    bodies = [assert_error(r, 404, "not_available") for r in answers]
    assert len({b["message"] for b in bodies}) == 1
    assert not Walk.objects.exists()


def test_visible_roles_refuse_like_a_block(trio, client_for):
    alice, bob, _ = trio
    from accounts.models import UserSettings

    UserSettings.objects.filter(user=bob).update(visible_roles=["driver"])
    assert_error(request_walk(client_for(alice), bob), 404, "not_available")


def test_one_pending_request_per_pair_either_way(walk, trio, client_for):
    alice, bob, _ = trio
    assert_error(request_walk(client_for(alice), bob), 409, "request_pending")
    assert_error(request_walk(client_for(bob), alice), 409, "request_pending")
    assert Walk.objects.count() == 1
    # once answered, a new request is fine
    assert client_for(bob).put(f"{URL}/{walk.pk}/decline").status_code == 200
    assert request_walk(client_for(bob), alice).status_code == 201


@override_settings(WALK_REQUEST_RATE="2/min")
def test_requests_are_rate_limited(trio, make_user, place, client_for):
    alice = trio[0]
    others = []
    for i in range(3):
        u = make_user(username=f"o{i}", sharing=True)
        place(u, *offset(*HOME, east_m=-20 * i))
        others.append(u)
    api = client_for(alice)
    assert request_walk(api, others[0]).status_code == 201
    assert request_walk(api, others[1]).status_code == 201
    assert_error(request_walk(api, others[2]), 429, "rate_limited")


def test_full_flow_records_track_and_distance(walk, trio, client_for, place):
    alice, bob, _ = trio
    a, b = client_for(alice), client_for(bob)
    assert_error(a.post(f"{URL}/{walk.pk}/start"), 409, "invalid_transition")  # not accepted yet
    assert_error(a.put(f"{URL}/{walk.pk}/accept"), 403, "not_your_turn")  # the initiator cannot accept
    r = b.put(f"{URL}/{walk.pk}/accept")
    assert r.status_code == 200 and r.json()["status"] == "accepted" and r.json()["expires_at"]
    assert_error(b.put(f"{URL}/{walk.pk}/accept"), 409, "invalid_transition")
    assert_error(a.post(f"{URL}/{walk.pk}/end"), 409, "invalid_transition")
    # a fix while accepted is streamed but not part of the track
    place(alice, *offset(*HOME, north_m=12), timestamp=ts(150))
    assert b.post(f"{URL}/{walk.pk}/start").json()["status"] == "in_progress"
    path = [offset(*HOME, north_m=100 * i) for i in range(5)]
    for i, point in enumerate(path):
        place(alice, *point, timestamp=ts(100 - 10 * i))
        place(bob, *offset(*point, east_m=3), timestamp=ts(100 - 10 * i))
    place(bob, *offset(*HOME, east_m=500), timestamp=ts(1))  # bob's extra fix: bob has more points
    assert WalkPoint.objects.filter(walk=walk).count() == 11
    r = a.post(f"{URL}/{walk.pk}/end")
    assert r.status_code == 200, r.content
    data = r.json()
    assert data["status"] == "completed" and data["duration_s"] >= 0
    walk.refresh_from_db()
    assert len(walk.route.coords) == 6 and len(walk.route_data["coordinates"]) == 6
    with connection.cursor() as cursor:
        cursor.execute("SELECT ST_Length(route) FROM walks_walk WHERE id = %s", [walk.pk])
        assert abs(cursor.fetchone()[0] - walk.distance_m) < 0.01
    assert abs(walk.distance_m - (400 + (400**2 + 497**2) ** 0.5)) < 5  # bob's track: 4 x 100 m, then the diagonal
    detail = b.get(f"{URL}/{walk.pk}").json()
    assert detail["route"]["type"] == "LineString" and len(detail["route"]["coordinates"]) == 6
    assert detail["distance_m"] == round(walk.distance_m, 1)
    # suggestions now follow the recorded route (places.selectors.place_list_near on the line)
    from django.contrib.gis.geos import Point

    from places.models import Place

    def poi(osm_id, lat_lng, name):
        lat, lng = lat_lng
        return Place.objects.create(
            osm_type="node", osm_id=osm_id, name=name, category="amenity=cafe", location=Point(lng, lat, srid=4326)
        )

    poi(1, offset(*HOME, north_m=200, east_m=30), "Beside the route")
    poi(2, offset(*HOME, north_m=200, east_m=900), "Far away")
    body = b.get(f"{URL}/{walk.pk}/suggestions?radius_m=100&category=amenity").json()
    assert body["basis"] == "route" and [p["name"] for p in body["results"]] == ["Beside the route"]
    assert b.get(f"{URL}/{walk.pk}/suggestions?radius_m=100&query=nothing-like-this").json()["results"] == []
    assert_error(a.post(f"{URL}/{walk.pk}/end"), 409, "invalid_transition")
    assert_error(a.post(f"{URL}/{walk.pk}/cancel"), 409, "invalid_transition")
    # the initiator was notified of the accept, bob of the end
    assert Notification.objects.filter(user=alice, data__action="accepted").exists()
    assert Notification.objects.filter(user=bob, data__action="ended").exists()
    # completed walkers are contacts both ways
    assert bob.pk in contact_ids_for(alice.pk) and alice.pk in contact_ids_for(bob.pk)


def test_third_user_gets_404_for_every_action(walk, trio, client_for):
    carol = trio[2]
    c = client_for(carol)
    for method, path in [
        ("put", "accept"),
        ("put", "decline"),
        ("post", "accept"),
        ("post", "start"),
        ("post", "end"),
        ("post", "cancel"),
        ("get", ""),
        ("get", "suggestions"),
    ]:
        url = f"{URL}/{walk.pk}/{path}" if path else f"{URL}/{walk.pk}"
        assert_error(getattr(c, method)(url), 404, "not_found")
    for bad in ("abc", "0", "99999999", "-1"):
        assert_error(c.get(f"{URL}/{bad}"), 404)
    walk.refresh_from_db()
    assert walk.status == "requested"
    assert c.get(f"{URL}/history").json()["count"] == 0


def test_decline_and_cancel_rules(walk, trio, client_for):
    alice, bob, _ = trio
    assert_error(client_for(alice).put(f"{URL}/{walk.pk}/decline"), 403, "not_your_turn")
    assert_error(client_for(bob).post(f"{URL}/{walk.pk}/cancel"), 403, "not_your_turn")
    r = client_for(alice).post(f"{URL}/{walk.pk}/cancel")
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    assert_error(client_for(bob).put(f"{URL}/{walk.pk}/accept"), 409, "invalid_transition")


def test_exact_position_only_between_walkers_while_live(walk, trio, client_for):
    alice, bob, carol = trio
    assert exact_user_ids_for(alice.pk) == frozenset()
    client_for(bob).put(f"{URL}/{walk.pk}/accept")
    assert exact_user_ids_for(alice.pk) == {bob.pk} and exact_user_ids_for(bob.pk) == {alice.pk}
    assert exact_user_ids_for(carol.pk) == frozenset()

    def node(viewer, target):
        nodes = map_nodes_list(viewer_context_get(viewer), lat=HOME[0], lng=HOME[1], radius_m=2000)
        return next(n for n in nodes if n["user_id"] == target.pk)

    assert node(alice, bob)["precision_m"] == 5.0  # exact: the fix's accuracy
    assert node(carol, bob)["precision_m"] == 100.0 and node(carol, alice)["precision_m"] == 100.0
    client_for(alice).post(f"{URL}/{walk.pk}/start")
    assert exact_user_ids_for(alice.pk) == {bob.pk}
    client_for(alice).post(f"{URL}/{walk.pk}/cancel")
    assert exact_user_ids_for(alice.pk) == frozenset() and node(alice, bob)["precision_m"] == 100.0


def test_expiry_ends_sharing_at_once_and_the_sweep_marks_it(walk, trio, client_for, settings):
    alice, bob, _ = trio
    client_for(bob).put(f"{URL}/{walk.pk}/accept")
    client_for(bob).post(f"{URL}/{walk.pk}/start")
    Walk.objects.filter(pk=walk.pk).update(
        start_time=timezone.now() - timedelta(seconds=settings.WALK_ACTIVE_TTL_S + 1)
    )
    assert exact_user_ids_for(alice.pk) == frozenset()  # before any sweep
    assert_error(client_for(alice).post(f"{URL}/{walk.pk}/start"), 409, "invalid_transition")
    assert walk_expire_due() == 1
    walk.refresh_from_db()
    assert walk.status == "expired" and walk.end_time and walk.distance_m == 0.0
    assert walk_expire_due() == 0


def test_unanswered_request_expires(walk, settings):
    assert walk_expire_due() == 0
    later = timezone.now() + timedelta(seconds=settings.WALK_REQUEST_TTL_S + 1)
    assert walk_expire_due(now=later) == 1
    walk.refresh_from_db()
    assert walk.status == WalkStatus.EXPIRED


def test_block_cancels_live_walk(walk, trio, client_for, django_capture_on_commit_callbacks):
    alice, bob, _ = trio
    client_for(bob).put(f"{URL}/{walk.pk}/accept")
    with django_capture_on_commit_callbacks(execute=True):
        assert client_for(bob).post(f"/api/users/{alice.pk}/block").status_code in (200, 201)
    walk.refresh_from_db()
    assert walk.status == "cancelled"
    assert exact_user_ids_for(alice.pk) == frozenset()


def test_history_is_mine_paginated_newest_first(trio, client_for, make_user, place):
    alice, bob, carol = trio
    for i in range(22):
        Walk.objects.create(initiator=alice if i % 2 else bob, partner=carol if i % 2 else alice, status="declined")
    Walk.objects.create(initiator=bob, partner=carol, status="declined")
    r = client_for(alice).get(f"{URL}/history")
    body = r.json()
    assert body["count"] == 22 and len(body["results"]) == 20 and body["next"]
    assert {"distance_m", "duration_s", "status"} <= set(body["results"][0])
    assert client_for(alice).get(f"{URL}/history?page=2").json()["count"] == 22
    assert_error(client_for(alice).get(f"{URL}/history?page=9"), 404)


def test_suggestions_near_meeting_point_and_bad_input(walk, trio, client_for):
    from django.contrib.gis.geos import Point

    from places.models import Place

    alice, bob, _ = trio
    near = Place.objects.create(
        osm_type="node",
        osm_id=1,
        name="Cafe",
        category="amenity=cafe",
        location=Point(HOME[1], HOME[0] + 0.001, srid=4326),
    )
    Place.objects.create(
        osm_type="node",
        osm_id=2,
        name="Far",
        category="amenity=cafe",
        location=Point(HOME[1], HOME[0] + 0.1, srid=4326),
    )
    r = client_for(bob).get(f"{URL}/{walk.pk}/suggestions")
    assert r.status_code == 200
    assert r.json()["basis"] == "meeting_point" and [p["id"] for p in r.json()["results"]] == [near.pk]
    assert client_for(alice).get(f"{URL}/{walk.pk}/suggestions?category=shop").json()["count"] == 0
    for bad in ("radius_m=0", "radius_m=999999", "radius_m=abc", "radius_m=nan"):
        assert_error(client_for(alice).get(f"{URL}/{walk.pk}/suggestions?{bad}"), 400)


def test_availability_and_nearby_filter(trio, client_for):
    from accounts.models import UserSettings
    from geo.selectors import nearby_users_list
    from walks.selectors import available_walkers_filter

    alice, bob, carol = trio
    api = client_for(bob)
    assert api.get(f"{URL}/availability").json() == {"available": False}
    assert_error(api.put(f"{URL}/availability", {"available": "maybe"}, format="json"), 400)
    assert api.put(f"{URL}/availability", {"available": True}, format="json").json() == {"available": True}
    client_for(carol).put(f"{URL}/availability", {"available": True}, format="json")
    nodes = nearby_users_list(alice)
    assert {n["user_id"] for n in available_walkers_filter(alice, nodes)} == {bob.pk, carol.pk}
    # preferences both ways: carol wants women only; alice has no gender set
    UserSettings.objects.filter(user=carol).update(gender_preference="female")
    assert {n["user_id"] for n in available_walkers_filter(alice, nodes)} == {bob.pk}
    # pace mismatch
    UserSettings.objects.filter(user=alice).update(preferred_pace="slow")
    UserSettings.objects.filter(user=bob).update(preferred_pace="fast")
    assert available_walkers_filter(alice, nodes) == []
