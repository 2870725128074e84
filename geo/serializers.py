"""Shapes of geo input and output."""

from __future__ import annotations

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
