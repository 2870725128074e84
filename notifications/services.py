"""Writes of notifications: send (store, publish, push), mark read, preferences, devices.

``notification_send`` is the one entry point every app uses to notify a user
(issue 9): it honours the user's per-type preferences, stores the row,
publishes the durable ``notification`` event to ``user.<id>`` after commit
and queues one Celery push task per device after commit, unless quiet hours
(in the user's time zone) or ``push_only_if_offline`` rule it out.
"""

from __future__ import annotations

import logging
from datetime import datetime, time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from core.errors import InvalidInput, NotFound
from core.ratelimit import rate_limit_hit
from realtime.publish import publish, user_group

from . import events
from .models import Device, DeviceKind, Notification, NotificationPreference, NotificationSettings
from .types import NOTIFICATION_TYPES

logger = logging.getLogger(__name__)


# --- preferences and quiet hours ------------------------------------------------------------


def preference_get(*, user_id, type: str) -> tuple[bool, bool]:
    """``(in_app, push)`` for ``type`` of ``user_id``; both true when the user never changed it."""
    row = NotificationPreference.objects.filter(user_id=user_id, type=type).values_list("in_app", "push").first()
    return (True, True) if row is None else (row[0], row[1])


def in_quiet_hours(*, start: time | None, end: time | None, time_zone: str, at: datetime) -> bool:
    """Whether instant ``at`` (aware) falls in the local window ``[start, end)`` of ``time_zone``.

    A window with ``start > end`` spans midnight (22:00-07:00 is quiet at
    23:30 and 06:59, not at 07:00); ``start == end`` is never quiet; either
    one ``None``: no quiet hours. An unknown zone counts as UTC.
    """
    if start is None or end is None or start == end:
        return False
    try:
        zone = ZoneInfo(time_zone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    local = at.astimezone(zone).time().replace(tzinfo=None)
    if start < end:
        return start <= local < end
    return local >= start or local < end


def user_in_quiet_hours(*, user_id, at: datetime | None = None) -> bool:
    """Whether ``user_id`` is in their quiet hours now (or at ``at``)."""
    row = NotificationSettings.objects.filter(user_id=user_id).first()
    if row is None:
        return False
    return in_quiet_hours(
        start=row.quiet_hours_start, end=row.quiet_hours_end, time_zone=row.time_zone, at=at or timezone.now()
    )


def zone_validate(name: str) -> str:
    """Return ``name`` when it is an IANA time zone ``zoneinfo`` knows; raise :class:`InvalidInput` otherwise."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise InvalidInput(
            "Unknown time zone.", fields={"time_zone": ["Use an IANA name such as Europe/Helsinki."]}
        ) from None
    return name


@transaction.atomic
def preferences_update(
    *,
    user,
    types: dict[str, dict[str, bool]] | None = None,
    quiet_hours: dict | None = None,
    quiet_hours_set: bool = False,
    time_zone: str | None = None,
) -> None:
    """Change notification preferences of ``user`` (``PATCH /api/notifications/preferences``).

    ``types``: ``{type: {"in_app"?: bool, "push"?: bool}}``, only the keys
    given change. ``quiet_hours_set``: replace quiet hours with
    ``quiet_hours`` (``{"start": time, "end": time}`` or ``None`` to remove).
    ``time_zone``: IANA name. Raises :class:`InvalidInput` for an unknown type
    or zone (nothing is written then).
    """
    for type_, change in (types or {}).items():
        if type_ not in NOTIFICATION_TYPES:
            raise InvalidInput("Unknown notification type.", fields={"types": [f"Unknown type {type_!r}."]})
        row, _ = NotificationPreference.objects.select_for_update().get_or_create(user=user, type=type_)
        for field in ("in_app", "push"):
            if field in change:
                setattr(row, field, bool(change[field]))
        row.save(update_fields=["in_app", "push"])
    if quiet_hours_set or time_zone is not None:
        row, _ = NotificationSettings.objects.select_for_update().get_or_create(user=user)
        if time_zone is not None:
            row.time_zone = zone_validate(time_zone)
        if quiet_hours_set:
            row.quiet_hours_start = quiet_hours["start"] if quiet_hours else None
            row.quiet_hours_end = quiet_hours["end"] if quiet_hours else None
        row.save()


# --- notifications --------------------------------------------------------------------------


def _content_clip(content: str) -> str:
    limit = int(settings.NOTIFICATION_CONTENT_MAX_CHARS)
    content = str(content)
    return content if len(content) <= limit else content[: limit - 1] + "\u2026"


def notification_send(
    *,
    user,
    type: str,
    content: str,
    related_kind: str = "",
    related_id=None,
    data: dict | None = None,
    push_only_if_offline: bool = False,
) -> Notification | None:
    """Notify ``user``: store the notification, publish ``notification``, queue push (issue 9; seed 000).

    * ``type``: a key of :data:`notifications.types.NOTIFICATION_TYPES`
      (``ValueError`` otherwise: a programming error, not user input);
      ``content``: text, cut to ``NOTIFICATION_CONTENT_MAX_CHARS`` characters;
      ``related_kind``/``related_id``: the object it is about (``"message"``,
      uuid or int, stored as a string); ``data``: small JSON object.
    * In-app preference off: no row and no socket event (returns ``None``).
      Otherwise the row is stored and, after the transaction commits, the
      durable ``notification`` event (the REST JSON) goes to ``user.<id>``.
    * Push preference on: after commit, one push task per device of the
      user, skipped in the user's quiet hours and, when
      ``push_only_if_offline`` (direct messages), while the user has a live
      socket. The push payload is the notification JSON (``id`` null when
      in-app is off).

    Call it inside the caller's transaction: nothing is published or pushed
    if that transaction rolls back.
    """
    if type not in NOTIFICATION_TYPES:
        raise ValueError(f"unknown notification type {type!r} (add it to notifications.types)")
    in_app, push = preference_get(user_id=user.pk, type=type)
    content = _content_clip(content)
    related_id = None if related_id is None else str(related_id)
    item = None
    if in_app:
        item = Notification.objects.create(
            user=user,
            type=type,
            content=content,
            related_kind=related_kind or "",
            related_id=related_id,
            data=data or {},
        )
        publish(user_group(user.pk), "notification", events.notification(item))
        payload = events.notification_json(item)
    else:
        payload = events.notification_json(
            Notification(
                user=user,
                type=type,
                content=content,
                related_kind=related_kind or "",
                related_id=related_id,
                data=data or {},
                created_at=timezone.now(),
            )
        )
    if push:
        user_id = user.pk
        transaction.on_commit(
            lambda: push_queue(user_id=user_id, payload=payload, only_if_offline=push_only_if_offline)
        )
    return item


def push_queue(*, user_id, payload: dict, only_if_offline: bool = False) -> int:
    """Queue one push task per device of ``user_id`` now (called after commit); returns how many.

    Nothing is queued in the user's quiet hours, or when ``only_if_offline``
    and a socket of the user is live (``realtime.presence``). Failures to
    reach the broker are logged, never raised (the notification is stored).
    """
    from .tasks import push_send_task

    try:
        if user_in_quiet_hours(user_id=user_id):
            logger.debug("push to %s skipped: quiet hours", user_id)
            return 0
        if only_if_offline:
            from realtime.presence import presence_online_ids

            if presence_online_ids([user_id]):
                logger.debug("push to %s skipped: online", user_id)
                return 0
        device_ids = list(Device.objects.filter(user_id=user_id).values_list("pk", flat=True))
        options = {"queue": settings.PUSH_TASK_QUEUE} if settings.PUSH_TASK_QUEUE else {}
        for device_id in device_ids:
            push_send_task.apply_async(args=[device_id, payload], **options)
        return len(device_ids)
    except Exception:
        logger.exception("queueing push for %s failed", user_id)
        return 0


def notification_mark_read(*, user, notification_ids: list[int]) -> int:
    """Mark ``user``'s notifications among ``notification_ids`` read; returns how many changed.

    Ids of other users' notifications, unknown ids and already-read ones are
    ignored silently (never revealing whether they exist).
    """
    return Notification.objects.filter(user=user, pk__in=notification_ids, is_read=False).update(is_read=True)


def notification_mark_all_read(*, user) -> int:
    """Mark every unread notification of ``user`` read; returns how many changed."""
    return Notification.objects.filter(user=user, is_read=False).update(is_read=True)


# --- devices --------------------------------------------------------------------------------


@transaction.atomic
def device_register(
    *, user, kind: str, endpoint: str = "", p256dh: str = "", auth: str = "", token: str = ""
) -> tuple[Device, bool]:
    """Register a push device of ``user`` (``POST /api/devices``); returns ``(device, created)``.

    Input is already validated (``serializers.DeviceRegisterSerializer``).
    The same endpoint/token registered again updates its keys; one that
    belongs to another user moves to ``user`` (a browser or phone serves
    whoever is logged in on it). Past ``PUSH_MAX_DEVICES_PER_USER`` the least
    recently used devices are removed. Raises :class:`RateLimited` past
    ``THROTTLE_DEVICE_REGISTER``.
    """
    rate_limit_hit("device_register", str(user.pk), settings.THROTTLE_DEVICE_REGISTER)
    # One registration per user at a time (transaction-scoped advisory lock): the cap below counts the
    # user's devices after inserting one, and parallel transactions would not see each other's rows.
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", [f"device_register:{user.pk}"])
    if kind == DeviceKind.WEBPUSH:
        lookup, defaults = {"kind": kind, "endpoint": endpoint}, {"p256dh": p256dh, "auth": auth, "user": user}
    elif kind == DeviceKind.FCM:
        lookup, defaults = {"kind": kind, "token": token}, {"user": user}
    else:
        raise InvalidInput("Unknown device kind.", fields={"kind": ["Use webpush or fcm."]})
    for attempt in range(2):
        try:
            with transaction.atomic():
                device, created = Device.objects.update_or_create(**lookup, defaults=defaults)
            break
        except IntegrityError:  # a concurrent registration of the same endpoint won: update it instead
            if attempt:
                raise
    keep = int(settings.PUSH_MAX_DEVICES_PER_USER)
    stale = list(Device.objects.filter(user=user).order_by("-created_at", "-id").values_list("pk", flat=True)[keep:])
    if stale:
        Device.objects.filter(pk__in=stale).delete()
    return device, created


def device_delete(*, user, device_id: int) -> None:
    """Delete ``user``'s device ``device_id``; raises :class:`NotFound` for an unknown id or another user's."""
    deleted, _ = Device.objects.filter(user=user, pk=device_id).delete()
    if not deleted:
        raise NotFound("Device not found.")


def device_gone(*, device_id: int, reason: str) -> None:
    """Delete a device its push provider reports gone (Web Push 404/410, FCM unregistered)."""
    deleted, _ = Device.objects.filter(pk=device_id).delete()
    if deleted:
        logger.info("push device %s deleted: %s", device_id, reason)


def device_used(*, device_id: int) -> None:
    """Record a successful push to ``device_id`` (``last_used_at``)."""
    Device.objects.filter(pk=device_id).update(last_used_at=timezone.now())
