"""``geo.services.location_record_many``: a batch of fixes in one statement per round, against PostGIS and Redis.

Every item gets its own outcome, exactly as if the fixes had been sent one
by one in order (``location_record``): several fixes of one user are judged
against each other, a refused item never fails the others, the per-user rate
limit counts every item, history is appended only for users keeping it, and
``core.signals.fixes_stored`` is sent once per batch after commit with
exactly the stored fixes. Also ``core.ratelimit.rate_limit_count_many``
against ``rate_limit_count``.
"""

from __future__ import annotations

import random
import uuid
from datetime import timedelta

import pytest
from django.db import OperationalError
from django.test import override_settings
from django.utils import timezone

from core import signals
from core.errors import InvalidInput, NotFound, RateLimited
from core.ratelimit import rate_limit_count, rate_limit_count_many
from geo.grid import cell_for
from geo.models import LocationFix, LocationHistory
from geo.serializers import location_fix_parse
from geo.services import FixResult, location_record, location_record_many, map_dirty_key, map_live_key

from .geoutil import fixed_window_guard

pytestmark = pytest.mark.django_db


def fix(lat, lng, at=None, **extra) -> dict:
    """A validated fix (the socket's parser), ``at`` an aware datetime or ``None`` (server time)."""
    data = {"lat": lat, "lng": lng, **extra}
    if at is not None:
        data["timestamp"] = at.isoformat()
    return location_fix_parse(data)


def ago(seconds: float):
    return timezone.now() - timedelta(seconds=seconds)


def describe(outcome) -> tuple:
    """A comparable summary of one outcome: ``("stored"|"coalesced"|"out_of_order", recorded_at)`` or the error."""
    if isinstance(outcome, FixResult):
        assert outcome.stored is (outcome.status == "stored")
        return (outcome.status, outcome.recorded_at)
    assert isinstance(outcome, Exception), outcome
    return (type(outcome).__name__, outcome.code)


def stored_row(user) -> LocationFix:
    return LocationFix.objects.get(user=user)


@pytest.fixture
def fixes_received():
    """Every ``fixes_stored`` send, as ``(sender, fixes)``; the receiver is disconnected after the test."""
    received = []

    def receiver(sender, fixes, **kwargs):
        received.append((sender, [dict(f) for f in fixes]))

    signals.fixes_stored.connect(receiver, dispatch_uid="test_group_commit_fixes_stored")
    try:
        yield received
    finally:
        signals.fixes_stored.disconnect(dispatch_uid="test_group_commit_fixes_stored")


def signal_fix(user, values: dict, recorded_at) -> dict:
    """The ``fixes_stored`` entry expected for a stored fix."""
    return {
        "user_id": user.pk,
        "lat": values["lat"],
        "lng": values["lng"],
        "recorded_at": recorded_at,
        "accuracy_m": values.get("accuracy_m"),
        "speed_mps": values.get("speed_mps"),
        "heading_deg": values.get("heading_deg"),
    }


# --- several users ------------------------------------------------------------------------------------


def test_a_batch_of_several_users_stores_every_fix(make_user, django_capture_on_commit_callbacks):
    users = [make_user() for _ in range(5)]
    when = ago(30).replace(microsecond=250000)
    items = [
        (users[0].pk, fix(60.17, 24.94, when, accuracy_m=5, speed_mps=1.5, heading_deg=90)),
        (users[1].pk, fix(-33.86, 151.21)),  # no timestamp: the server's reception time
        (users[2].pk, fix(90, -180, when)),
        (users[3].pk, fix(0.0, 0.0, when, accuracy_m=None)),
        (users[4].pk, fix(52.52, 13.41, when, heading_deg=360)),
    ]
    received = [timezone.now() - timedelta(milliseconds=10 * i) for i in range(len(items))]
    with django_capture_on_commit_callbacks(execute=True):
        outcomes = location_record_many(items, received_at=received)

    assert len(outcomes) == len(items)
    for (uid, values), outcome, received_at in zip(items, outcomes, received, strict=True):
        assert isinstance(outcome, FixResult), outcome
        assert (outcome.stored, outcome.status) == (True, "stored")
        assert outcome.received_at == received_at
        expected_recorded = values.get("timestamp") or received_at
        assert outcome.recorded_at == expected_recorded
        row = LocationFix.objects.get(user_id=uid)
        assert (row.location.y, row.location.x) == pytest.approx((values["lat"], values["lng"]), abs=1e-9)
        assert row.recorded_at == expected_recorded and row.received_at == received_at
        assert (row.accuracy_m, row.speed_mps, row.heading_deg) == (
            values.get("accuracy_m"),
            values.get("speed_mps"),
            values.get("heading_deg"),
        )
        assert row.cell == cell_for(values["lat"], values["lng"]).id
        assert row.public_cell == ""  # published by the tick, not here
    assert LocationFix.objects.count() == len(items)


