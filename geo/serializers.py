"""Shapes of geo input and output."""

from __future__ import annotations

import math

from rest_framework import serializers

from core.serializers import CircleQuerySerializer, FiniteFloatField, TimestampField


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


class AreaQuerySerializer(CircleQuerySerializer):
    """``lat``/``lng`` in WGS84 degrees, ``radius`` in metres (1..``MAP_MAX_RADIUS_M``), optional ``role`` slug."""

    role = serializers.CharField(max_length=32, required=False, allow_blank=True)


class NearbyQuerySerializer(serializers.Serializer):
    """``GET /api/users/nearby``: optional ``role`` filter; ``available=true`` keeps walking buddies (seed 001)."""

    role = serializers.CharField(max_length=32, required=False, allow_blank=True)
    available = serializers.BooleanField(required=False, default=False)


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


_TIMESTAMP_FIELD = TimestampField()
#: (name, min, max) of the optional float fields of :class:`LocationFixInputSerializer`.
_FIX_OPTIONAL = (("accuracy_m", 0.0, 100_000.0), ("speed_mps", 0.0, 300.0), ("heading_deg", 0.0, 360.0))


def _plain_float(value, low: float, high: float) -> float | None:
    if type(value) is float:  # not bool, not str: those take the serializer path
        if math.isfinite(value) and low <= value <= high:
            return value
    elif type(value) is int and low <= value <= high:  # compared as int first: float(10**400) overflows
        return float(value)
    return None


def location_fix_parse(data) -> dict:
    """Validate a fix as :class:`LocationFixInputSerializer` does, without building a serializer per fix.

    Returns the same ``validated_data`` (``lat``/``lng`` floats, optional
    ``timestamp`` aware UTC datetime, ``accuracy_m``/``speed_mps``/``heading_deg``
    floats or ``None``, absent keys absent). The common frame (numbers in
    range, timestamp as ISO 8601 or epoch ms) is checked here in a few
    microseconds; anything else (strings for numbers, out of range, wrong
    types) goes through the serializer, which gives the answer and the error
    (``core.errors.InvalidInput``, 400 with ``fields``). A serializer built
    per fix cost ~0.3 ms of CPU (deep copies of its fields; bench: socket
    ingest profile). ``tests/geo/test_fix_parse.py`` checks both paths agree.
    """
    from core.validation import validated

    if type(data) is dict:
        lat = _plain_float(data.get("lat"), -90.0, 90.0)
        lng = _plain_float(data.get("lng"), -180.0, 180.0)
        if lat is not None and lng is not None:
            out = {"lat": lat, "lng": lng}
            for name, low, high in _FIX_OPTIONAL:
                if name in data:
                    raw = data[name]
                    if raw is None:
                        out[name] = None
                        continue
                    value = _plain_float(raw, low, high)
                    if value is None:
                        break
                    out[name] = value
            else:
                if "timestamp" not in data:
                    return out
                raw = data["timestamp"]
                if raw is None:
                    out["timestamp"] = None
                    return out
                try:
                    out["timestamp"] = _TIMESTAMP_FIELD.to_internal_value(raw)
                    return out
                except serializers.ValidationError:
                    pass
    return validated(LocationFixInputSerializer, data)
