"""notification_send: preferences (in-app / push), quiet hours in the user's time zone, push only if offline."""

from __future__ import annotations

from datetime import UTC, datetime, time

import pytest

from notifications.models import Device, Notification, NotificationPreference
from notifications.services import in_quiet_hours, notification_send
from realtime.catalog import CATALOG
from realtime.presence import presence_touch

pytestmark = pytest.mark.django_db


@pytest.fixture
def with_device(make_user):
    def make(user=None):
        user = user or make_user()
        Device.objects.create(user=user, kind="fcm", token=f"tok-{user.pk}")
        return user

    return make


def send(capture, **kwargs):
    with capture(execute=True) as callbacks:
        item = notification_send(**kwargs)
    return item, callbacks


def test_send_stores_publishes_and_queues_push(with_device, queued, django_capture_on_commit_callbacks):
    user = with_device()
    item, callbacks = send(
        django_capture_on_commit_callbacks,
        user=user,
        type="message",
        content="Hi",
        related_kind="message",
        related_id=42,
        data={"sender_id": "x"},
    )
    assert item.pk and item.related_id == "42" and not item.is_read
    assert len(callbacks) == 2  # publish + push, both after commit
    ((device_id, payload),) = queued
    assert device_id == Device.objects.get(user=user).pk
    assert payload["id"] == item.pk and payload["content"] == "Hi" and payload["type"] == "message"


def test_unknown_type_is_a_programming_error(make_user):
    with pytest.raises(ValueError):
        notification_send(user=make_user(), type="nope", content="x")


def test_content_is_clipped(make_user, settings, queued, django_capture_on_commit_callbacks):
    settings.NOTIFICATION_CONTENT_MAX_CHARS = 10
    item, _ = send(django_capture_on_commit_callbacks, user=make_user(), type="system", content="x" * 50)
    assert len(item.content) == 10 and item.content.endswith("\u2026")


def test_in_app_off_no_row_no_event_but_push(with_device, queued, django_capture_on_commit_callbacks):
    user = with_device()
    NotificationPreference.objects.create(user=user, type="message", in_app=False, push=True)
    item, callbacks = send(django_capture_on_commit_callbacks, user=user, type="message", content="Hi")
    assert item is None and not Notification.objects.filter(user=user).exists()
    assert len(callbacks) == 1  # only the push
    ((_, payload),) = queued
    assert payload["id"] is None and payload["content"] == "Hi"


def test_push_off_no_push(with_device, queued, django_capture_on_commit_callbacks):
    user = with_device()
    NotificationPreference.objects.create(user=user, type="message", in_app=True, push=False)
    item, callbacks = send(django_capture_on_commit_callbacks, user=user, type="message", content="Hi")
    assert item is not None and len(callbacks) == 1 and queued == []
    # Another type is still pushed.
    send(django_capture_on_commit_callbacks, user=user, type="system", content="Hi")
    assert len(queued) == 1


def test_push_only_if_offline(with_device, queued, django_capture_on_commit_callbacks):
    user = with_device()
    presence_touch(user.pk, "socket-1")
    send(django_capture_on_commit_callbacks, user=user, type="message", content="Hi", push_only_if_offline=True)
    assert queued == []
    send(django_capture_on_commit_callbacks, user=user, type="message", content="Hi")  # not only-if-offline
    assert len(queued) == 1
    offline = with_device()
    send(django_capture_on_commit_callbacks, user=offline, type="message", content="Hi", push_only_if_offline=True)
    assert len(queued) == 2


def test_rollback_sends_nothing(with_device, queued, django_capture_on_commit_callbacks):
    from django.db import transaction

    user = with_device()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        try:
            with transaction.atomic():
                notification_send(user=user, type="message", content="Hi")
                raise RuntimeError
        except RuntimeError:
            pass
    assert callbacks == [] and queued == [] and not Notification.objects.filter(user=user).exists()


@pytest.mark.parametrize(
    ("start", "end", "zone", "utc", "quiet"),
    [
        # Across midnight in Helsinki (UTC+2 in winter): 22:00-07:00 local.
        ("22:00", "07:00", "Europe/Helsinki", "2026-01-15T19:59", False),  # 21:59 local
        ("22:00", "07:00", "Europe/Helsinki", "2026-01-15T20:00", True),  # 22:00 local
        ("22:00", "07:00", "Europe/Helsinki", "2026-01-15T23:30", True),  # 01:30 local (next day)
        ("22:00", "07:00", "Europe/Helsinki", "2026-01-16T04:59", True),  # 06:59 local
        ("22:00", "07:00", "Europe/Helsinki", "2026-01-16T05:00", False),  # 07:00 local: the end is not quiet
        # Summer time shifts the window (UTC+3).
        ("22:00", "07:00", "Europe/Helsinki", "2026-07-15T19:30", True),  # 22:30 local
        ("22:00", "07:00", "UTC", "2026-07-15T19:30", False),
        # Same-day window in New York (UTC-5 in winter).
        ("13:00", "14:00", "America/New_York", "2026-01-15T18:30", True),  # 13:30 local
        ("13:00", "14:00", "America/New_York", "2026-01-15T13:30", False),  # 08:30 local
        # A zone east of the date line.
        ("00:00", "06:00", "Pacific/Auckland", "2026-01-15T12:00", True),  # 01:00 local next day
    ],
)
def test_in_quiet_hours(start, end, zone, utc, quiet):
    at = datetime.fromisoformat(utc).replace(tzinfo=UTC)
    assert in_quiet_hours(start=time.fromisoformat(start), end=time.fromisoformat(end), time_zone=zone, at=at) is quiet


def test_no_quiet_hours_when_unset_or_equal():
    at = datetime(2026, 1, 1, 3, tzinfo=UTC)
    assert not in_quiet_hours(start=None, end=None, time_zone="UTC", at=at)
    assert not in_quiet_hours(start=time(3), end=time(3), time_zone="UTC", at=at)


def test_quiet_hours_via_api_and_send(make_user, client_for, queued, django_capture_on_commit_callbacks, monkeypatch):
    from notifications import services

    user = make_user()
    Device.objects.create(user=user, kind="fcm", token="tok")
    client_for(user).patch(
        "/api/notifications/preferences",
        {"quiet_hours": {"start": "23:00", "end": "06:00"}, "time_zone": "Europe/Helsinki"},
        format="json",
    )
    night = datetime(2026, 1, 15, 22, 30, tzinfo=UTC)  # 00:30 in Helsinki
    day = datetime(2026, 1, 15, 10, 0, tzinfo=UTC)
    monkeypatch.setattr(services.timezone, "now", lambda: night)
    send(django_capture_on_commit_callbacks, user=user, type="system", content="quiet")
    assert queued == []
    monkeypatch.setattr(services.timezone, "now", lambda: day)
    send(django_capture_on_commit_callbacks, user=user, type="system", content="loud")
    assert [p["content"] for _, p in queued] == ["loud"]


def test_catalog_declares_notification_durable_to_user_group():
    spec = CATALOG["notification"]
    assert spec.durable and spec.groups == ("user.<id>",) and "notification" in spec.seed_names
