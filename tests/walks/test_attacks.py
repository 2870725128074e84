"""Attacks on walks, meetups and proximity alerts (security review): each test failed on the code before its fix."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from geo.models import LocationFix
from walks import meet, proximity, services
from walks.realtime import walk_state

pytestmark = pytest.mark.django_db


def _stale(user, days: float = 1.0):
    """Age ``user``'s latest fix: it was recorded ``days`` ago (e.g. at home last night, before any consent)."""
    LocationFix.objects.filter(user_id=user.pk).update(recorded_at=timezone.now() - timedelta(days=days))


# --- finding 1: room:state gave out exact fixes older than the relationship -------------------------


def test_walk_room_state_leaks_no_stale_exact_fix(trio):
    """A walker whose last fix is from yesterday (location off since) must not reveal it to the new walk partner.

    Before the fix ``walk_state`` returned every walker's latest fix whatever
    its age: accepting a walk handed the partner the exact place where the
    walker last had the app open (often their home), which the map never shows.
    """
    alice, bob, _ = trio
    walk = services.walk_request(user=alice, partner_id=bob.pk)
    services.walk_accept(user=bob, walk_id=walk.pk)
    _stale(bob)
    state = walk_state(alice, str(walk.pk))
    assert str(bob.pk) not in {p["user_id"] for p in state["positions"]}
    assert str(alice.pk) in {p["user_id"] for p in state["positions"]}  # fresh fixes still flow


def test_meetup_room_state_leaks_no_stale_exact_fix(trio):
    """Same for ``meetup.<id>``: only fresh fixes of current participants inside the exact window."""
    alice, bob, _ = trio
    item = meet.meet_now_create(user=alice, target_user_id=bob.pk)
    item = meet.meet_now_accept(user=bob, meet_id=item.pk)
    _stale(bob)
    state = meet.meetup_state(alice, str(item.meetup_id))
    assert str(bob.pk) not in {p["user_id"] for p in state["positions"]}
    assert str(alice.pk) in {p["user_id"] for p in state["positions"]}


# --- finding 2: accepting a proximity alert compared the accepter's stale fix --------------------


def test_proximity_accept_ignores_the_accepters_stale_fix(trio):
    """bob's only fix is from yesterday, 50 m from where alice stands now: accepting must not say "near".

    Before the fix ``proximity_accept`` evaluated the accepter's latest fix
    whatever its age, so alice learnt that bob's last known position (e.g.
    his home) lies within ``distance_m`` of her: a stale position leaked
    through the alert, against "a missing or stale fix changes nothing".
    """
    alice, bob, _ = trio
    alert = proximity.proximity_create(user=alice, user_id=bob.pk, distance_m=100)
    _stale(bob)
    alert = proximity.proximity_accept(user=bob, alert_id=alert.pk)
    assert alert.status == "active"
    assert alert.near is False
