"""Shapes of geo input and output."""

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


class LocationFixInputSerializer(serializers.Serializer):
    """A fix: WGS84 degrees, optional client ``timestamp``, metres, m/s, degrees.

    Used by ``POST /api/location``, ``PUT /api/users/location`` and the
    ``location:update`` socket event alike (through ``geo.services.location_record``).
    """

    lat = FiniteFloatField(min_value=-90.0, max_value=90.0)
    lng = FiniteFloatField(min_value=-180.0, max_value=180.0)
    timestamp = TimestampField(required=False, allow_null=True)
    accuracy_m = FiniteFloatField(min_value=0.0, max_value=100_000.0, required=False, allow_null=True)
    speed_mps = FiniteFloatField(min_value=0.0, max_value=300.0, required=False, allow_null=True)
    heading_deg = FiniteFloatField(min_value=0.0, max_value=360.0, required=False, allow_null=True)


class LocationFixResultSerializer(serializers.Serializer):
    """Answer to a fix: ``status`` is ``stored``, ``coalesced`` or ``out_of_order``."""

    stored = serializers.BooleanField()
    status = serializers.ChoiceField(choices=["stored", "coalesced", "out_of_order"])
    recorded_at = serializers.DateTimeField()
    received_at = serializers.DateTimeField()


class AreaQuerySerializer(serializers.Serializer):
    """``lat``/``lng`` in WGS84 degrees, ``radius`` in metres (1..``MAP_MAX_RADIUS_M``)."""

    lat = FiniteFloatField(min_value=-90.0, max_value=90.0)
    lng = FiniteFloatField(min_value=-180.0, max_value=180.0)
    radius = FiniteFloatField(required=False, allow_null=True)
    role = serializers.CharField(max_length=32, required=False, allow_blank=True)

    def validate_radius(self, value):
        if value is None:
            return None
        if value <= 0 or value > settings.MAP_MAX_RADIUS_M:
            raise serializers.ValidationError(f"Radius must be in (0, {settings.MAP_MAX_RADIUS_M}] metres.")
        return value


class NearbyQuerySerializer(serializers.Serializer):
    """``GET /api/users/nearby`` optional ``role`` filter."""

    role = serializers.CharField(max_length=32, required=False, allow_blank=True)


class MapNodeSerializer(serializers.Serializer):
    """One visible user on the map (seed 000 map node).

    ``lat``/``lng`` are WGS84 degrees: the ~``MAP_GRID_M`` cell centre for
    strangers (``precision_m`` = cell size), exact for granted relationships.
    ``distance_m`` is metres from the query centre to that position.
    """

    user_id = serializers.UUIDField()
    name = serializers.CharField()
    roles = serializers.ListField(child=serializers.CharField())
    lat = serializers.FloatField()
    lng = serializers.FloatField()
    distance_m = serializers.FloatField()
    precision_m = serializers.FloatField()
    location_updated_at = serializers.DateTimeField()
    online = serializers.BooleanField()


class MapNodesResponseSerializer(serializers.Serializer):
    """``{"count", "results"}``: at most ``MAP_MAX_RESULTS`` nodes, nearest first."""

    count = serializers.IntegerField()
    results = MapNodeSerializer(many=True)
