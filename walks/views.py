"""Thin REST views of walks; rules live in ``services``/``selectors`` (docs/walks.md)."""

from __future__ import annotations

from django.conf import settings
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.generics import ListAPIView
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework.views import APIView

from core.validation import validated

from . import events, introductions, meet, proximity, selectors, services
from .serializers import (
    AvailabilitySerializer,
    IntroductionCreateSerializer,
    IntroductionListQuerySerializer,
    IntroductionSerializer,
    MeetNowCreateSerializer,
    MeetNowListQuerySerializer,
    MeetNowSerializer,
    MeetupSerializer,
    ProximityCreateSerializer,
    ProximitySerializer,
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


# --- meet-now and meetups ------------------------------------------------------------------------


class MeetNowView(APIView):
    """``POST /api/meet_now`` ``{target_user_id, message?}``; ``GET /api/meet_now?direction=incoming|outgoing``.

    POST: 201 the request (``pending``); 400; 404 ``not_available`` (unknown,
    blocked either way or not visible: one answer); 409 ``request_pending``;
    429 past ``MEET_NOW_RATE``. GET: mine, newest first, paginated
    (``{count, next, previous, results}``); a pending one past its time reads
    ``expired``.
    """

    @extend_schema(request=MeetNowCreateSerializer, responses={201: MeetNowSerializer})
    def post(self, request):
        values = validated(MeetNowCreateSerializer, request.data)
        item = meet.meet_now_create(user=request.user, **values)
        return Response(events.meet_json(item), status=201)

    @extend_schema(
        parameters=[OpenApiParameter("direction", str, required=False, enum=["incoming", "outgoing"])],
        responses=MeetNowSerializer(many=True),
    )
    def get(self, request):
        values = validated(MeetNowListQuerySerializer, request.query_params)
        paginator = PageNumberPagination()
        page = paginator.paginate_queryset(meet.meet_list(request.user, values.get("direction")), request, view=self)
        return paginator.get_paginated_response([events.meet_json(i) for i in page])


class _MeetTransition(APIView):
    """``POST /api/meet_now/{id}/<action>``: 200 the request; 403 ``not_your_turn``; 404; 409 ``invalid_transition``."""

    service = None

    @extend_schema(request=None, responses=MeetNowSerializer)
    def post(self, request, meet_id):
        item = type(self).service(user=request.user, meet_id=meet_id)
        return Response(events.meet_json(item))


class MeetNowAcceptView(_MeetTransition):
    """``POST /api/meet_now/{id}/accept``: the target accepts; a meetup is created (``meetup_id``)."""

    service = staticmethod(meet.meet_now_accept)


class MeetNowDeclineView(_MeetTransition):
    """``POST /api/meet_now/{id}/decline``: the target declines."""

    service = staticmethod(meet.meet_now_decline)


class MeetNowCancelView(_MeetTransition):
    """``POST /api/meet_now/{id}/cancel``: the requester withdraws."""

    service = staticmethod(meet.meet_now_cancel)


class MeetupListView(APIView):
    """``GET /api/meetups``: my upcoming and active meetups (planned/active, not left), soonest first."""

    @extend_schema(responses=MeetupSerializer(many=True))
    def get(self, request):
        return Response([meet.meetup_out(m) for m in meet.meetup_list(request.user)[:100]])


class MeetupDetailView(APIView):
    """``GET /api/meetups/{id}``: 404 unless you are or were a participant."""

    @extend_schema(responses=MeetupSerializer)
    def get(self, request, meetup_id):
        return Response(meet.meetup_out(meet.meetup_get_for(request.user, meetup_id)))


class _MeetupTransition(APIView):
    """``POST /api/meetups/{id}/<action>``: 200 the meetup; 403 ``not_your_turn``; 404; 409 ``invalid_transition``."""

    service = None

    @extend_schema(request=None, responses=MeetupSerializer)
    def post(self, request, meetup_id):
        return Response(meet.meetup_out(type(self).service(user=request.user, meetup_id=meetup_id)))


class MeetupEndView(_MeetupTransition):
    """``POST /api/meetups/{id}/end``: any current participant."""

    service = staticmethod(meet.meetup_end)


class MeetupCancelView(_MeetupTransition):
    """``POST /api/meetups/{id}/cancel``: the organizer."""

    service = staticmethod(meet.meetup_cancel)


class MeetupLeaveView(_MeetupTransition):
    """``POST /api/meetups/{id}/leave``: leave the room and the chat; the last participant leaving ends it."""

    service = staticmethod(meet.meetup_leave)


# --- introductions --------------------------------------------------------------------------------


class IntroductionRequestView(APIView):
    """``POST /api/request_introduction`` ``{target_user_id, via_user_id, message?}``.

    201 the introduction (``pending``); 400 (two of the three the same);
    404 ``not_available`` (unknown, blocked, or the via user not a contact of
    both: one answer); 409 ``request_pending``; 429 past ``INTRODUCTION_RATE``.
    """

    @extend_schema(request=IntroductionCreateSerializer, responses={201: IntroductionSerializer})
    def post(self, request):
        values = validated(IntroductionCreateSerializer, request.data)
        item = introductions.introduction_request(user=request.user, **values)
        return Response(events.introduction_json(item, viewer_id=request.user.pk), status=201)


class IntroductionListView(APIView):
    """``GET /api/introductions?role=requester|via|target``: mine, newest first, paginated (20 a page)."""

    @extend_schema(
        parameters=[OpenApiParameter("role", str, required=False, enum=["requester", "via", "target"])],
        responses=IntroductionSerializer(many=True),
    )
    def get(self, request):
        values = validated(IntroductionListQuerySerializer, request.query_params)
        paginator = PageNumberPagination()
        qs = introductions.introduction_list(request.user, values.get("role"))
        page = paginator.paginate_queryset(qs, request, view=self)
        return paginator.get_paginated_response([events.introduction_json(i, viewer_id=request.user.pk) for i in page])


class _IntroductionTransition(APIView):
    """``POST /api/introductions/{id}/<action>``: 200 the introduction; 403 ``not_your_turn``; 404; 409."""

    service = None

    @extend_schema(request=None, responses=IntroductionSerializer)
    def post(self, request, intro_id):
        item = type(self).service(user=request.user, intro_id=intro_id)
        return Response(events.introduction_json(item, viewer_id=request.user.pk))


class IntroductionForwardView(_IntroductionTransition):
    """``POST /api/introductions/{id}/forward``: the via user passes it on to the target."""

    service = staticmethod(introductions.introduction_forward)


class IntroductionDeclineView(_IntroductionTransition):
    """``POST /api/introductions/{id}/decline``: the via user (pending) or the target (forwarded)."""

    service = staticmethod(introductions.introduction_decline)


class IntroductionAcceptView(_IntroductionTransition):
    """``POST /api/introductions/{id}/accept``: the target; opens the direct conversation with the requester."""

    service = staticmethod(introductions.introduction_accept)


# --- proximity alerts -----------------------------------------------------------------------------


class ProximityAlertsView(APIView):
    """``POST /api/proximity_alerts`` ``{user_id, distance_m}``; ``GET /api/proximity_alerts`` (pending and active).

    POST: 201 the alert (``pending``); 400; 404 ``not_available``; 409
    ``alert_exists``; 429 past ``PROXIMITY_ALERT_RATE``.
    """

    @extend_schema(request=ProximityCreateSerializer, responses={201: ProximitySerializer})
    def post(self, request):
        values = validated(ProximityCreateSerializer, request.data)
        return Response(events.proximity_json(proximity.proximity_create(user=request.user, **values)), status=201)

    @extend_schema(responses=ProximitySerializer(many=True))
    def get(self, request):
        return Response([events.proximity_json(a) for a in proximity.proximity_list(request.user)[:200]])


class ProximityAlertView(APIView):
    """``DELETE /api/proximity_alerts/{id}``: either person revokes; 200 the alert; 404; 409 when already revoked."""

    @extend_schema(request=None, responses=ProximitySerializer)
    def delete(self, request, alert_id):
        return Response(events.proximity_json(proximity.proximity_revoke(user=request.user, alert_id=alert_id)))


class ProximityAcceptView(APIView):
    """``POST /api/proximity_alerts/{id}/accept``: the other person consents; 403 ``not_your_turn``; 404; 409."""

    @extend_schema(request=None, responses=ProximitySerializer)
    def post(self, request, alert_id):
        return Response(events.proximity_json(proximity.proximity_accept(user=request.user, alert_id=alert_id)))
