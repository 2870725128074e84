"""Location history: kept only for users who ask for it, pruned after the retention."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.utils import timezone

from core.validation import validated
from geo.models import LocationHistory
from geo.serializers import LocationFixInputSerializer
from geo.services import location_history_prune, location_record
from geo.tasks import location_history_prune_task

pytestmark = pytest.mark.django_db


def ago(**kwargs):
    return timezone.now() - timedelta(**kwargs)


def record(user, lat, lng, when=None, **extra):
    data = {"lat": lat, "lng": lng, **extra}
    if when is not None:
        data["timestamp"] = when.isoformat()
    return location_record(user=user, fix=validated(LocationFixInputSerializer, data))


def test_no_history_without_keep_location_history(make_user, client_for, post_fix):
    user = make_user(sharing=True)
    client = client_for(user)
    for i in range(3):
        assert post_fix(client, {"lat": 1 + i / 1000, "lng": 2}).json()["stored"] is True
    assert not LocationHistory.objects.filter(user=user).exists()


def test_history_rows_for_users_who_keep_it(make_user, client_for, post_fix):
    keeper = make_user(settings_fields={"keep_location_history": True})
    other = make_user()
    when = ago(minutes=5)
    response = post_fix(
        client_for(keeper),
        {"lat": 48.1, "lng": 11.5, "timestamp": when.isoformat(), "accuracy_m": 4, "speed_mps": 2, "heading_deg": 90},
    )
    assert response.json()["stored"] is True
    post_fix(client_for(keeper), {"lat": 48.2, "lng": 11.6}, path="/api/users/location", method="put")
    post_fix(client_for(other), {"lat": 48.1, "lng": 11.5})

    rows = list(LocationHistory.objects.filter(user=keeper).order_by("recorded_at"))
    assert len(rows) == 2
    first = rows[0]
    assert (first.location.y, first.location.x) == pytest.approx((48.1, 11.5))
    assert (first.accuracy_m, first.speed_mps, first.heading_deg) == (4.0, 2.0, 90.0)
    assert first.recorded_at == when
    assert first.received_at >= when
    assert (rows[1].location.y, rows[1].location.x) == pytest.approx((48.2, 11.6))
    assert LocationHistory.objects.count() == 2


def test_turning_history_on_later_keeps_only_later_fixes(make_user, client_for, post_fix):
    user = make_user()
    client = client_for(user)
    post_fix(client, {"lat": 1, "lng": 1, "timestamp": ago(seconds=20).isoformat()})
    assert client.patch("/api/settings", {"keep_location_history": True}, format="json").status_code == 200
    post_fix(client, {"lat": 2, "lng": 2})
    assert [row.location.y for row in LocationHistory.objects.filter(user=user)] == [2.0]


def test_refused_and_unstored_fixes_leave_no_history(make_user, client_for, post_fix, settings):
    settings.LOCATION_MIN_INTERVAL_S = 5
    user = make_user(settings_fields={"keep_location_history": True})
    client = client_for(user)
    base = ago(minutes=1)
    post_fix(client, {"lat": 1, "lng": 1, "timestamp": base.isoformat()})
    post_fix(client, {"lat": 2, "lng": 2, "timestamp": (base - timedelta(seconds=30)).isoformat()})  # out of order
    post_fix(client, {"lat": 3, "lng": 3, "timestamp": (base + timedelta(seconds=1)).isoformat()})  # coalesced
    post_fix(client, {"lat": 95, "lng": 3})  # invalid
    assert LocationHistory.objects.filter(user=user).count() == 1


def _history_at(user, days_ago):
    record(user, 10, 10 + days_ago / 100, when=ago(days=days_ago))


def test_prune_deletes_rows_past_the_retention_and_keeps_newer(make_user, settings):
    settings.LOCATION_HISTORY_RETENTION_DAYS = 30
    alice = make_user(settings_fields={"keep_location_history": True})
    bob = make_user(settings_fields={"keep_location_history": True})
    for days in (45, 31, 29, 1):  # oldest first, or the later ones would be out of order
        _history_at(alice, days)
    _history_at(bob, 40)
    _history_at(bob, 0)

    assert location_history_prune() == 3

    left = sorted(
        (row.user_id, round((timezone.now() - row.recorded_at) / timedelta(days=1)))
        for row in LocationHistory.objects.all()
    )
    assert left == sorted([(alice.pk, 29), (alice.pk, 1), (bob.pk, 0)])
    assert location_history_prune() == 0


def test_prune_boundary(make_user, settings):
    settings.LOCATION_HISTORY_RETENTION_DAYS = 7
    user = make_user(settings_fields={"keep_location_history": True})
    now = timezone.now()
    record(user, 1, 1, when=now - timedelta(days=7, seconds=1))
    record(user, 1, 2, when=now - timedelta(days=7) + timedelta(seconds=30))
    assert location_history_prune(now=now) == 1
    assert [row.location.x for row in LocationHistory.objects.filter(user=user)] == [2.0]


def test_retention_is_read_from_settings(make_user, settings):
    user = make_user(settings_fields={"keep_location_history": True})
    for days in (20, 10, 2):
        _history_at(user, days)
    settings.LOCATION_HISTORY_RETENTION_DAYS = 30
    assert location_history_prune() == 0
    settings.LOCATION_HISTORY_RETENTION_DAYS = 5
    assert location_history_prune() == 2
    assert LocationHistory.objects.filter(user=user).count() == 1


def test_prune_does_not_touch_the_latest_fix(make_user, settings):
    settings.LOCATION_HISTORY_RETENTION_DAYS = 1
    user = make_user(settings_fields={"keep_location_history": True})
    _history_at(user, 3)
    assert location_history_prune() == 1
    assert user.location_fix.recorded_at < ago(days=2)  # the one-row latest fix survives retention


def test_celery_task_runs_the_prune(make_user, settings):
    settings.LOCATION_HISTORY_RETENTION_DAYS = 30
    user = make_user(settings_fields={"keep_location_history": True})
    for days in (60, 31, 3):
        _history_at(user, days)
    assert location_history_prune_task() == 2
    assert LocationHistory.objects.filter(user=user).count() == 1
    assert location_history_prune_task.name == "geo.tasks.location_history_prune_task"


def test_prune_task_is_scheduled_by_beat():
    tasks = {entry["task"] for entry in django_settings.CELERY_BEAT_SCHEDULE.values()}
    assert "geo.tasks.location_history_prune_task" in tasks
