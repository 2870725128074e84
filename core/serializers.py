"""Shared input fields and shapes: finite floats, UTC instants, a circle on the map.

Used by every app's serializers, so coordinates and timestamps are parsed the
same way over REST and the socket (``core.validation.validated``).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime

from django.conf import settings
from django.utils.dateparse import parse_datetime
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers


class FiniteFloatField(serializers.FloatField):
    """A float that refuses booleans, NaN and infinities."""

    def to_internal_value(self, data):
        if isinstance(data, bool):
            self.fail("invalid")
        value = super().to_internal_value(data)
        if not math.isfinite(value):
            self.fail("invalid")
        return value


@extend_schema_field(
    {
        "oneOf": [{"type": "string", "format": "date-time"}, {"type": "integer", "minimum": 0}],
        "description": "ISO 8601 (no offset = UTC) or epoch milliseconds.",
    }
)
class TimestampField(serializers.Field):
    """A UTC instant given as ISO 8601 (naive means UTC) or epoch milliseconds (number)."""

    default_error_messages = {"invalid": "Expected an ISO 8601 datetime or epoch milliseconds."}

    def to_internal_value(self, data):
        if isinstance(data, bool):
            self.fail("invalid")
        if isinstance(data, (int, float)):
            if not 0 <= data <= 1e14:  # also refuses NaN, infinities and ints too large for a float
                self.fail("invalid")
            return datetime.fromtimestamp(data / 1000.0, tz=UTC)
        if isinstance(data, str):
            text = data.strip()
            if text.isascii() and text.isdigit():  # str.isdigit() alone accepts "²", which int() refuses
                if len(text) > 15:  # beyond 1e14 ms; int() also refuses more than 4300 digits
                    self.fail("invalid")
                return self.to_internal_value(int(text))
            try:
                parsed = parse_datetime(text)
            except ValueError:
                parsed = None
            if parsed is None:
                self.fail("invalid")
            if parsed.tzinfo is None:
                parsed = parsed.replace(tzinfo=UTC)
            try:
                return parsed.astimezone(UTC)
            except OverflowError:  # e.g. 9999-12-31T23:59:59-05:00 is past datetime.max in UTC
                self.fail("invalid")
        self.fail("invalid")

    def to_representation(self, value):
        return value.isoformat()


class CircleQuerySerializer(serializers.Serializer):
    """``lat``/``lng`` in WGS84 degrees, ``radius`` in metres (0 < r <= ``MAP_MAX_RADIUS_M``, optional)."""

    lat = FiniteFloatField(min_value=-90.0, max_value=90.0)
    lng = FiniteFloatField(min_value=-180.0, max_value=180.0)
    radius = FiniteFloatField(required=False, allow_null=True)

    def validate_radius(self, value):
        """``None`` stays ``None`` (the caller's default); else 0 < r <= ``MAP_MAX_RADIUS_M``."""
        if value is None:
            return None
        if value <= 0 or value > settings.MAP_MAX_RADIUS_M:
            raise serializers.ValidationError(f"Radius must be in (0, {settings.MAP_MAX_RADIUS_M}] metres.")
        return value
