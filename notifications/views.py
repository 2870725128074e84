"""Thin REST views of notifications and push devices; rules live in ``services``/``selectors``."""

from __future__ import annotations

from django.conf import settings
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework.views import APIView

from core.validation import validated

from . import selectors, services
from .serializers import (
    CountSerializer,
    DeviceRegisterSerializer,
    DeviceSerializer,
    MarkReadSerializer,
    NotificationListQuerySerializer,
    NotificationSerializer,
    PreferencesPatchSerializer,
    PreferencesSerializer,
    UpdatedSerializer,
)


class NotificationPagination(PageNumberPagination):
    """``?page=`` (1-based) and ``?limit=`` (default ``NOTIFICATION_PAGE_SIZE``, at most ``NOTIFICATION_PAGE_MAX``)."""

    page_size_query_param = "limit"

    def __init__(self):
        self.page_size = int(settings.NOTIFICATION_PAGE_SIZE)
        self.max_page_size = int(settings.NOTIFICATION_PAGE_MAX)


class NotificationListView(APIView):
    """``GET /api/notifications?unread=true&page=&limit=`` (seed 000): the caller's notifications, newest first.

    Paginated ``{"count", "next", "previous", "results": [notification]}``;
    a notification is ``{"id", "type", "content", "related_kind",
    "related_id", "data", "is_read", "created_at"}`` (the same object as the
    ``notification`` socket event). 400 for a bad ``unread``, 404 for a page
    past the end.
    """

    pagination_class = NotificationPagination

    @extend_schema(
        parameters=[
            OpenApiParameter("unread", bool, required=False),
            OpenApiParameter("page", int, required=False),
            OpenApiParameter("limit", int, required=False),
        ],
        responses=NotificationSerializer(many=True),
    )
    def get(self, request):
        params = validated(NotificationListQuerySerializer, request.query_params)
        qs = selectors.notification_list(user=request.user, unread=params.get("unread"))
        paginator = NotificationPagination()
        page = paginator.paginate_queryset(qs, request, view=self)
        return paginator.get_paginated_response(NotificationSerializer(page, many=True).data)


class UnreadCountView(APIView):
    """``GET /api/notifications/unread_count``: ``{"count"}`` of the caller's unread notifications."""

    @extend_schema(responses=CountSerializer)
    def get(self, request):
        return Response({"count": selectors.notification_unread_count(user=request.user)})


class MarkReadView(APIView):
    """``POST /api/notifications/mark_read`` ``{"notification_ids": [int, ...]}`` (seed 000).

    200 ``{"updated": n}``: how many of the caller's unread notifications were
    marked read. Ids of other users' notifications and unknown ids are
    ignored silently. 400 when ``notification_ids`` is missing, empty, not a
    list of positive integers or longer than ``NOTIFICATION_MARK_READ_MAX_IDS``.
    """

    @extend_schema(request=MarkReadSerializer, responses=UpdatedSerializer)
    def post(self, request):
        body = validated(MarkReadSerializer, request.data)
        n = services.notification_mark_read(user=request.user, notification_ids=body["notification_ids"])
        return Response({"updated": n})


class MarkAllReadView(APIView):
    """``POST /api/notifications/mark_all_read`` (no body): 200 ``{"updated": n}``."""

    @extend_schema(request=None, responses=UpdatedSerializer)
    def post(self, request):
        return Response({"updated": services.notification_mark_all_read(user=request.user)})


class PreferencesView(APIView):
    """``GET/PATCH /api/notifications/preferences``: notification part of the user's preferences.

    ``{"types": {type: {"in_app": bool, "push": bool}}, "quiet_hours":
    {"start": "HH:MM", "end": "HH:MM"} | null, "time_zone": IANA name}``.
    PATCH takes any subset (``types`` entries merge per flag; ``quiet_hours``
    replaces, ``null`` removes; start after end spans midnight) and answers
    the whole object. 400 for an unknown type or time zone, a malformed
    time, equal start and end, or an empty body.
    """

    @extend_schema(responses=PreferencesSerializer)
    def get(self, request):
        return Response(selectors.preferences_get(user=request.user))

    @extend_schema(request=PreferencesPatchSerializer, responses=PreferencesSerializer)
    def patch(self, request):
        body = validated(PreferencesPatchSerializer, request.data)
        services.preferences_update(
            user=request.user,
            types=body.get("types"),
            quiet_hours=body.get("quiet_hours"),
            quiet_hours_set="quiet_hours" in body,
            time_zone=body.get("time_zone"),
        )
        return Response(selectors.preferences_get(user=request.user))


class DeviceListView(APIView):
    """``GET /api/devices`` (the caller's devices) and ``POST /api/devices`` (register one).

    POST body: a Web Push subscription as ``PushSubscription.toJSON()`` gives
    it, ``{"endpoint": https URL, "keys": {"p256dh": base64url 65-byte
    uncompressed P-256 point, "auth": base64url 16 bytes}}``, or
    ``{"fcm_token": str}``. 201 with the device when new, 200 when the same
    endpoint/token was registered before (keys updated). 400 for bad input
    (http endpoint, wrong key sizes, both or neither kind), 429 past
    ``THROTTLE_DEVICE_REGISTER``.
    """

    @extend_schema(responses=DeviceSerializer(many=True))
    def get(self, request):
        return Response(DeviceSerializer(selectors.device_list(user=request.user), many=True).data)

    @extend_schema(request=DeviceRegisterSerializer, responses={201: DeviceSerializer, 200: DeviceSerializer})
    def post(self, request):
        body = validated(DeviceRegisterSerializer, request.data)
        device, created = services.device_register(user=request.user, **body)
        return Response(
            DeviceSerializer(device).data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK
        )


class DeviceDetailView(APIView):
    """``DELETE /api/devices/{id}``: 204; 404 for an unknown id or another user's device (never 403)."""

    @extend_schema(request=None, responses={204: None})
    def delete(self, request, device_id):
        services.device_delete(user=request.user, device_id=int(device_id))
        return Response(status=status.HTTP_204_NO_CONTENT)
