"""Thin REST views of walks; rules live in ``services``/``selectors`` (docs/walks.md)."""

from __future__ import annotations

from django.conf import settings
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.generics import ListAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from core.validation import validated

from . import events, selectors, services
from .serializers import (
    AvailabilitySerializer,
    SuggestionQuerySerializer,
    SuggestionsResponseSerializer,
    WalkDetailSerializer,
    WalkRequestSerializer,
    WalkSerializer,
)


class WalkRequestView(APIView):
    """``POST /api/walks/request`` ``{partner_id, meeting_point?: {lat, lng}, message?}`` (seed 001).

    201 the walk (``requested``). 400 bad input or yourself; 404
    ``not_available`` (unknown, blocked either way or not visible to you:
    one answer); 409 ``request_pending``; 429 past ``WALK_REQUEST_RATE``.
    """

    @extend_schema(request=WalkRequestSerializer, responses={201: WalkSerializer})
    def post(self, request):
        values = validated(WalkRequestSerializer, request.data)
        walk = services.walk_request(user=request.user, **values)
        return Response(events.walk_json(walk), status=201)


class _Transition(APIView):
    """``/api/walks/{id}/<action>``: 200 the walk; 403 ``not_your_turn``, 404, 409 ``invalid_transition``."""

    service = None

    def _do(self, request, walk_id):
        walk = type(self).service(user=request.user, walk_id=walk_id)
        return Response(events.walk_json(walk))


class WalkAcceptView(_Transition):
    """``PUT /api/walks/{id}/accept`` (POST too): the partner accepts a requested walk."""

    service = staticmethod(services.walk_accept)

    @extend_schema(request=None, responses=WalkSerializer)
    def put(self, request, walk_id):
        return self._do(request, walk_id)

    @extend_schema(request=None, responses=WalkSerializer)
    def post(self, request, walk_id):
        return self._do(request, walk_id)


class WalkDeclineView(WalkAcceptView):
    """``PUT /api/walks/{id}/decline`` (POST too): the partner declines a requested walk."""

    service = staticmethod(services.walk_decline)


class WalkStartView(_Transition):
    """``POST /api/walks/{id}/start``: either walker starts an accepted walk."""

    service = staticmethod(services.walk_start)

    @extend_schema(request=None, responses=WalkSerializer)
    def post(self, request, walk_id):
        return self._do(request, walk_id)


class WalkEndView(WalkStartView):
    """``POST /api/walks/{id}/end``: either walker ends a walk in progress (route and ``distance_m`` recorded)."""

    service = staticmethod(services.walk_end)


class WalkCancelView(WalkStartView):
    """``POST /api/walks/{id}/cancel``: the initiator of a request, or either walker of a live walk."""

    service = staticmethod(services.walk_cancel)


class WalkDetailView(APIView):
    """``GET /api/walks/{id}``: the walk with ``route`` and ``route_data``; 404 unless you are a walker."""

    @extend_schema(responses=WalkDetailSerializer)
    def get(self, request, walk_id):
        return Response(events.walk_json(selectors.walk_get_for(request.user, walk_id), detail=True))


class WalkHistoryView(ListAPIView):
    """``GET /api/walks/history?page=``: my walks (either side), newest first, with ``distance_m`` and ``duration_s``.

    Page-number pagination ``{count, next, previous, results}``, 20 a page.
    """

    serializer_class = WalkSerializer

    def get_queryset(self):
        return selectors.walk_history(self.request.user)

    def list(self, request, *args, **kwargs):
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response([events.walk_json(w) for w in page])


class WalkSuggestionsView(APIView):
    """``GET /api/walks/{id}/suggestions?radius_m=&category=&query=``: OSM places for the walk (seed 001).

    Around the recorded route when there is one, else the meeting point,
    else the caller's latest fix; ``radius_m`` default
    ``WALK_SUGGESTION_RADIUS_M`` (500), at most ``WALK_SUGGESTION_MAX_RADIUS_M``;
    ``category`` comma-separated ``key=value`` or ``key``. At most 50 places,
    nearest first. 404 unless you are a walker; 404 ``no_location`` when
    there is nothing to search around.
    """

    @extend_schema(
        parameters=[
            OpenApiParameter("radius_m", float, required=False, description="metres"),
            OpenApiParameter("category", str, required=False),
            OpenApiParameter("query", str, required=False),
        ],
        responses=SuggestionsResponseSerializer,
    )
    def get(self, request, walk_id):
        from geo.models import LocationFix

        walk = selectors.walk_get_for(request.user, walk_id)
        values = validated(SuggestionQuerySerializer, request.query_params)
        categories = [c.strip() for c in (values.get("category") or "").split(",") if c.strip()] or None
        fix = LocationFix.objects.filter(user_id=request.user.pk).only("location").first()
        basis, places = selectors.walk_suggestions(
            walk,
            origin=fix.location if fix else None,
            radius_m=values.get("radius_m") or settings.WALK_SUGGESTION_RADIUS_M,
            categories=categories,
            query=values.get("query", ""),
        )
        results = [
            {
                "id": p.pk,
                "name": p.name,
                "category": p.category,
                "address": p.address,
                "lat": round(p.location.y, 7),
                "lng": round(p.location.x, 7),
                "distance_m": round(p.distance.m, 1),
            }
            for p in places
        ]
        return Response({"basis": basis, "count": len(results), "results": results})


class WalkAvailabilityView(APIView):
    """``GET/PUT /api/walks/availability`` ``{available}``: do you appear in ``/api/users/nearby?available=true``."""

    @extend_schema(responses=AvailabilitySerializer)
    def get(self, request):
        return Response({"available": selectors.walk_available_get(request.user)})

    @extend_schema(request=AvailabilitySerializer, responses=AvailabilitySerializer)
    def put(self, request):
        values = validated(AvailabilitySerializer, request.data)
        return Response({"available": services.walk_available_set(user=request.user, available=values["available"])})
