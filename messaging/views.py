"""Thin REST views of messaging; rules live in ``services`` and ``selectors`` (docs/messaging.md)."""

from __future__ import annotations

from django.conf import settings
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.generics import ListAPIView
from rest_framework.pagination import CursorPagination
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from core.errors import InvalidInput, NotFound
from core.parsers import SafeJSONParser
from core.validation import validated

from . import selectors, services
from .events import message_data
from .models import Message
from .serializers import (
    ConversationOutSerializer,
    HistoryQuerySerializer,
    MessageEditSerializer,
    MessageOutSerializer,
    MessagePageSerializer,
    MessageReportSerializer,
    MessageSendSerializer,
    ReadResultSerializer,
    ReportOutSerializer,
)


class MessageCursorPagination(CursorPagination):
    """Newest first by id; ``?cursor=`` from ``next``/``previous``; ``?limit=`` up to ``MESSAGE_PAGE_MAX``."""

    ordering = "-id"
    page_size_query_param = "limit"

    def get_page_size(self, request):
        self.page_size = settings.MESSAGE_PAGE_SIZE
        self.max_page_size = settings.MESSAGE_PAGE_MAX
        raw = request.query_params.get(self.page_size_query_param)
        if raw is not None:
            try:
                value = int(raw)
            except ValueError:
                value = 0
            if not 1 <= value <= self.max_page_size:
                raise InvalidInput("Bad limit.", fields={"limit": [f"1 to {self.max_page_size}."]})
        return super().get_page_size(request)


class _MessageListSerializer(MessageOutSerializer):
    def to_representation(self, instance):
        return message_data(instance)


class DirectHistoryView(ListAPIView):
    """``GET /api/messages/{user_id}`` (seed 001): the direct conversation with that user, newest first.

    Cursor pagination (``next``/``previous`` URLs, ``?limit=`` 1..100,
    default 50). Empty when the pair never wrote. 404 unknown user (any
    malformed id too), 400 yourself, 403 ``blocked`` when either blocked the
    other.
    """

    pagination_class = MessageCursorPagination
    serializer_class = _MessageListSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # drf-spectacular builds the schema without a request
            return Message.objects.none()
        other_id = self.kwargs["user_id"]
        if not services._is_uuid(other_id):
            raise NotFound("No such user.")
        from accounts.models import User

        other = User.objects.filter(pk=other_id, is_active=True).first()
        if other is None:
            raise NotFound("No such user.")
        if other.pk == self.request.user.pk:
            raise InvalidInput("No conversation with yourself.", fields={"user_id": ["Not yourself."]})
        if selectors.block_between(self.request.user.pk, other.pk):
            raise services._blocked()
        conversation = selectors.direct_conversation_get(self.request.user.pk, other.pk)
        if conversation is None:
            return Message.objects.none()
        return selectors.message_list(self.request.user, conversation)


class MessagesView(APIView):
    """``POST /api/messages`` (seed 001): send ``{receiver_id | conversation_id, message, client_msg_id?}``.

    JSON or multipart (``image``: JPEG/PNG/WebP up to
    ``MESSAGE_IMAGE_MAX_BYTES``, re-encoded without EXIF). 201 with the
    message; 200 with the same message for a retry with a known
    ``client_msg_id``. 400 bad input, 403 ``blocked``, 404 unknown
    receiver or conversation (non-members too), 429 past ``MESSAGE_SEND_RATE``.
    """

    parser_classes = [SafeJSONParser, MultiPartParser, FormParser]

    @extend_schema(request=MessageSendSerializer, responses={201: MessageOutSerializer, 200: MessageOutSerializer})
    def post(self, request):
        values = validated(MessageSendSerializer, request.data)
        result = services.message_send(
            sender=request.user,
            body=values.get("message", ""),
            conversation_id=values.get("conversation_id"),
            receiver_id=values.get("receiver_id"),
            image=values.get("image"),
            client_msg_id=values.get("client_msg_id", ""),
        )
        return Response(message_data(result.message), status=201 if result.created else 200)


class MessageDetailView(APIView):
    """``PATCH /api/messages/{id}`` ``{message}`` edits, ``DELETE`` tombstones, the caller's own message.

    200 with the message. 404 unknown or not in the caller's conversations,
    403 ``not_your_message``, 409 ``message_deleted``, 400 bad body.
    """

    @extend_schema(request=MessageEditSerializer, responses=MessageOutSerializer)
    def patch(self, request, message_id):
        values = validated(MessageEditSerializer, request.data)
        message = services.message_edit(user=request.user, message_id=message_id, body=values["message"])
        return Response(message_data(message))

    @extend_schema(request=None, responses=MessageOutSerializer)
    def delete(self, request, message_id):
        message = services.message_delete(user=request.user, message_id=message_id)
        return Response(message_data(message))


