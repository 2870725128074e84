"""Proximity alerts: consent, revoke, blocks, wrong users, hysteresis on stored fixes, no position in any payload."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import override_settings
from django.utils import timezone

from accounts.models import Block
from core.signals import block_created
from geo.models import LocationFix
from tests.conftest import assert_error
from tests.geo.geoutil import offset
from walks import proximity
from walks.models import ProximityAlert

from .conftest import HOME, block, ts

pytestmark = pytest.mark.django_db

URL = "/api/proximity_alerts"


def ask(client, other, distance_m=500):
    return client.post(URL, {"user_id": str(other.pk), "distance_m": distance_m}, format="json")


@pytest.fixture
def alert(trio, client_for):
    alice, bob, _ = trio
    r = ask(client_for(alice), bob, 1000)
    assert r.status_code == 201, r.content
    return ProximityAlert.objects.get(pk=r.json()["id"])


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"user_id": "OTHER"},
        {"user_id": "OTHER", "distance_m": 99},
        {"user_id": "OTHER", "distance_m": 5001},
        {"user_id": "OTHER", "distance_m": "far"},
        {"user_id": "nope", "distance_m": 500},
        {"user_id": "SELF", "distance_m": 500},
    ],
)
def test_bad_input(trio, client_for, body):
    alice, bob, _ = trio
    body = {k: (str(bob.pk) if v == "OTHER" else str(alice.pk) if v == "SELF" else v) for k, v in body.items()}
    assert_error(client_for(alice).post(URL, body, format="json"), 400, "invalid")
    assert not ProximityAlert.objects.exists()


def test_needs_auth(anon):
    assert anon.get(URL).status_code == 401


def test_refusals(trio, client_for, make_user, place):
    alice, bob, carol = trio
    hidden = make_user(username="hidden", sharing=False)
    place(hidden, *HOME)
    block(bob, alice)
    api = client_for(alice)
    bodies = [
        assert_error(r, 404, "not_available")
        for r in (
            ask(api, bob),
            ask(api, hidden),
            api.post(URL, {"user_id": "00000000-0000-0000-0000-000000000000", "distance_m": 500}, format="json"),
        )
    ]
    assert len({b["message"] for b in bodies}) == 1
    assert ask(api, carol).status_code == 201
    assert_error(ask(api, carol), 409, "alert_exists")
    assert_error(ask(client_for(carol), alice), 409, "alert_exists")


@override_settings(PROXIMITY_ALERT_RATE="1/min")
def test_rate_limited(trio, client_for):
    alice, bob, carol = trio
    assert ask(client_for(alice), bob).status_code == 201
    assert_error(ask(client_for(alice), carol), 429, "rate_limited")


def test_consent_list_and_revoke(alert, trio, client_for):
    alice, bob, carol = trio
    assert alert.status == "pending"
    assert [a["id"] for a in client_for(bob).get(URL).json()] == [alert.pk]
    assert client_for(carol).get(URL).json() == []
    assert_error(client_for(alice).post(f"{URL}/{alert.pk}/accept"), 403, "not_your_turn")
    r = client_for(bob).post(f"{URL}/{alert.pk}/accept")
    assert r.status_code == 200 and r.json()["status"] == "active"
    assert r.json()["near"] is True  # 50 m apart, evaluated at once
    assert not {"lat", "lng", "location"} & set(r.json())
    assert_error(client_for(bob).post(f"{URL}/{alert.pk}/accept"), 409, "invalid_transition")
    r = client_for(alice).delete(f"{URL}/{alert.pk}")
    assert r.status_code == 200 and r.json()["status"] == "revoked"
    assert_error(client_for(bob).delete(f"{URL}/{alert.pk}"), 409, "invalid_transition")
    assert client_for(bob).get(URL).json() == []
    assert ask(client_for(bob), alice).status_code == 201  # a revoked alert frees the pair


def test_third_user_on_every_action(alert, trio, client_for):
    carol = trio[2]
    assert_error(client_for(carol).post(f"{URL}/{alert.pk}/accept"), 404, "not_found")
    assert_error(client_for(carol).delete(f"{URL}/{alert.pk}"), 404, "not_found")
    assert_error(client_for(carol).delete(f"{URL}/abc"), 404, "not_found")
    alert.refresh_from_db()
    assert alert.status == "pending"


def test_block_revokes(alert, trio):
    alice, bob, _ = trio
    Block.objects.create(blocker=bob, blocked=alice)
    block_created.send(sender=None, blocker_id=bob.pk, blocked_id=alice.pk)
    alert.refresh_from_db()
    assert alert.status == "revoked"


def test_hysteresis_on_stored_fixes(alert, trio, client_for, place, django_capture_on_commit_callbacks):
    alice, bob, _ = trio
    ProximityAlert.objects.filter(pk=alert.pk).update(distance_m=200)
    client_for(bob).post(f"{URL}/{alert.pk}/accept")
    alert.refresh_from_db()
    assert alert.near is True
    sent = []
    from walks import proximity as module

    real = module.publish
    module.publish = lambda group, event, data: sent.append((group, event, data))
    try:
        # bob (40 m south) moves to 220 m south of HOME: alice is 10 m north -> 230 m: > 200 but < 240, still near
        place(bob, *offset(*HOME, north_m=-220), timestamp=ts(150))
        assert not [s for s in sent if s[1].startswith("proximity:")]
        # 300 m apart: far, to both
        place(bob, *offset(*HOME, north_m=-290), timestamp=ts(140))
        far = [s for s in sent if s[1] == "proximity:far"]
        assert {g for g, _, _ in far} == {f"user.{alice.pk}", f"user.{bob.pk}"}
        data = far[0][2]
        assert set(data) == {"alert_id", "user_id", "distance_m", "band", "at"} and data["band"] == "beyond 200 m"
        sent.clear()
        # back to 210 m: between the thresholds, nothing
        place(alice, *offset(*HOME, north_m=-80), timestamp=ts(130))
        assert not sent
        # 150 m: near again
        place(alice, *offset(*HOME, north_m=-140), timestamp=ts(120))
        near = [s for s in sent if s[1] == "proximity:near"]
        assert len(near) == 2 and near[0][2]["band"] == "within 200 m"
    finally:
        module.publish = real
    alert.refresh_from_db()
    assert alert.near is True


def test_stale_fix_of_the_other_changes_nothing(alert, trio, client_for):
    alice, bob, _ = trio
    client_for(bob).post(f"{URL}/{alert.pk}/accept")
    LocationFix.objects.filter(user=alice).update(recorded_at=timezone.now() - timedelta(days=1))
    lat, lng = offset(*HOME, north_m=-5000)
    assert proximity.proximity_fix_stored(user_id=bob.pk, lat=lat, lng=lng) == 0


def test_fix_without_alerts_is_one_query(trio, django_assert_num_queries):
    with django_assert_num_queries(1):
        assert proximity.proximity_fix_stored(user_id=trio[0].pk, lat=HOME[0], lng=HOME[1]) == 0
