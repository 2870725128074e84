"""Thin REST views of places; reads live in ``selectors``."""

from __future__ import annotations

from django.conf import settings
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.pagination import PageNumberPagination
from rest_framework.views import APIView

from .selectors import place_list_nearby
from .serializers import PlaceNearbyQuerySerializer, PlacePageSerializer, PlaceSerializer


class PlacePagination(PageNumberPagination):
    """Pages of places: ``page`` (1-based), ``page_size`` (default ``PAGE_SIZE`` = 20, at most 100)."""

    page_size_query_param = "page_size"
    max_page_size = 100


class PlacesNearbyView(APIView):
    """``GET /api/places/nearby?lat=&lng=&radius=&category=&query=&page=&page_size=`` (seed 001).

    OpenStreetMap points of interest (``manage.py import_osm``) within
    ``radius`` metres (default ``MAP_DEFAULT_RADIUS_M`` = 1000, at most
    ``MAP_MAX_RADIUS_M`` = 50 000) of ``lat``/``lng`` (WGS84 degrees),
    nearest first. ``category``: comma-separated ``key=value`` or bare keys
    (``amenity=cafe,shop``); ``query``: words that must all occur in the
    name, category or address. Paginated ``{"count", "next", "previous",
    "results"}``. Errors: 400 bad coordinates, radius, category or query
    (``fields`` names them), 401 without a valid token, 404 for a page past
    the end, 429 over ``THROTTLE_USER``.
    """

    @extend_schema(
        parameters=[
            OpenApiParameter("lat", float, required=True, description="WGS84 degrees"),
            OpenApiParameter("lng", float, required=True, description="WGS84 degrees"),
            OpenApiParameter("radius", float, required=False, description="metres (default 1000, max 50 000)"),
            OpenApiParameter("category", str, required=False, description="amenity=cafe,shop,..."),
            OpenApiParameter("query", str, required=False, description="words in name, category or address"),
            OpenApiParameter("page", int, required=False),
            OpenApiParameter("page_size", int, required=False, description="1..100, default 20"),
        ],
        responses=PlacePageSerializer,
    )
    def get(self, request):
        params = PlaceNearbyQuerySerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        v = params.validated_data
        qs = place_list_nearby(
            lat=v["lat"],
            lng=v["lng"],
            radius_m=v.get("radius") or settings.MAP_DEFAULT_RADIUS_M,
            categories=v.get("category") or None,
            query=v.get("query") or "",
        )
        paginator = PlacePagination()
        page = paginator.paginate_queryset(qs, request, view=self)
        return paginator.get_paginated_response(PlaceSerializer(page, many=True).data)


# Route suggestions (places/routes.py); imports kept with the view so this block stands alone.
from rest_framework.response import Response  # noqa: E402

from .routes import route_suggestions_list  # noqa: E402
from .serializers import RouteFeatureCollectionSerializer, RouteSuggestionQuerySerializer  # noqa: E402


class RouteSuggestionsView(APIView):
    """``GET /api/routes/suggestions?lat=&lng=&distance_m=&count=``: loop walks over the OSM walking network.

    Up to ``count`` (1..5, default 3) loops of ``distance_m`` metres
    (500..20 000) ± 25 % that start and end at the walking-network node
    nearest ``lat``/``lng`` (WGS84 degrees), best first (smallest length
    error plus share walked twice), as a GeoJSON FeatureCollection of
    LineStrings (``[lng, lat]``) whose properties are ``length_m``, the
    ``places`` within 50 m of the loop (the nearest 100, in the order the
    loop passes them) and ``places_total``. Built with networkx by
    ``places.routes.route_suggestions_list``; 0.13 s CPU per request
    (median, at most 0.35 s) on the central Helsinki extract (docs/osm.md, "Route suggestions"). Errors: 400
    bad input (``fields``), 401 without a valid token, 404 ``no_network``
    (no walking network file) or ``no_route`` (the point is more than 500 m
    from the network, or no loop of that length exists there), 429 over
    ``THROTTLE_USER``.
    """

    @extend_schema(
        parameters=[
            OpenApiParameter("lat", float, required=True, description="WGS84 degrees"),
            OpenApiParameter("lng", float, required=True, description="WGS84 degrees"),
            OpenApiParameter(
                "distance_m", float, required=True, description="wanted loop length, metres (500..20 000; ±25 %)"
            ),
            OpenApiParameter("count", int, required=False, description="1..5, default 3"),
        ],
        responses=RouteFeatureCollectionSerializer,
    )
    def get(self, request):
        params = RouteSuggestionQuerySerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        v = params.validated_data
        routes = route_suggestions_list(lat=v["lat"], lng=v["lng"], distance_m=v["distance_m"], count=v["count"])
        return Response(
            {
                "type": "FeatureCollection",
                "features": [
                    {
                        "type": "Feature",
                        "geometry": {
                            "type": "LineString",
                            "coordinates": [[lng, lat] for lat, lng in route.coordinates],
                        },
                        "properties": {
                            "length_m": route.length_m,
                            "places": list(route.places),
                            "places_total": route.places_total,
                        },
                    }
                    for route in routes
                ],
            }
        )
