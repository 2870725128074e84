"""Input parsing and output shapes of notifications and devices."""

from __future__ import annotations

import base64
import binascii
import ipaddress
from urllib.parse import urlsplit

from django.conf import settings
from rest_framework import serializers

from .events import notification_json
from .models import Device
from .types import NOTIFICATION_TYPES

#: Web Push key sizes (RFC 8291 section 3.2): uncompressed P-256 point and authentication secret.
P256DH_BYTES = 65
AUTH_BYTES = 16
_LOOPBACK_HOSTS = {"localhost"}


class StrictCharField(serializers.CharField):
    """A string field that refuses numbers and booleans (DRF's ``CharField`` turns them into strings)."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class NotificationSerializer(serializers.Serializer):
    """One notification (``GET /api/notifications`` item and ``notification`` event payload)."""

    id = serializers.IntegerField()
    type = serializers.CharField()
    content = serializers.CharField()
    related_kind = serializers.CharField(help_text="kind of the related object, '' when none")
    related_id = serializers.CharField(allow_null=True)
    data = serializers.DictField()
    is_read = serializers.BooleanField()
    created_at = serializers.DateTimeField()

    def to_representation(self, instance):
        return notification_json(instance)


class NotificationListQuerySerializer(serializers.Serializer):
    """``?unread=true|false`` (default: all)."""

    unread = serializers.BooleanField(required=False, allow_null=True, default=None)


class MarkReadSerializer(serializers.Serializer):
    """``{"notification_ids": [int, ...]}`` (1 to ``NOTIFICATION_MARK_READ_MAX_IDS`` positive integers)."""

    notification_ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=2**63 - 1), allow_empty=False
    )

    def validate_notification_ids(self, value):
        limit = int(settings.NOTIFICATION_MARK_READ_MAX_IDS)
        if len(value) > limit:
            raise serializers.ValidationError(f"At most {limit} ids.")
        return value


class CountSerializer(serializers.Serializer):
    count = serializers.IntegerField()


class UpdatedSerializer(serializers.Serializer):
    updated = serializers.IntegerField()


class TypePreferenceSerializer(serializers.Serializer):
    """``{"in_app"?: bool, "push"?: bool}``."""

    in_app = serializers.BooleanField(required=False)
    push = serializers.BooleanField(required=False)


class QuietHoursSerializer(serializers.Serializer):
    """``{"start": "HH:MM", "end": "HH:MM"}`` local times; start after end spans midnight."""

    start = serializers.TimeField(format="%H:%M", input_formats=["%H:%M", "%H:%M:%S"])
    end = serializers.TimeField(format="%H:%M", input_formats=["%H:%M", "%H:%M:%S"])

    def validate(self, attrs):
        if attrs["start"] == attrs["end"]:
            raise serializers.ValidationError("start and end must differ (send null for no quiet hours).")
        return attrs


class PreferencesPatchSerializer(serializers.Serializer):
    """``PATCH /api/notifications/preferences`` body: any of ``types``, ``quiet_hours``, ``time_zone``."""

    types = serializers.DictField(child=TypePreferenceSerializer(), required=False)
    quiet_hours = QuietHoursSerializer(required=False, allow_null=True)
    time_zone = StrictCharField(required=False, max_length=64)

    def validate_types(self, value):
        unknown = sorted(set(value) - set(NOTIFICATION_TYPES))
        if unknown:
            raise serializers.ValidationError(f"Unknown notification types: {', '.join(unknown)}.")
        return value

    def validate(self, attrs):
        if not attrs:
            raise serializers.ValidationError("Send at least one of types, quiet_hours, time_zone.")
        return attrs


class PreferencesSerializer(serializers.Serializer):
    """``{"types": {type: {"in_app", "push"}}, "quiet_hours": {"start","end"} | null, "time_zone"}``."""

    types = serializers.DictField(child=TypePreferenceSerializer())
    quiet_hours = QuietHoursSerializer(allow_null=True)
    time_zone = serializers.CharField()


def b64url_decode(value: str) -> bytes:
    """Decode unpadded (or padded) base64url; raises ``ValueError``."""
    if not isinstance(value, str) or not value or any(c in value for c in "+/ \n\r\t"):
        raise ValueError("not base64url")
    try:
        return base64.urlsafe_b64decode(value + "=" * (-len(value.rstrip("=")) % 4))
    except (binascii.Error, ValueError):
        raise ValueError("not base64url") from None


def _endpoint_validate(url: str) -> str:
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if parts.scheme == "https" and host:
        return url
    if parts.scheme == "http" and settings.PUSH_ALLOW_INSECURE_ENDPOINTS:
        loopback = host in _LOOPBACK_HOSTS
        try:
            loopback = loopback or ipaddress.ip_address(host).is_loopback
        except ValueError:
            pass
        if loopback:
            return url
    raise serializers.ValidationError("The endpoint must be an https URL.")


class WebPushKeysSerializer(serializers.Serializer):
    p256dh = StrictCharField(max_length=128, trim_whitespace=False)
    auth = StrictCharField(max_length=64, trim_whitespace=False)

    def validate_p256dh(self, value):
        try:
            raw = b64url_decode(value)
        except ValueError:
            raise serializers.ValidationError("Not base64url.") from None
        if len(raw) != P256DH_BYTES or raw[0] != 0x04:
            raise serializers.ValidationError("Expected an uncompressed P-256 point (65 bytes, base64url).")
        return value.rstrip("=")

    def validate_auth(self, value):
        try:
            raw = b64url_decode(value)
        except ValueError:
            raise serializers.ValidationError("Not base64url.") from None
        if len(raw) != AUTH_BYTES:
            raise serializers.ValidationError("Expected 16 bytes, base64url.")
        return value.rstrip("=")


class DeviceRegisterSerializer(serializers.Serializer):
    """A Web Push subscription ``{endpoint, keys: {p256dh, auth}}`` (``PushSubscription.toJSON()``) or ``{fcm_token}``.

    ``expirationTime`` from a browser is accepted and ignored.
    """

    endpoint = serializers.URLField(required=False, max_length=2048)
    keys = WebPushKeysSerializer(required=False)
    fcm_token = StrictCharField(required=False, max_length=4096, trim_whitespace=False)

    def validate_endpoint(self, value):
        return _endpoint_validate(value)

    def validate_fcm_token(self, value):
        if not value or any(c.isspace() or not c.isprintable() for c in value):
            raise serializers.ValidationError("Not an FCM registration token.")
        return value

    def validate(self, attrs):
        webpush = "endpoint" in attrs or "keys" in attrs
        if webpush and "fcm_token" in attrs:
            raise serializers.ValidationError("Send either a Web Push subscription or fcm_token, not both.")
        if "fcm_token" in attrs:
            return {"kind": "fcm", "token": attrs["fcm_token"]}
        missing = {f: ["This field is required."] for f in ("endpoint", "keys") if f not in attrs}
        if missing:
            raise serializers.ValidationError(missing)
        keys = attrs["keys"]
        return {"kind": "webpush", "endpoint": attrs["endpoint"], "p256dh": keys["p256dh"], "auth": keys["auth"]}


class DeviceSerializer(serializers.ModelSerializer):
    """A device of the caller: ``endpoint`` (Web Push) or a token prefix (FCM); never the keys."""

    token_prefix = serializers.SerializerMethodField()

    class Meta:
        model = Device
        fields = ("id", "kind", "endpoint", "token_prefix", "created_at", "last_used_at")

    def get_token_prefix(self, obj) -> str:
        return obj.token[:8] if obj.token else ""