def test_a_batch_replaces_earlier_fixes_and_keeps_one_row_per_user(make_user):
    alice, bob = make_user(), make_user()
    location_record_many([(alice.pk, fix(1.0, 1.0, ago(100))), (bob.pk, fix(2.0, 2.0, ago(100)))])
    outcomes = location_record_many([(bob.pk, fix(2.5, 2.5, ago(50))), (alice.pk, fix(1.5, 1.5, ago(50)))])
    assert [describe(o)[0] for o in outcomes] == ["stored", "stored"]
    assert LocationFix.objects.filter(user=alice).count() == 1
    assert stored_row(alice).location.y == pytest.approx(1.5)
    assert stored_row(bob).location.y == pytest.approx(2.5)


def test_an_empty_batch_does_nothing(db, fixes_received, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        assert location_record_many([]) == []
    assert callbacks == [] and fixes_received == []


# --- several fixes of one user: judged in order ------------------------------------------------------


def test_second_fix_within_the_minimum_interval_is_coalesced(make_user, settings):
    settings.LOCATION_MIN_INTERVAL_S = 5
    alice = make_user(settings_fields={"keep_location_history": True})
    bob = make_user()
    start = ago(60)
    outcomes = location_record_many(
        [
            (alice.pk, fix(1.0, 1.0, start)),
            (bob.pk, fix(5.0, 5.0, start)),
            (alice.pk, fix(1.1, 1.0, start + timedelta(seconds=2))),
        ]
    )
    assert [describe(o)[0] for o in outcomes] == ["stored", "stored", "coalesced"]
    assert outcomes[2].stored is False and outcomes[2].recorded_at == start + timedelta(seconds=2)
    row = stored_row(alice)
    assert (row.location.y, row.recorded_at) == (pytest.approx(1.0), start)
    assert LocationHistory.objects.filter(user=alice).count() == 1


def test_second_fix_far_enough_apart_is_stored_too(make_user, settings):
    settings.LOCATION_MIN_INTERVAL_S = 5
    alice = make_user(settings_fields={"keep_location_history": True})
    start = ago(60)
    outcomes = location_record_many(
        [(alice.pk, fix(1.0, 1.0, start)), (alice.pk, fix(1.2, 1.0, start + timedelta(seconds=6)))]
    )
    assert [describe(o)[0] for o in outcomes] == ["stored", "stored"]
    row = stored_row(alice)
    assert (row.location.y, row.recorded_at) == (pytest.approx(1.2), start + timedelta(seconds=6))
    history = LocationHistory.objects.filter(user=alice).order_by("recorded_at")
    assert [(round(h.location.y, 3), h.recorded_at) for h in history] == [
        (1.0, start),
        (1.2, start + timedelta(seconds=6)),
    ]


def test_a_fix_older_than_the_one_before_it_in_the_batch_is_out_of_order(make_user):
    alice = make_user()
    location_record_many([(alice.pk, fix(1.0, 1.0, ago(300)))])
    # The second fix is newer than the stored one but older than the first of the batch:
    # judged against the first (as if sent one by one), it is out of order.
    first, second = ago(10), ago(50)
    outcomes = location_record_many([(alice.pk, fix(2.0, 2.0, first)), (alice.pk, fix(3.0, 3.0, second))])
    assert [describe(o) for o in outcomes] == [("stored", first), ("out_of_order", second)]
    row = stored_row(alice)
    assert (row.location.y, row.recorded_at) == (pytest.approx(2.0), first)


def test_many_fixes_of_one_user_are_judged_one_after_the_other(make_user, settings):
    settings.LOCATION_MIN_INTERVAL_S = 1
    alice = make_user(settings_fields={"keep_location_history": True})
    start = ago(100)
    offsets = [0, 0.5, 1.0, 0.2, 3.0, 3.9, 2.0, 5.0]
    expected = ["stored", "coalesced", "stored", "out_of_order", "stored", "coalesced", "out_of_order", "stored"]
    outcomes = location_record_many(
        [(alice.pk, fix(10 + i / 100, 20.0, start + timedelta(seconds=s))) for i, s in enumerate(offsets)]
    )
    assert [describe(o)[0] for o in outcomes] == expected
    assert stored_row(alice).recorded_at == start + timedelta(seconds=5)
    kept = LocationHistory.objects.filter(user=alice).order_by("recorded_at").values_list("recorded_at", flat=True)
    assert list(kept) == [start + timedelta(seconds=s) for s in (0, 1.0, 3.0, 5.0)]


def test_outcomes_are_those_of_the_same_fixes_sent_one_by_one(make_user, settings):
    """Seeded random batches against sequential ``location_record`` on twin users: same outcomes, same rows."""
    settings.LOCATION_MIN_INTERVAL_S = 2
    settings.THROTTLE_LOCATION = "6/min"
    fixed_window_guard(60, needed_s=15)
    rng = random.Random(8)
    history = {"keep_location_history": True}
    for _ in range(12):
        n = rng.randint(2, 4)
        batch_users = [make_user(settings_fields=history if k % 2 else None) for k in range(n)]
        twins = [make_user(settings_fields=history if k % 2 else None) for k in range(n)]
        base = ago(600)
        plan = []  # (user index, fix)
        for _ in range(rng.randint(3, 14)):
            k = rng.randrange(n)
            if rng.random() < 0.1:
                when = timezone.now() + timedelta(hours=1)  # in the future: refused
            else:
                when = base + timedelta(seconds=rng.choice([0, 0.5, 1, 1.5, 2, 3, 4, 7, 10, rng.uniform(0, 12)]))
            plan.append((k, fix(rng.uniform(-60, 60), rng.uniform(-170, 170), when, accuracy_m=rng.choice([None, 5]))))

        batch = [describe(o) for o in location_record_many([(batch_users[k].pk, f) for k, f in plan])]
        one_by_one = []
        for k, f in plan:
            try:
                one_by_one.append(describe(location_record(user=twins[k], fix=f)))
            except (InvalidInput, RateLimited) as exc:
                one_by_one.append(describe(exc))
        assert batch == one_by_one, plan
        for mine, twin in zip(batch_users, twins, strict=True):
            a = LocationFix.objects.filter(user=mine).values_list("recorded_at", "accuracy_m").first()
            b = LocationFix.objects.filter(user=twin).values_list("recorded_at", "accuracy_m").first()
            assert a == b
            assert (
                LocationHistory.objects.filter(user=mine).count() == LocationHistory.objects.filter(user=twin).count()
            )


# --- per-item refusals -------------------------------------------------------------------------------


def test_a_timestamp_in_the_future_refuses_that_item_only(make_user, settings):
    alice, bob = make_user(), make_user()
    future = timezone.now() + timedelta(seconds=settings.LOCATION_MAX_FUTURE_S + 600)
    outcomes = location_record_many(
        [(alice.pk, fix(1.0, 1.0, future)), (bob.pk, fix(2.0, 2.0, ago(5))), (alice.pk, fix(3.0, 3.0, ago(5)))]
    )
    refused = outcomes[0]
    assert isinstance(refused, InvalidInput)
    assert (refused.code, refused.status) == ("timestamp_in_future", 400)
    assert set(refused.fields) == {"timestamp"}
    assert [describe(o)[0] for o in outcomes[1:]] == ["stored", "stored"]
    assert stored_row(alice).location.y == pytest.approx(3.0)
    assert stored_row(bob).location.y == pytest.approx(2.0)


def test_the_future_is_judged_against_each_items_own_reception_time(make_user, settings):
    alice, bob = make_user(), make_user()
    now = timezone.now()
    when = now + timedelta(seconds=10)  # 10 s ahead of now: fine for a fix received now
    received = [now, now - timedelta(seconds=settings.LOCATION_MAX_FUTURE_S + 30)]
    outcomes = location_record_many(
        [(alice.pk, fix(1.0, 1.0, when)), (bob.pk, fix(2.0, 2.0, when))], received_at=received
    )
    assert describe(outcomes[0]) == ("stored", when)
    assert describe(outcomes[1]) == ("InvalidInput", "timestamp_in_future")
    assert not LocationFix.objects.filter(user=bob).exists()


def test_a_deleted_users_fix_is_not_found_and_the_others_are_stored(
    make_user, fixes_received, django_capture_on_commit_callbacks
):
    alice, gone, bob = make_user(), make_user(), make_user()
    gone_id = gone.pk
    gone.delete()
    items = [
        (alice.pk, fix(1.0, 1.0, ago(20))),
        (gone_id, fix(2.0, 2.0, ago(20))),
        (bob.pk, fix(3.0, 3.0, ago(20))),
        (gone_id, fix(2.5, 2.5, ago(10))),  # a second fix of the deleted user (second round)
        (uuid.uuid4(), fix(4.0, 4.0, ago(20))),  # never existed
    ]
    with django_capture_on_commit_callbacks(execute=True):
        outcomes = location_record_many(items)
    assert describe(outcomes[0])[0] == "stored" and describe(outcomes[2])[0] == "stored"
    for outcome in (outcomes[1], outcomes[3], outcomes[4]):
        assert isinstance(outcome, NotFound)
        assert (outcome.code, outcome.status) == ("not_found", 404)
    assert not LocationFix.objects.filter(user_id=gone_id).exists()
    assert set(LocationFix.objects.values_list("user_id", flat=True)) == {alice.pk, bob.pk}
    assert len(fixes_received) == 1
    assert [f["user_id"] for f in fixes_received[0][1]] == [alice.pk, bob.pk]


def test_location_record_raises_what_its_batch_of_one_refuses(make_user, settings):
    alice = make_user()
    with pytest.raises(InvalidInput) as caught:
        location_record(user=alice, fix=fix(1.0, 1.0, timezone.now() + timedelta(hours=2)))
    assert caught.value.code == "timestamp_in_future"
    gone = make_user()
    gone_user = type(gone).objects.get(pk=gone.pk)
    gone.delete()
    with pytest.raises(NotFound):
        location_record(user=gone_user, fix=fix(1.0, 1.0))


# --- rate limit ---------------------------------------------------------------------------------------


@override_settings(THROTTLE_LOCATION="3/min", LOCATION_MIN_INTERVAL_S=1)
def test_rate_limit_counts_every_item_of_the_batch(make_user):
    fixed_window_guard(60, needed_s=10)
    alice, bob, carol = make_user(), make_user(), make_user()
    start = ago(100)
    items = [(alice.pk, fix(1.0 + i / 10, 1.0, start + timedelta(seconds=5 * i))) for i in range(5)]
    items.insert(2, (bob.pk, fix(2.0, 2.0, start)))
    outcomes = location_record_many(items)

    alice_outcomes = [o for (uid, _), o in zip(items, outcomes, strict=True) if uid == alice.pk]
    assert [describe(o)[0] for o in alice_outcomes] == ["stored", "stored", "stored", "RateLimited", "RateLimited"]
    for refused in alice_outcomes[3:]:
        assert (refused.code, refused.status) == ("rate_limited", 429)
        assert 0 < refused.retry_after <= 60
    assert describe(outcomes[2])[0] == "stored"  # bob's own budget
    # the three allowed fixes went to three successive rounds: the last one is the stored fix
    assert stored_row(alice).recorded_at == start + timedelta(seconds=10)
    assert stored_row(alice).location.y == pytest.approx(1.2)

    # the same five fixes one by one, for carol: the same verdicts
    sequential = []
    for _, values in items:
        if _ != alice.pk:
            continue
        try:
            sequential.append(describe(location_record(user=carol, fix=values))[0])
        except RateLimited as exc:
            sequential.append(describe(exc)[0])
    assert sequential == [describe(o)[0] for o in alice_outcomes]

    with pytest.raises(RateLimited):  # the budget is spent for the rest of the window
        location_record(user=alice, fix=fix(9.0, 9.0))
    assert describe(location_record(user=bob, fix=fix(2.5, 2.5)))[0] == "stored"


@override_settings(THROTTLE_LOCATION="6/min", LOCATION_MIN_INTERVAL_S=1)
def test_a_batch_uses_exactly_as_many_hits_as_it_has_items(make_user):
    """Five fixes in a batch leave exactly one of six: not fewer (one hit per user) nor more."""
    fixed_window_guard(60, needed_s=10)
    alice = make_user()
    start = ago(100)
    outcomes = location_record_many([(alice.pk, fix(1.0, 1.0, start + timedelta(seconds=2 * i))) for i in range(5)])
    assert [describe(o)[0] for o in outcomes] == ["stored"] * 5
    assert location_record(user=alice, fix=fix(2.0, 2.0)).stored is True  # the sixth
    with pytest.raises(RateLimited):
        location_record(user=alice, fix=fix(3.0, 3.0))


@override_settings(THROTTLE_LOCATION="2/min")
def test_refused_future_fixes_do_not_use_up_the_rate_limit(make_user):
    fixed_window_guard(60, needed_s=10)
    alice = make_user()
    future = timezone.now() + timedelta(hours=1)
    items = [(alice.pk, fix(1.0, 1.0, future)), (alice.pk, fix(1.0, 1.0, future)), (alice.pk, fix(1.0, 1.0, ago(30)))]
    items.append((alice.pk, fix(1.5, 1.0, ago(20))))
    outcomes = location_record_many(items)
    assert [describe(o)[0] for o in outcomes] == ["InvalidInput", "InvalidInput", "stored", "stored"]
    with pytest.raises(RateLimited):
        location_record(user=alice, fix=fix(2.0, 2.0))


def test_rate_limit_count_many_gives_the_verdicts_of_hits_one_by_one(redis_clean):
    fixed_window_guard(60, needed_s=10)
    idents = ["a", "b", "a", "a", "c", "a", "a", "b", "a"]
    batch = rate_limit_count_many("test_many", idents, "4/min")
    one_by_one = [rate_limit_count("test_one", ident, "4/min") for ident in idents]
    assert [ok for ok, _ in batch] == [ok for ok, _ in one_by_one]
    assert [ok for ok, _ in batch] == [True, True, True, True, True, True, False, True, False]
    assert all(0 < retry <= 60 for _, retry in batch)
    # the batch counted every hit: the next one-by-one hits continue from there
    assert rate_limit_count("test_many", "a", "4/min")[0] is False
    assert rate_limit_count("test_many", "b", "4/min")[0] is True  # b's third hit
    assert rate_limit_count("test_many", "b", "4/min")[0] is True  # its fourth
    assert rate_limit_count("test_many", "b", "4/min")[0] is False  # its fifth
    assert rate_limit_count("test_many", "c", "4/min")[0] is True
    # and one-by-one hits count for a later batch
    assert [ok for ok, _ in rate_limit_count_many("test_one", ["c", "c", "c", "c"], "4/min")] == [
        True,
        True,
        True,
        False,
    ]


def test_rate_limit_count_many_sets_the_window_expiry_and_handles_empty_lists(redis_clean):
    assert rate_limit_count_many("test_many", [], "4/min") == []
    assert redis_clean.keys("*test_many*") == []
    rate_limit_count_many("test_many", ["x", "y"], "4/s")
    keys = redis_clean.keys("*test_many*")
    assert len(keys) == 2
    for k in keys:
        assert 0 < redis_clean.ttl(k) <= 2  # period + 1: the window's counter expires after it


def test_rate_limit_count_many_scopes_are_independent(redis_clean):
    fixed_window_guard(60, needed_s=10)
    assert [ok for ok, _ in rate_limit_count_many("scope_one", ["u", "u"], "1/min")] == [True, False]
    assert [ok for ok, _ in rate_limit_count_many("scope_two", ["u"], "1/min")] == [True]


# --- history -------------------------------------------------------------------------------------------


def test_history_rows_only_for_users_keeping_history(make_user):
    keeper = make_user(settings_fields={"keep_location_history": True})
    other = make_user(settings_fields={"keep_location_history": False})
    keeper2 = make_user(settings_fields={"keep_location_history": True})
    when = ago(30).replace(microsecond=0)
    received = timezone.now()
    outcomes = location_record_many(
        [
            (keeper.pk, fix(1.0, 2.0, when, accuracy_m=7, speed_mps=1.0, heading_deg=45)),
            (other.pk, fix(3.0, 4.0, when)),
            (keeper2.pk, fix(5.0, 6.0, when)),
            (keeper.pk, fix(1.1, 2.0, when - timedelta(seconds=5))),  # out of order: no history row
        ],
        received_at=[received] * 4,
    )
    assert [describe(o)[0] for o in outcomes] == ["stored", "stored", "stored", "out_of_order"]
    assert LocationHistory.objects.filter(user=other).count() == 0
    assert LocationHistory.objects.filter(user=keeper2).count() == 1
    rows = list(LocationHistory.objects.filter(user=keeper))
    assert len(rows) == 1
    row = rows[0]
    assert (row.location.y, row.location.x) == pytest.approx((1.0, 2.0))
    assert (row.recorded_at, row.received_at) == (when, received)
    assert (row.accuracy_m, row.speed_mps, row.heading_deg) == (7.0, 1.0, 45.0)
    assert LocationHistory.objects.count() == 2


# --- after commit: signals and the map ---------------------------------------------------------------


def test_fixes_stored_is_sent_once_after_commit_with_exactly_the_stored_fixes(
    make_user, settings, fixes_received, django_capture_on_commit_callbacks
):
    settings.LOCATION_MIN_INTERVAL_S = 5
    settings.THROTTLE_LOCATION = "3/min"
    fixed_window_guard(60, needed_s=10)
    alice, bob, carol, gone = make_user(), make_user(), make_user(), make_user()
    gone_id = gone.pk
    gone.delete()
    location_record_many([(carol.pk, fix(7.0, 7.0, ago(20)))])  # outside the capture: carol's stored fix
    start = ago(100)
    items = [
        (alice.pk, fix(1.0, 1.0, start, accuracy_m=5)),  # stored
        (bob.pk, fix(2.0, 2.0, start, speed_mps=3, heading_deg=10)),  # stored
        (alice.pk, fix(1.1, 1.0, start + timedelta(seconds=1))),  # coalesced
        (carol.pk, fix(7.5, 7.5, ago(60))),  # out of order
        (bob.pk, fix(2.1, 2.0, timezone.now() + timedelta(hours=1))),  # in the future
        (gone_id, fix(3.0, 3.0)),  # not found
        (alice.pk, fix(1.2, 1.0, start + timedelta(seconds=10))),  # stored (third round)
        (alice.pk, fix(1.3, 1.0, start + timedelta(seconds=20))),  # rate limited (alice's fourth hit)
    ]
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        outcomes = location_record_many(items)
        assert fixes_received == []  # nothing before commit
    assert len(callbacks) == 1  # one after-commit hook for the batch

    assert [describe(o)[0] for o in outcomes] == [
        "stored",
        "stored",
        "coalesced",
        "out_of_order",
        "InvalidInput",
        "NotFound",
        "stored",
        "RateLimited",
    ]
    assert len(fixes_received) == 1
    sender, fixes = fixes_received[0]
    assert sender == "geo"
    expected = [
        signal_fix(alice, items[0][1], start),
        signal_fix(bob, items[1][1], start),
        signal_fix(alice, items[6][1], start + timedelta(seconds=10)),
    ]
    assert sorted(fixes, key=lambda f: (str(f["user_id"]), f["recorded_at"])) == sorted(
        expected, key=lambda f: (str(f["user_id"]), f["recorded_at"])
    )
    # several fixes of one user arrive in their order
    assert [f["recorded_at"] for f in fixes if f["user_id"] == alice.pk] == [start, start + timedelta(seconds=10)]


def test_fix_stored_is_still_sent_per_stored_fix(make_user, django_capture_on_commit_callbacks):
    received = []

    def receiver(sender, **kwargs):
        received.append(kwargs)

    signals.fix_stored.connect(receiver, dispatch_uid="test_group_commit_fix_stored")
    try:
        alice, bob = make_user(), make_user()
        start = ago(50)
        with django_capture_on_commit_callbacks(execute=True):
            location_record_many(
                [
                    (alice.pk, fix(1.0, 1.0, start)),
                    (bob.pk, fix(2.0, 2.0, start)),
                    (alice.pk, fix(1.0, 1.0, start - timedelta(seconds=5))),  # out of order
                ]
            )
    finally:
        signals.fix_stored.disconnect(dispatch_uid="test_group_commit_fix_stored")
    assert sorted((str(r["user_id"]), r["lat"]) for r in received) == sorted([(str(alice.pk), 1.0), (str(bob.pk), 2.0)])


def test_a_batch_with_nothing_stored_sends_nothing(
    make_user, settings, fixes_received, django_capture_on_commit_callbacks
):
    settings.LOCATION_MIN_INTERVAL_S = 5
    alice, gone = make_user(), make_user()
    gone_id = gone.pk
    gone.delete()
    stored_at = ago(30)
    with django_capture_on_commit_callbacks(execute=True):
        location_record_many([(alice.pk, fix(1.0, 1.0, stored_at))])
    assert len(fixes_received) == 1
    fixes_received.clear()

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        outcomes = location_record_many(
            [
                (alice.pk, fix(2.0, 2.0, stored_at + timedelta(seconds=1))),  # coalesced
                (alice.pk, fix(2.0, 2.0, stored_at - timedelta(seconds=60))),  # out of order
                (alice.pk, fix(2.0, 2.0, timezone.now() + timedelta(hours=1))),  # in the future
                (gone_id, fix(2.0, 2.0)),  # not found
            ]
        )
    assert [describe(o)[0] for o in outcomes] == ["coalesced", "out_of_order", "InvalidInput", "NotFound"]
    assert callbacks == []
    assert fixes_received == []
    assert stored_row(alice).recorded_at == stored_at


def test_a_failing_fixes_stored_receiver_never_fails_the_batch(make_user, caplog, django_capture_on_commit_callbacks):
    def broken(sender, **kwargs):
        raise RuntimeError("receiver bug")

    signals.fixes_stored.connect(broken, dispatch_uid="test_group_commit_broken")
    try:
        alice = make_user()
        with django_capture_on_commit_callbacks(execute=True):
            outcomes = location_record_many([(alice.pk, fix(1.0, 1.0))])
    finally:
        signals.fixes_stored.disconnect(dispatch_uid="test_group_commit_broken")
    assert describe(outcomes[0])[0] == "stored"
    assert LocationFix.objects.filter(user=alice).exists()
    assert "fixes_stored receiver" in caplog.text


def test_stored_fixes_of_sharing_users_are_queued_for_the_map_tick(
    make_user, redis_clean, django_capture_on_commit_callbacks
):
    sharer, hidden, mover = make_user(sharing=True), make_user(sharing=False), make_user(sharing=True)
    first, later = ago(60), ago(20)
    with django_capture_on_commit_callbacks(execute=True):
        location_record_many(
            [
                (sharer.pk, fix(60.17, 24.94, first)),
                (hidden.pk, fix(60.17, 24.94, first)),
                (mover.pk, fix(60.17, 24.94, first)),
                (mover.pk, fix(60.18, 24.95, later)),
            ]
        )
    live = dict(redis_clean.zrange(map_live_key(), 0, -1, withscores=True))
    assert set(live) == {str(sharer.pk), str(mover.pk)}
    assert live[str(sharer.pk)] == pytest.approx(first.timestamp())
    assert live[str(mover.pk)] == pytest.approx(later.timestamp())  # the latest of its two fixes
    assert redis_clean.smembers(map_dirty_key()) == {str(sharer.pk), str(mover.pk)}


def test_nothing_reaches_the_map_before_commit(make_user, redis_clean, django_capture_on_commit_callbacks):
    sharer = make_user(sharing=True)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        location_record_many([(sharer.pk, fix(60.17, 24.94))])
    assert len(callbacks) == 1
    assert redis_clean.zcard(map_live_key()) == 0 and redis_clean.scard(map_dirty_key()) == 0
    callbacks[0]()
    assert redis_clean.zcard(map_live_key()) == 1


# --- a whole-batch failure ---------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_failure_in_a_later_round_stores_nothing(make_user, fixes_received):
    from django.db import connection

    alice, bob = make_user(), make_user()
    statements = []

    def fail_second_round(execute, sql, params, many, context):
        if "INSERT INTO geo_locationfix" in sql:
            statements.append(sql)
            if len(statements) == 2:
                raise OperationalError("server closed the connection unexpectedly")
        return execute(sql, params, many, context)

    items = [(alice.pk, fix(1.0, 1.0, ago(20))), (bob.pk, fix(2.0, 2.0, ago(20))), (alice.pk, fix(1.5, 1.0, ago(5)))]
    with connection.execute_wrapper(fail_second_round):
        with pytest.raises(OperationalError):
            location_record_many(items)
    assert len(statements) == 2  # the failure hit the second round
    assert not LocationFix.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_concurrent_batches_with_the_same_users_in_opposite_orders_both_succeed(make_user):
    import threading

    from django.db import connection, connections, transaction

    from accounts.models import User

    # A production-sized users table, analysed: the statement then reads the batch in its own
    # order (nested loop over the array), as it does in production, not in the table's order.
    User.objects.bulk_create(
        [User(email=f"pad{i}@example.test", username=f"pad{i}") for i in range(5000)], batch_size=1000
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE accounts_user")
    first, middle, last = make_user(), make_user(), make_user()
    start = ago(300)
    location_record_many([(u.pk, fix(1.0, 1.0, start)) for u in (first, middle, last)])
    outcomes, errors = {}, {}

    def batch(name, order, offset):
        try:
            outcomes[name] = location_record_many(
                [(u.pk, fix(2.0, 2.0, start + timedelta(seconds=offset))) for u in order]
            )
        except Exception as exc:
            errors[name] = exc
        finally:
            connections.close_all()  # this thread's connection

    threads = [
        threading.Thread(target=batch, args=("x", [first, middle, last], 10)),
        threading.Thread(target=batch, args=("y", [last, middle, first], 20)),
    ]
    # A third writer briefly holds ``middle`` (as any concurrent fix of that user does), so
    # both batches are in flight at once: each has locked its first user and waits for ``middle``.
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1 FROM geo_locationfix WHERE user_id = %s FOR UPDATE", [middle.pk])
            for thread in threads:
                thread.start()
            waiting = 0
            deadline = timezone.now() + timedelta(seconds=15)
            while waiting < 2 and timezone.now() < deadline:
                cursor.execute("SELECT pg_stat_clear_snapshot()")
                cursor.execute(
                    "SELECT count(*) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
                )
                waiting = cursor.fetchone()[0]
            assert waiting == 2, "both batches should be waiting for the held row"
    for thread in threads:
        thread.join(30)
    assert errors == {}
    assert set(outcomes) == {"x", "y"}


# --- user ids that are not UUID objects (no caller passes them today: latent) ------------------------


def test_a_user_id_in_another_uuid_spelling_is_answered_as_stored(
    make_user, fixes_received, django_capture_on_commit_callbacks
):
    alice = make_user()
    with django_capture_on_commit_callbacks(execute=True):
        outcomes = location_record_many([(str(alice.pk).upper(), fix(1.0, 1.0))])
    assert LocationFix.objects.filter(user=alice).exists()  # the row was written
    assert isinstance(outcomes[0], FixResult) and outcomes[0].stored, outcomes
    assert len(fixes_received) == 1


def test_one_user_given_as_uuid_and_as_string_is_judged_in_order(make_user):
    alice, bob = make_user(), make_user()
    outcomes = location_record_many(
        [(alice.pk, fix(1.0, 1.0, ago(30))), (bob.pk, fix(2.0, 2.0, ago(30))), (str(alice.pk), fix(1.5, 1.0, ago(10)))]
    )
    assert [describe(o)[0] for o in outcomes] == ["stored", "stored", "stored"]
