"""REST of meet-now and meetups: requests, refusals, transitions, wrong users, expiry, exact sharing, blocks."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import override_settings
from django.utils import timezone

from accounts.models import Block
from core.signals import block_created
from geo.selectors import contact_ids_for, exact_user_ids_for
from messaging.models import ConversationMember
from notifications.models import Notification
from tests.conftest import assert_error
from tests.geo.geoutil import offset
from walks import meet
from walks.models import MeetNowRequest, Meetup, MeetupParticipant

from .conftest import HOME, block

pytestmark = pytest.mark.django_db

URL = "/api/meet_now"


def ask(client, target, **extra):
    return client.post(URL, {"target_user_id": str(target.pk), **extra}, format="json")


@pytest.fixture
def pending(trio, client_for):
    alice, bob, _ = trio
    r = ask(client_for(alice), bob, message="Coffee?")
    assert r.status_code == 201, r.content
    return MeetNowRequest.objects.get(pk=r.json()["id"])


@pytest.fixture
def meetup(pending, trio, client_for):
    r = client_for(trio[1]).post(f"{URL}/{pending.pk}/accept")
    assert r.status_code == 200, r.content
    return Meetup.objects.get(pk=r.json()["meetup_id"])


def test_create_notifies_target(pending, trio):
    alice, bob, _ = trio
    assert pending.status == "pending" and pending.from_user == alice and pending.to_user == bob
    assert pending.message == "Coffee?"
    ttl = (pending.expires_at - pending.created_at).total_seconds()
    assert abs(ttl - 1800) < 5
    note = Notification.objects.get(user=bob)
    assert note.type == "meet_request" and note.related_kind == "meet_now" and note.related_id == str(pending.pk)
    assert not Notification.objects.filter(user=alice).exists()


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"target_user_id": "nope"},
        {"target_user_id": 7},
        {"target_user_id": "TARGET", "message": "x" * 501},
        {"target_user_id": "TARGET", "message": ["a"]},
        {"target_user_id": "SELF"},
    ],
)
def test_create_bad_input(trio, client_for, body):
    alice, bob, _ = trio
    body = {k: (str(bob.pk) if v == "TARGET" else str(alice.pk) if v == "SELF" else v) for k, v in body.items()}
    assert_error(client_for(alice).post(URL, body, format="json"), 400, "invalid")
    assert not MeetNowRequest.objects.exists()


def test_needs_auth(anon, trio):
    assert anon.post(URL, {"target_user_id": str(trio[1].pk)}, format="json").status_code == 401
    assert anon.get(URL).status_code == 401
    assert anon.get("/api/meetups").status_code == 401


def test_refusals_do_not_say_why(trio, make_user, client_for, place):
    alice, bob, carol = trio
    hidden = make_user(username="hidden", sharing=False)
    place(hidden, *HOME)
    block(bob, alice)
    block(alice, carol)
    api = client_for(alice)
    answers = [
        ask(api, bob),
        ask(api, carol),
        ask(api, hidden),
        api.post(URL, {"target_user_id": "00000000-0000-0000-0000-000000000000"}, format="json"),
    ]
    bodies = [assert_error(r, 404, "not_available") for r in answers]
    assert len({b["message"] for b in bodies}) == 1
    assert not MeetNowRequest.objects.exists()


def test_one_pending_per_pair_either_way(pending, trio, client_for):
    alice, bob, _ = trio
    assert_error(ask(client_for(alice), bob), 409, "request_pending")
    assert_error(ask(client_for(bob), alice), 409, "request_pending")
    # an expired one (not swept yet) no longer counts
    MeetNowRequest.objects.filter(pk=pending.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert ask(client_for(bob), alice).status_code == 201
    pending.refresh_from_db()
    assert pending.status == "expired"


@override_settings(MEET_NOW_RATE="2/min")
def test_rate_limited(trio, make_user, place, client_for):
    alice = trio[0]
    others = []
    for i in range(3):
        u = make_user(username=f"m{i}", sharing=True)
        place(u, *offset(*HOME, east_m=-20 * i))
        others.append(u)
    api = client_for(alice)
    assert ask(api, others[0]).status_code == 201
    assert ask(api, others[1]).status_code == 201
    assert_error(ask(api, others[2]), 429, "rate_limited")


def test_wrong_users_on_a_request(pending, trio, client_for):
    alice, bob, carol = trio
    c = client_for(carol)
    for action in ("accept", "decline", "cancel"):
        assert_error(c.post(f"{URL}/{pending.pk}/{action}"), 404, "not_found")
    for bad in ("abc", "0", "99999999999999999999"):
        assert_error(client_for(bob).post(f"{URL}/{bad}/accept"), 404, "not_found")
    assert c.get(URL).json()["count"] == 0
    assert_error(client_for(alice).post(f"{URL}/{pending.pk}/accept"), 403, "not_your_turn")
    assert_error(client_for(alice).post(f"{URL}/{pending.pk}/decline"), 403, "not_your_turn")
    assert_error(client_for(bob).post(f"{URL}/{pending.pk}/cancel"), 403, "not_your_turn")
    pending.refresh_from_db()
    assert pending.status == "pending"


def test_decline_and_cancel(trio, client_for, pending):
    alice, bob, _ = trio
    r = client_for(bob).post(f"{URL}/{pending.pk}/decline")
    assert r.status_code == 200 and r.json()["status"] == "declined" and r.json()["responded_at"]
    assert Notification.objects.filter(user=alice, type="meet_request", data__action="declined").exists()
    assert_error(client_for(bob).post(f"{URL}/{pending.pk}/accept"), 409, "invalid_transition")
    r = ask(client_for(bob), alice)
    assert r.status_code == 201
    r = client_for(bob).post(f"{URL}/{r.json()['id']}/cancel")
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    assert_error(client_for(bob).post(f"{URL}/{r.json()['id']}/cancel"), 409, "invalid_transition")


def test_list_directions(pending, trio, client_for):
    alice, bob, _ = trio
    assert [i["id"] for i in client_for(bob).get(URL, {"direction": "incoming"}).json()["results"]] == [pending.pk]
    assert client_for(bob).get(URL, {"direction": "outgoing"}).json()["count"] == 0
    assert client_for(alice).get(URL, {"direction": "outgoing"}).json()["results"][0]["from_user_name"] == "Alice"
    assert client_for(alice).get(URL).json()["count"] == 1
    assert_error(client_for(alice).get(URL, {"direction": "sideways"}), 400, "invalid")


def test_expiry_checked_on_read_then_swept(pending, trio, client_for):
    alice, bob, _ = trio
    MeetNowRequest.objects.filter(pk=pending.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert client_for(bob).get(URL).json()["results"][0]["status"] == "expired"
    assert meet.meet_pending_for_target(bob.pk) == []
    assert_error(client_for(bob).post(f"{URL}/{pending.pk}/accept"), 409, "invalid_transition")
    assert meet.meet_now_expire_due() == 1
    pending.refresh_from_db()
    assert pending.status == "expired"
    assert meet.meet_now_expire_due() == 0


def test_pending_for_target_is_one_query(trio, make_user, place, client_for, django_assert_num_queries):
    bob = trio[1]
    for i in range(3):
        u = make_user(username=f"p{i}", full_name=f"P{i}", sharing=True)
        place(u, *offset(*HOME, east_m=-15 * i))
        assert ask(client_for(u), bob).status_code == 201
    with django_assert_num_queries(1):
        items = meet.meet_pending_for_target(bob.pk)
    assert len(items) == 3 and {i["from_user_name"] for i in items} == {"P0", "P1", "P2"}


def test_accept_creates_meetup_with_conversation(meetup, pending, trio, client_for):
    alice, bob, carol = trio
    assert meetup.organizer == alice and meetup.status == "active"
    assert abs((meetup.time - timezone.now()).total_seconds()) < 10
    # midpoint of alice (10 m north) and bob (40 m south): 15 m south of HOME
    lat, lng = offset(*HOME, north_m=-15)
    assert abs(meetup.location.y - lat) < 2e-5 and abs(meetup.location.x - lng) < 2e-5
    assert set(MeetupParticipant.objects.filter(meetup=meetup).values_list("user_id", flat=True)) == {alice.pk, bob.pk}
    body = client_for(alice).get(f"/api/meetups/{meetup.pk}").json()
    assert body["status"] == "active" and set(body["participant_ids"]) == {str(alice.pk), str(bob.pk)}
    assert body["conversation_id"] and body["exact_until"]
    members = ConversationMember.objects.filter(conversation_id=body["conversation_id"], left_at__isnull=True)
    assert set(members.values_list("user_id", flat=True)) == {alice.pk, bob.pk}
    assert members.first().conversation.kind == "meetup"
    note = Notification.objects.get(user=alice, type="meet_request")
    assert note.data["meetup_id"] == meetup.pk and note.data["action"] == "accepted"
    # exact sharing both ways, and contacts both ways; never for carol
    assert bob.pk in exact_user_ids_for(alice.pk) and alice.pk in exact_user_ids_for(bob.pk)
    assert carol.pk not in exact_user_ids_for(alice.pk)
    assert bob.pk in contact_ids_for(alice.pk) and alice.pk in contact_ids_for(bob.pk)
    assert [m["id"] for m in client_for(bob).get("/api/meetups").json()] == [meetup.pk]
    assert client_for(carol).get("/api/meetups").json() == []


def test_meetup_without_fresh_fixes_has_no_location(trio, client_for):
    alice, bob, _ = trio
    item = MeetNowRequest.objects.create(from_user=alice, to_user=bob, expires_at=timezone.now() + timedelta(minutes=5))
    from geo.models import LocationFix

    LocationFix.objects.filter(user=bob).update(recorded_at=timezone.now() - timedelta(days=1))
    r = client_for(bob).post(f"{URL}/{item.pk}/accept")
    assert r.status_code == 200
    assert client_for(bob).get(f"/api/meetups/{r.json()['meetup_id']}").json()["location"] is None


def test_third_user_on_a_meetup(meetup, trio, client_for):
    carol = trio[2]
    c = client_for(carol)
    assert_error(c.get(f"/api/meetups/{meetup.pk}"), 404, "not_found")
    for action in ("end", "cancel", "leave"):
        assert_error(c.post(f"/api/meetups/{meetup.pk}/{action}"), 404, "not_found")
    assert_error(c.get("/api/meetups/xyz"), 404, "not_found")
    meetup.refresh_from_db()
    assert meetup.status == "active"


def test_cancel_is_for_the_organizer(meetup, trio, client_for):
    alice, bob, _ = trio
    assert_error(client_for(bob).post(f"/api/meetups/{meetup.pk}/cancel"), 403, "not_your_turn")
    r = client_for(alice).post(f"/api/meetups/{meetup.pk}/cancel")
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    assert Notification.objects.filter(user=bob, type="meetup_update").exists()
    assert_error(client_for(alice).post(f"/api/meetups/{meetup.pk}/end"), 409, "invalid_transition")
    assert bob.pk not in exact_user_ids_for(alice.pk)
    assert alice.pk not in contact_ids_for(bob.pk)  # a cancelled meetup makes nobody a contact
    assert client_for(alice).get("/api/meetups").json() == []


def test_end_stops_exact_sharing(meetup, trio, client_for):
    alice, bob, _ = trio
    r = client_for(bob).post(f"/api/meetups/{meetup.pk}/end")
    assert r.status_code == 200 and r.json()["status"] == "ended" and r.json()["ended_at"]
    assert bob.pk not in exact_user_ids_for(alice.pk)
    assert bob.pk in contact_ids_for(alice.pk)
    assert_error(client_for(alice).post(f"/api/meetups/{meetup.pk}/end"), 409, "invalid_transition")
    assert_error(client_for(alice).post(f"/api/meetups/{meetup.pk}/leave"), 409, "invalid_transition")


def test_leave_evicts_from_conversation_and_last_one_ends(meetup, trio, client_for):
    alice, bob, _ = trio
    r = client_for(alice).post(f"/api/meetups/{meetup.pk}/leave")
    assert r.status_code == 200 and r.json()["status"] == "active" and r.json()["participant_ids"] == [str(bob.pk)]
    conv = r.json()["conversation_id"]
    assert ConversationMember.objects.get(conversation_id=conv, user=alice).left_at is not None
    assert bob.pk not in exact_user_ids_for(alice.pk) and alice.pk not in exact_user_ids_for(bob.pk)
    assert_error(client_for(alice).post(f"/api/meetups/{meetup.pk}/leave"), 409, "invalid_transition")
    assert_error(client_for(alice).post(f"/api/meetups/{meetup.pk}/end"), 403, "not_your_turn")
    assert client_for(alice).get("/api/meetups").json() == []
    assert client_for(alice).get(f"/api/meetups/{meetup.pk}").status_code == 200  # history stays readable
    r = client_for(bob).post(f"/api/meetups/{meetup.pk}/leave")
    assert r.status_code == 200 and r.json()["status"] == "ended"


def test_exact_window_and_sweep(meetup, trio):
    alice, bob, _ = trio
    Meetup.objects.filter(pk=meetup.pk).update(time=timezone.now() - timedelta(hours=2, seconds=1))
    assert bob.pk not in exact_user_ids_for(alice.pk)  # before the sweep
    assert meet.meetup_expire_due() == 1
    meetup.refresh_from_db()
    assert meetup.status == "ended"


def test_block_cancels_requests_and_meetups(meetup, trio, client_for, make_user, place):
    alice, bob, _ = trio
    dave = make_user(username="dave", sharing=True)
    place(dave, *offset(*HOME, east_m=-30))
    r = ask(client_for(dave), bob)
    assert r.status_code == 201
    Block.objects.create(blocker=bob, blocked=dave)
    block_created.send(sender=None, blocker_id=bob.pk, blocked_id=dave.pk)
    assert MeetNowRequest.objects.get(pk=r.json()["id"]).status == "cancelled"
    Block.objects.create(blocker=alice, blocked=bob)
    block_created.send(sender=None, blocker_id=alice.pk, blocked_id=bob.pk)
    meetup.refresh_from_db()
    assert meetup.status == "cancelled"
    assert not Notification.objects.filter(type="meetup_update").exists()


def test_midpoint_crosses_the_antimeridian():
    from django.contrib.gis.geos import Point

    mid = meet.geo_midpoint(Point(179.0, 0.0, srid=4326), Point(-179.0, 0.0, srid=4326))
    assert abs(abs(mid.x) - 180.0) < 1e-6 and abs(mid.y) < 1e-6
