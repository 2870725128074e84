"""``walks.selectors.fix_listeners_of``: the one-statement gate of the ``fixes_stored`` receiver, over a batch.

Of a list of users it returns exactly those with a live walk, an
exact-sharing meetup or an active proximity alert, and agrees with
``fix_listeners_any`` and with the ORM selectors (``walks_live_for``,
``meetups_exact_for``, active alerts) user by user, at any ``now``.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.conf import settings
from django.contrib.gis.geos import Point
from django.utils import timezone

from geo.serializers import location_fix_parse
from geo.services import location_record_many
from walks.meet import meetups_exact_for
from walks.models import (
    Meetup,
    MeetupParticipant,
    MeetupStatus,
    ProximityAlert,
    ProximityStatus,
    Walk,
    WalkPoint,
    WalkStatus,
)
from walks.selectors import fix_listeners_any, fix_listeners_of, walks_live_for

pytestmark = pytest.mark.django_db


def orm_listens(user_id, now=None) -> bool:
    """The ORM rule: a live walk, an exact-sharing meetup or an active proximity alert."""
    alerts = ProximityAlert.objects.filter(status=ProximityStatus.ACTIVE).filter(
        from_user_id=user_id
    ) | ProximityAlert.objects.filter(status=ProximityStatus.ACTIVE, to_user_id=user_id)
    return walks_live_for(user_id, now).exists() or meetups_exact_for(user_id, now).exists() or alerts.exists()


@pytest.fixture
def world(make_user):
    """Users in every state the gate distinguishes; returns ``(users by name, names expected to listen now)``."""
    now = timezone.now()
    walk_ttl = timedelta(seconds=settings.WALK_ACTIVE_TTL_S)
    meetup_ttl = timedelta(seconds=settings.MEETUP_EXACT_TTL_S)
    names = [
        "walk_accepted_a",
        "walk_accepted_b",
        "walk_started_a",
        "walk_started_b",
        "walk_expired_a",
        "walk_expired_b",
        "walk_started_long_ago",
        "walk_requested_a",
        "walk_requested_b",
        "walk_done_a",
        "walk_done_b",
        "meetup_organizer",
        "meetup_guest",
        "meetup_left",
        "meetup_ended_guest",
        "meetup_planned_guest",
        "meetup_old_guest",
        "alert_from",
        "alert_to",
        "alert_pending_from",
        "alert_pending_to",
        "alert_revoked_from",
        "alert_revoked_to",
        "nobody",
    ]
    u = {name: make_user(username=name) for name in names}

    def walk(a, b, status, **fields):
        return Walk.objects.create(initiator=u[a], partner=u[b], status=status, **fields)

    walk("walk_accepted_a", "walk_accepted_b", WalkStatus.ACCEPTED, accepted_at=now - timedelta(minutes=5))
    walk("walk_started_a", "walk_started_b", WalkStatus.IN_PROGRESS, accepted_at=now - walk_ttl, start_time=now)
    walk("walk_expired_a", "walk_expired_b", WalkStatus.ACCEPTED, accepted_at=now - walk_ttl - timedelta(minutes=1))
    walk(
        "walk_started_long_ago",
        "walk_done_a",
        WalkStatus.IN_PROGRESS,
        start_time=now - walk_ttl - timedelta(minutes=1),
    )
    walk("walk_requested_a", "walk_requested_b", WalkStatus.REQUESTED)
    walk("walk_done_a", "walk_done_b", WalkStatus.COMPLETED, accepted_at=now, start_time=now, end_time=now)

    def meetup(status, when, *members, left=()):
        m = Meetup.objects.create(organizer=u[members[0]], status=status, time=when, location=Point(13.4, 52.5))
        for name in members:
            MeetupParticipant.objects.create(meetup=m, user=u[name], left_at=now if name in left else None)
        return m

    meetup(MeetupStatus.ACTIVE, now, "meetup_organizer", "meetup_guest", "meetup_left", left=("meetup_left",))
    meetup(MeetupStatus.ENDED, now, "meetup_ended_guest")
    meetup(MeetupStatus.PLANNED, now + timedelta(hours=1), "meetup_planned_guest")
    meetup(MeetupStatus.ACTIVE, now - meetup_ttl - timedelta(minutes=1), "meetup_old_guest")

    def alert(a, b, status):
        ProximityAlert.objects.create(from_user=u[a], to_user=u[b], distance_m=300, status=status)

    alert("alert_from", "alert_to", ProximityStatus.ACTIVE)
    alert("alert_pending_from", "alert_pending_to", ProximityStatus.PENDING)
    alert("alert_revoked_from", "alert_revoked_to", ProximityStatus.REVOKED)

    listening = {
        "walk_accepted_a",
        "walk_accepted_b",
        "walk_started_a",
        "walk_started_b",
        "meetup_organizer",
        "meetup_guest",
        "alert_from",
        "alert_to",
    }
    return u, listening


def test_returns_exactly_the_users_with_live_walks_meetups_or_alerts(world):
    users, listening = world
    result = fix_listeners_of([user.pk for user in users.values()])
    assert result == {str(users[name].pk) for name in listening}
    assert all(isinstance(uid, str) for uid in result)


def test_agrees_with_fix_listeners_any_and_the_orm_user_by_user(world):
    users, _ = world
    batch = fix_listeners_of([user.pk for user in users.values()])
    for name, user in users.items():
        one = fix_listeners_any(user.pk)
        assert one is (str(user.pk) in batch), name
        assert one is orm_listens(user.pk), name


@pytest.mark.parametrize("hours", [-1, 1, 3, 5, 24])
def test_agrees_with_the_orm_at_another_now(world, hours):
    """Walks and meetups expire with ``now``; alerts do not: the gate and the ORM move together."""
    users, _ = world
    now = timezone.now() + timedelta(hours=hours)
    batch = fix_listeners_of([user.pk for user in users.values()], now)
    for name, user in users.items():
        assert (str(user.pk) in batch) is orm_listens(user.pk, now), (name, hours)
        assert fix_listeners_any(user.pk, now) is (str(user.pk) in batch), (name, hours)
    if hours == 24:  # only the active alert survives a day
        assert batch == {str(users["alert_from"].pk), str(users["alert_to"].pk)}


def test_a_subset_gives_that_subset_of_listeners(world):
    users, listening = world
    picked = ["walk_accepted_a", "nobody", "alert_to", "meetup_left", "walk_expired_b"]
    result = fix_listeners_of([users[name].pk for name in picked])
    assert result == {str(users[name].pk) for name in picked if name in listening}


def test_empty_input_is_an_empty_set_without_a_query(db, django_assert_num_queries):
    with django_assert_num_queries(0):
        assert fix_listeners_of([]) == set()
        assert fix_listeners_of(()) == set()
        assert fix_listeners_of(iter([])) == set()


def test_one_query_for_a_whole_batch(world, django_assert_num_queries):
    users, listening = world
    with django_assert_num_queries(1):
        result = fix_listeners_of([user.pk for user in users.values()])
    assert len(result) == len(listening)


def test_ids_as_strings_duplicates_and_unknown_users(world):
    users, _ = world
    walker = users["walk_accepted_a"]
    stranger = users["nobody"]
    result = fix_listeners_of([str(walker.pk), walker.pk, stranger.pk, uuid.uuid4(), str(walker.pk)])
    assert result == {str(walker.pk)}
    assert fix_listeners_of([uuid.uuid4(), stranger.pk]) == set()


def test_a_batch_reaches_walks_only_for_concerned_users_in_order(world, settings, django_capture_on_commit_callbacks):
    """The ``fixes_stored`` receiver gates the batch with one query and applies the concerned fixes in order."""
    settings.LOCATION_MIN_INTERVAL_S = 1
    users, _ = world
    walker, partner, stranger = users["walk_started_a"], users["walk_started_b"], users["nobody"]
    start = timezone.now() - timedelta(seconds=30)

    def fix(lat, at):
        return location_fix_parse({"lat": lat, "lng": 13.4, "timestamp": at.isoformat()})

    items = [
        (walker.pk, fix(52.50, start)),
        (stranger.pk, fix(52.60, start)),
        (partner.pk, fix(52.51, start)),
        (walker.pk, fix(52.52, start + timedelta(seconds=5))),
    ]
    with django_capture_on_commit_callbacks(execute=True):
        outcomes = location_record_many(items)
    assert [o.status for o in outcomes] == ["stored"] * 4
    points = list(WalkPoint.objects.order_by("recorded_at", "user_id").values_list("user_id", "recorded_at"))
    walker_points = [at for uid, at in points if uid == walker.pk]
    assert walker_points == [start, start + timedelta(seconds=5)]
    assert [uid for uid, _ in points].count(partner.pk) == 1
    assert stranger.pk not in {uid for uid, _ in points}
