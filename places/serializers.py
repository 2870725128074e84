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


# --------------------------------------------------------------------------- route suggestions (places/routes.py)

from core.serializers import FiniteFloatField  # noqa: E402  (this block is appended on purpose)


class RouteSuggestionQuerySerializer(serializers.Serializer):
    """``GET /api/routes/suggestions``: ``lat``/``lng`` (degrees), ``distance_m`` (500..20 000), ``count`` (1..5, 3).

    Out of range, non-finite or missing values are 400 with ``fields``.
    """

    lat = FiniteFloatField(min_value=-90.0, max_value=90.0)
    lng = FiniteFloatField(min_value=-180.0, max_value=180.0)
    distance_m = FiniteFloatField(min_value=500.0, max_value=20_000.0, help_text="Wanted loop length, metres.")
    count = serializers.IntegerField(min_value=1, max_value=5, required=False, default=3)


class RoutePlaceSerializer(serializers.Serializer):
    """A place within 50 m of a route: ``distance_m`` is metres from the route (0.1 m)."""

    id = serializers.IntegerField()
    name = serializers.CharField()
    category = serializers.CharField(help_text="OSM key=value, e.g. amenity=cafe.")
    distance_m = serializers.FloatField(help_text="Metres from the route.")


class RouteLineStringSerializer(serializers.Serializer):
    """A GeoJSON LineString: ``coordinates`` ``[[lng, lat], ...]`` (WGS84 degrees), first == last (a loop)."""

    type = serializers.ChoiceField(choices=["LineString"])
    coordinates = serializers.ListField(
        child=serializers.ListField(child=serializers.FloatField(), min_length=2, max_length=2),
        min_length=2,
        help_text="[lng, lat] pairs, degrees; the first and last are the same start node.",
    )


class RoutePropertiesSerializer(serializers.Serializer):
    """A loop's ``length_m`` (walking metres) and the places within 50 m of it.

    ``places``: at most 100, the nearest to the route, in the order the loop
    passes them; ``places_total``: how many places are within 50 m.
    """

    length_m = serializers.FloatField(help_text="Walking length, metres (0.1 m).")
    places = RoutePlaceSerializer(many=True)
    places_total = serializers.IntegerField(help_text="Places within 50 m of the route (places lists at most 100).")


class RouteFeatureSerializer(serializers.Serializer):
    """A GeoJSON Feature: one suggested loop."""

    type = serializers.ChoiceField(choices=["Feature"])
    geometry = RouteLineStringSerializer()
    properties = RoutePropertiesSerializer()


class RouteFeatureCollectionSerializer(serializers.Serializer):
    """A GeoJSON FeatureCollection of 1..``count`` loops, best first."""

    type = serializers.ChoiceField(choices=["FeatureCollection"])
    features = RouteFeatureSerializer(many=True)
