"""Shapes of places input and output."""

from __future__ import annotations

from rest_framework import serializers

from core.serializers import CircleQuerySerializer

from .osm import POI_KEYS


class PlaceNearbyQuerySerializer(CircleQuerySerializer):
    """``GET /api/places/nearby``: ``lat``/``lng`` (degrees), ``radius`` (metres, 0 < r <= ``MAP_MAX_RADIUS_M``).

    ``category``: comma-separated items, each an OSM ``key=value`` or a bare
    key, the key one of ``places.osm.POI_KEYS`` (at most 10 items, 400 otherwise).
    ``query``: free text, at most 100 characters.
    """

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