class MessageReadView(APIView):
    """``PUT /api/messages/{id}/read`` (seed 001): mark read up to this message (never backwards).

    200 ``{"conversation_id", "last_read_message_id", "unread_count"}``;
    404 unknown message or non-member; 403 ``blocked``. Sends
    ``message:read`` to the other members when the mark moved.
    """

    @extend_schema(request=None, responses=ReadResultSerializer)
    def put(self, request, message_id):
        return Response(services.message_read(user=request.user, message_id=message_id))

    @extend_schema(request=None, responses=ReadResultSerializer)
    def post(self, request, message_id):
        return self.put(request, message_id)


class MessageReportView(APIView):
    """``POST /api/messages/{id}/report`` ``{reason}``: 201 ``{id, message_id, reason, created_at}``.

    404 unknown or non-member, 400 own message or bad reason, 409
    ``already_reported``, 429 past ``MESSAGE_REPORT_RATE``.
    """

    @extend_schema(request=MessageReportSerializer, responses={201: ReportOutSerializer})
    def post(self, request, message_id):
        values = validated(MessageReportSerializer, request.data)
        report = services.message_report(user=request.user, message_id=message_id, reason=values["reason"])
        return Response(
            {
                "id": report.pk,
                "message_id": report.message_id,
                "reason": report.reason,
                "created_at": report.created_at.isoformat(),
            },
            status=201,
        )


class ConversationsView(ListAPIView):
    """``GET /api/conversations``: the caller's conversations, most recent activity first (page ``?page=``).

    Each: ``{id, kind, title, owner_kind, owner_id, other_user_id, role,
    last_message, last_message_at, last_read_message_id, unread_count}``;
    ``last_message`` and ``unread_count`` leave out messages hidden from the
    caller (blocks); direct conversations with a block are left out.
    """

    serializer_class = ConversationOutSerializer

    def get_queryset(self):
        return selectors.conversation_list(self.request.user)

    def list(self, request, *args, **kwargs):
        page = self.paginate_queryset(self.get_queryset())
        last_ids = [m.last_message_id for m in page if m.last_message_id]
        last = {m.pk: m for m in Message.objects.filter(pk__in=last_ids).select_related("sender", "conversation")}
        rows = []
        for member in page:
            conversation = member.conversation
            message = last.get(member.last_message_id)
            rows.append(
                {
                    "id": conversation.pk,
                    "kind": conversation.kind,
                    "title": conversation.title,
                    "owner_kind": conversation.owner_kind,
                    "owner_id": conversation.owner_id,
                    "other_user_id": selectors.direct_other_id(conversation, request.user.pk)
                    if conversation.kind == "direct"
                    else None,
                    "role": member.role,
                    "last_message": message_data(message) if message else None,
                    "last_message_at": conversation.last_message_at.isoformat()
                    if conversation.last_message_at
                    else None,
                    "last_read_message_id": member.last_read_message_id,
                    "unread_count": member.unread_count,
                }
            )
        return self.get_paginated_response(rows)


class ConversationMessagesView(APIView):
    """``GET /api/conversations/{id}/messages?before=&limit=``: newest first, ids below ``before``.

    200 ``{"results": [message], "next_before": id | null}`` (pass
    ``next_before`` as ``before`` for the next page). 404 unknown id or
    non-member (the same answer), 403 ``blocked``, 400 bad parameters.
    """

    @extend_schema(
        parameters=[
            OpenApiParameter("before", int, required=False, description="message id (exclusive)"),
            OpenApiParameter("limit", int, required=False, description="1..100, default 50"),
        ],
        responses=MessagePageSerializer,
    )
    def get(self, request, conversation_id):
        params = validated(HistoryQuerySerializer, request.query_params)
        member = selectors.membership_get(request.user, conversation_id)
        limit = params.get("limit") or settings.MESSAGE_PAGE_SIZE
        rows = list(selectors.message_list(request.user, member.conversation, before=params.get("before"))[: limit + 1])
        more = len(rows) > limit
        rows = rows[:limit]
        return Response(
            {"results": [message_data(m) for m in rows], "next_before": rows[-1].pk if (more and rows) else None}
        )
