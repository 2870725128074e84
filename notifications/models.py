"""Data of notifications: stored notifications, per-type preferences, quiet hours, push devices.

Seed 000 ("Notification: id, user_id, type, content, related_id, is_read,
created_at"), plus ``related_kind`` (what ``related_id`` points at) and
``data`` (small structured extras for clients). Preferences and quiet hours
are part of the user's preferences (docs/notifications.md) but live here so
that accounts does not depend on notifications.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class Notification(models.Model):
    """One notification of one user (seed 000), shown in the app and maybe pushed."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    #: One of :data:`notifications.types.NOTIFICATION_TYPES` (``message``, ``meet_request``, ...).
    type = models.CharField(max_length=64)
    #: Human text shown to the user (at most ``NOTIFICATION_CONTENT_MAX_CHARS`` characters).
    content = models.TextField()
    #: Kind of the related object (``message``, ``conversation``, ``walk``, ``meetup``, ...), or "".
    related_kind = models.CharField(max_length=32, blank=True, default="")
    #: Id of the related object as a string (UUID or integer ids alike), or null.
    related_id = models.CharField(max_length=64, blank=True, null=True)
    #: Small JSON object of extras for the client (e.g. ``{"sender_id": ...}``).
    data = models.JSONField(default=dict, blank=True)
    is_read = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ("-created_at", "-id")
        indexes = [
            models.Index(fields=["user", "is_read", "-created_at"], name="notif_user_read_created"),
            models.Index(fields=["user", "-created_at"], name="notif_user_created"),
        ]

    def __str__(self) -> str:
        return f"{self.type} -> {self.user_id} ({'read' if self.is_read else 'unread'})"


class NotificationPreference(models.Model):
    """Whether one notification type is shown in the app and/or pushed, for one user (default: both on)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_preferences"
    )
    type = models.CharField(max_length=64)
    in_app = models.BooleanField(default=True)
    push = models.BooleanField(default=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "type"], name="notif_pref_user_type_unique")]

    def __str__(self) -> str:
        return f"{self.user_id} {self.type}: in_app={self.in_app} push={self.push}"


class NotificationSettings(models.Model):
    """Quiet hours of one user: no push between ``quiet_hours_start`` and ``quiet_hours_end`` in ``time_zone``.

    Local wall-clock times; a window whose start is after its end spans
    midnight (22:00-07:00). Both null: no quiet hours. ``time_zone`` is an
    IANA name (``Europe/Helsinki``), validated with ``zoneinfo``.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_settings"
    )
    quiet_hours_start = models.TimeField(null=True, blank=True)
    quiet_hours_end = models.TimeField(null=True, blank=True)
    time_zone = models.CharField(max_length=64, default="UTC")

    class Meta:
        verbose_name_plural = "notification settings"
        constraints = [
            models.CheckConstraint(
                condition=(Q(quiet_hours_start__isnull=True) & Q(quiet_hours_end__isnull=True))
                | (Q(quiet_hours_start__isnull=False) & Q(quiet_hours_end__isnull=False)),
                name="notif_settings_quiet_hours_both_or_none",
            )
        ]

    def __str__(self) -> str:
        return f"{self.user_id} quiet {self.quiet_hours_start}-{self.quiet_hours_end} {self.time_zone}"


class DeviceKind(models.TextChoices):
    WEBPUSH = "webpush", "Web Push"
    FCM = "fcm", "Firebase Cloud Messaging"


class Device(models.Model):
    """A push target of one user: a Web Push subscription (RFC 8030/8291) or an FCM registration token.

    An endpoint or token belongs to one user at a time: registering it again
    (for example after another user logged in on the same browser) moves it.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="devices")
    kind = models.CharField(max_length=16, choices=DeviceKind.choices)
    #: Web Push: the push service URL (https; a capability URL, never shown to other users).
    endpoint = models.URLField(max_length=2048, blank=True, default="")
    #: Web Push: the subscription's P-256 public key, base64url (65 bytes uncompressed point).
    p256dh = models.CharField(max_length=128, blank=True, default="")
    #: Web Push: the subscription's authentication secret, base64url (16 bytes).
    auth = models.CharField(max_length=64, blank=True, default="")
    #: FCM: the registration token.
    token = models.CharField(max_length=4096, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-created_at", "-id")
        constraints = [
            models.UniqueConstraint(
                fields=["endpoint"], condition=Q(kind="webpush"), name="device_webpush_endpoint_unique"
            ),
            models.UniqueConstraint(fields=["token"], condition=Q(kind="fcm"), name="device_fcm_token_unique"),
            models.CheckConstraint(
                condition=(Q(kind="webpush") & ~Q(endpoint="") & ~Q(p256dh="") & ~Q(auth="") & Q(token=""))
                | (Q(kind="fcm") & ~Q(token="") & Q(endpoint="")),
                name="device_kind_fields",
            ),
        ]
        indexes = [models.Index(fields=["user", "-created_at"], name="device_user_created")]

    def __str__(self) -> str:
        return f"{self.kind} device of {self.user_id}"
