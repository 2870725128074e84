"""Thin REST views of geo; rules live in ``services``/``selectors``."""

from __future__ import annotations

from django.db import connection
from django.http import HttpResponse
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.selectors import roles_validate
from core.errors import NotFound

from . import services
from .ingest import thread_fix_batcher_get
from .selectors import map_nodes_json, nearby_filter_apply, nearby_users_list, viewer_context_get
from .serializers import (
    AreaQuerySerializer,
    LocationFixInputSerializer,
    LocationFixResultSerializer,
    MapNodesResponseSerializer,
    NearbyQuerySerializer,
    location_fix_parse,
)


class LocationView(APIView):
    """``POST /api/location`` (seed 000) and ``PUT /api/users/location`` (seed 001).

    Body ``{lat, lng, timestamp?, accuracy_m?, speed_mps?, heading_deg?}``
    (WGS84 degrees; ISO 8601 or epoch ms; metres; m/s; degrees). 200
    ``{"stored", "status", "recorded_at", "received_at"}`` once the fix is
    committed (written together with the other requests' fixes of the
    moment: one statement per batch); 400 bad input, 429 over
    ``THROTTLE_LOCATION``.
    """

    @extend_schema(request=LocationFixInputSerializer, responses=LocationFixResultSerializer)
    def post(self, request):
        fix = location_fix_parse(request.data)
        if connection.in_atomic_block:  # a caller's transaction: never commit other requests' fixes inside it
            return Response(services.location_record(user=request.user, fix=fix).as_dict())
        # Group commit with the other requests of this process (geo.ingest.ThreadFixBatcher).
        return Response(thread_fix_batcher_get().record(request.user.pk, fix).as_dict())

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
        count, items = map_nodes_json(viewer, lat=v["lat"], lng=v["lng"], radius_m=radius, role=role)
        # PostgreSQL wrote the items' JSON (geo.selectors.map_nodes_json); only the envelope is added here.
        return HttpResponse(f'{{"count":{count},"results":{items}}}', content_type="application/json")


class NearbyUsersView(APIView):
    """``GET /api/users/nearby?role=&available=`` (seed 001): map nodes around the caller's own latest fix.

    Uses the caller's ``search_radius_m``, age range and gender preference.
    ``available=true`` keeps only users available for a walk whose
    preferences match the caller's both ways (the walks app's filter,
    docs/walks.md). 404 ``no_location`` until the caller has sent a fix.
    """

    @extend_schema(
        parameters=[
            OpenApiParameter("role", str, required=False),
            OpenApiParameter("available", bool, required=False, description="only available walking buddies"),
        ],
        responses=MapNodesResponseSerializer,
    )
    def get(self, request):
        params = NearbyQuerySerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        role = _role_param(params.validated_data.get("role"))
        nodes = nearby_users_list(request.user, role=role)
        if nodes is None:
            raise NotFound("Send a location first.", code="no_location")
        if params.validated_data.get("available"):
            nodes = nearby_filter_apply("available", request.user, nodes)
        return Response({"count": len(nodes), "results": nodes})
