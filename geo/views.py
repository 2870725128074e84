"""Thin REST views of geo; rules live in ``services``/``selectors``."""

from __future__ import annotations

from django.conf import settings
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.selectors import roles_validate
from config.errors import NotFound

from . import services
from .selectors import map_nodes_list, nearby_users_list, place_list_nearby, viewer_context_get
from .serializers import (
    AreaQuerySerializer,
    LocationFixInputSerializer,
    LocationFixResultSerializer,
    MapNodesResponseSerializer,
    NearbyQuerySerializer,
    PlaceNearbyQuerySerializer,
    PlacePageSerializer,
    PlaceSerializer,
)


class LocationView(APIView):
    """``POST /api/location`` (seed 000) and ``PUT /api/users/location`` (seed 001).

    Body ``{lat, lng, timestamp?, accuracy_m?, speed_mps?, heading_deg?}``
    (WGS84 degrees; ISO 8601 or epoch ms; metres; m/s; degrees). 200
    ``{"stored", "status", "recorded_at", "received_at"}``; 400 bad input,
    429 over ``THROTTLE_LOCATION``.
    """

    @extend_schema(request=LocationFixInputSerializer, responses=LocationFixResultSerializer)
    def post(self, request):
        return Response(services.location_record(request.user, request.data).as_dict())

    @extend_schema(request=LocationFixInputSerializer, responses=LocationFixResultSerializer)
    def put(self, request):
        return self.post(request)


def _role_param(value: str | None) -> str | None:
    if not value:
        return None
    return roles_validate([value], field="role")[0]


class MapNodesView(APIView):
    """``GET /api/map_nodes?lat=&lng=&radius=&role=`` (seed 000).

    Users visible to the caller within ``radius`` metres (default the caller's
    ``search_radius_m``; at most ``MAP_MAX_RADIUS_M`` = 50 000, else 400),
    nearest first, at most ``MAP_MAX_RESULTS`` (200). Strangers' positions
    are ~100 m grid cell centres. 400 for bad coordinates or an unknown role.
    """

    @extend_schema(
        parameters=[
            OpenApiParameter("lat", float, required=True),
            OpenApiParameter("lng", float, required=True),
            OpenApiParameter("radius", float, required=False, description="metres"),
            OpenApiParameter("role", str, required=False),
        ],
        responses=MapNodesResponseSerializer,
    )
    def get(self, request):
        params = AreaQuerySerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        v = params.validated_data
        role = _role_param(v.get("role"))
        viewer = viewer_context_get(request.user)
        radius = v.get("radius") or viewer.search_radius_m
        nodes = map_nodes_list(viewer, lat=v["lat"], lng=v["lng"], radius_m=radius, role=role)
        return Response(
            {"count": len(nodes), "results": nodes}
        )


class NearbyUsersView(APIView):
    """``GET /api/users/nearby?role=`` (seed 001): map nodes around the caller's own latest fix.

    Uses the caller's ``search_radius_m``, age range and gender preference.
    404 ``no_location`` until the caller has sent a fix.
    """

    @extend_schema(parameters=[OpenApiParameter("role", str, required=False)], responses=MapNodesResponseSerializer)
    def get(self, request):
        params = NearbyQuerySerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        role = _role_param(params.validated_data.get("role"))
        nodes = nearby_users_list(request.user, role=role)
        if nodes is None:
            raise NotFound("Send a location first.", code="no_location")
        return Response(
            {"count": len(nodes), "results": nodes}
        )


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
