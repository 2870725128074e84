"""Reads of notifications: a user's notifications, unread count, preferences, devices."""

from __future__ import annotations

from django.db.models import QuerySet

from .models import Device, Notification, NotificationPreference, NotificationSettings
from .types import NOTIFICATION_TYPES


def notification_list(*, user, unread: bool | None = None) -> QuerySet[Notification]:
    """``user``'s notifications, newest first; ``unread`` true/false filters on ``is_read``."""
    qs = Notification.objects.filter(user=user)
    if unread is not None:
        qs = qs.filter(is_read=not unread)
    return qs.order_by("-created_at", "-id")


def notification_unread_count(*, user) -> int:
    """How many unread notifications ``user`` has (index ``notif_user_read_created``)."""
    return Notification.objects.filter(user=user, is_read=False).count()


def preferences_get(*, user) -> dict:
    """``{"types": {type: {"in_app", "push"}}, "quiet_hours": {"start","end"} | None, "time_zone"}``.

    Every known type is listed, with the defaults (both on) when the user
    never changed it. Times are local ``HH:MM`` strings in ``time_zone``.
    """
    types = {t: {"in_app": True, "push": True} for t in NOTIFICATION_TYPES}
    for row in NotificationPreference.objects.filter(user=user, type__in=list(NOTIFICATION_TYPES)):
        types[row.type] = {"in_app": row.in_app, "push": row.push}
    row = NotificationSettings.objects.filter(user=user).first()
    quiet = None
    if row is not None and row.quiet_hours_start is not None and row.quiet_hours_end is not None:
        quiet = {"start": row.quiet_hours_start.strftime("%H:%M"), "end": row.quiet_hours_end.strftime("%H:%M")}
    return {"types": types, "quiet_hours": quiet, "time_zone": row.time_zone if row else "UTC"}


def device_list(*, user) -> QuerySet[Device]:
    """``user``'s push devices, newest first."""
    return Device.objects.filter(user=user).order_by("-created_at", "-id")
