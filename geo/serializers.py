"""Shapes of geo input and output."""

from __future__ import annotations

import math
from datetime import UTC, datetime

from django.conf import settings
from django.utils.dateparse import parse_datetime
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from .osm import POI_KEYS


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


class PlaceNearbyQuerySerializer(AreaQuerySerializer):
    """``GET /api/places/nearby``: ``lat``/``lng`` (degrees), ``radius`` (metres, 0 < r <= ``MAP_MAX_RADIUS_M``).

    ``category``: comma-separated items, each an OSM ``key=value`` or a bare
    key, the key one of ``geo.osm.POI_KEYS`` (at most 10 items, 400 otherwise).
    ``query``: free text, at most 100 characters.
    """

    role = None
    category = serializers.CharField(max_length=500, required=False, allow_blank=True)
    query = serializers.CharField(max_length=100, required=False, allow_blank=True, trim_whitespace=True)

    def validate_category(self, value):
        """Normalise to a list of ``key=value`` or ``key`` items; 400 for an unknown key or an empty value."""
        items = [item.strip() for item in value.split(",") if item.strip()]
        if len(items) > 10:
            raise serializers.ValidationError("At most 10 categories.")
        out = []
        for item in items:
            key, eq, val = (part.strip() for part in item.partition("="))
            if key not in POI_KEYS or (eq and not val):
                raise serializers.ValidationError(
                    f"Unknown category {item!r}: use key=value or a key, the key one of {', '.join(POI_KEYS)}."
                )
            out.append(f"{key}={val}" if eq else key)
        return out


class PlaceSerializer(serializers.Serializer):
    """A point of interest from OpenStreetMap (seed 001 places).

    ``lat``/``lng``: WGS84 degrees (node position, or centroid of a way or
    multipolygon). ``distance_m``: metres from the query centre.
    ``category``: OSM ``key=value``. ``address`` is formatted from the
    ``addr:*`` tags; text fields are ``""`` when OSM has no value.
    """

    id = serializers.IntegerField()
    osm_type = serializers.CharField()
    osm_id = serializers.IntegerField()
    name = serializers.CharField()
    category = serializers.CharField()
    lat = serializers.SerializerMethodField()
    lng = serializers.SerializerMethodField()
    distance_m = serializers.SerializerMethodField()
    address = serializers.CharField()
    opening_hours = serializers.CharField()
    website = serializers.CharField()
    phone = serializers.CharField()

    def get_lat(self, place) -> float:
        """Latitude, degrees (7 decimals, OSM's precision)."""
        return round(place.location.y, 7)

    def get_lng(self, place) -> float:
        """Longitude, degrees (7 decimals, OSM's precision)."""
        return round(place.location.x, 7)

    def get_distance_m(self, place) -> float:
        """Metres from the query centre on the spheroid (the selector's ``distance`` annotation), 0.1 m."""
        return round(place.distance.m, 1)


class PlacePageSerializer(serializers.Serializer):
    """A page of places: ``{"count", "next", "previous", "results"}`` (``next``/``previous`` are URLs or null)."""

    count = serializers.IntegerField()
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = PlaceSerializer(many=True)
