"""Input parsing and output shapes of messaging (REST; the socket reuses the same services)."""

from __future__ import annotations

from django.conf import settings
from rest_framework import serializers


class MessageSendSerializer(serializers.Serializer):
    """``POST /api/messages``: ``{receiver_id | conversation_id, message, client_msg_id?}`` (+ ``image`` multipart)."""

    receiver_id = serializers.UUIDField(required=False, help_text="Direct message to this user (seed 001).")
    conversation_id = serializers.IntegerField(required=False, min_value=1)
    message = serializers.CharField(
        required=False, allow_blank=True, trim_whitespace=True, help_text="Text, at most MESSAGE_MAX_CHARS (4000)."
    )
    client_msg_id = serializers.CharField(
        required=False, allow_blank=True, max_length=64, help_text="Idempotency key chosen by the client."
    )
    image = serializers.FileField(required=False, help_text="JPEG, PNG or WebP; re-encoded, metadata stripped.")

    def validate_message(self, value):
        if len(value) > settings.MESSAGE_MAX_CHARS:
            raise serializers.ValidationError(f"At most {settings.MESSAGE_MAX_CHARS} characters.")
        return value

    def validate(self, attrs):
        if (attrs.get("receiver_id") is None) == (attrs.get("conversation_id") is None):
            raise serializers.ValidationError({"receiver_id": ["Give exactly one of receiver_id or conversation_id."]})
        if not attrs.get("message") and not attrs.get("image"):
            raise serializers.ValidationError({"message": ["A message needs text or an image."]})
        return attrs


class MessageEditSerializer(serializers.Serializer):
    """``PATCH /api/messages/{id}``: ``{message}`` (1..MESSAGE_MAX_CHARS characters)."""

    message = serializers.CharField(trim_whitespace=True)

    def validate_message(self, value):
        if len(value) > settings.MESSAGE_MAX_CHARS:
            raise serializers.ValidationError(f"At most {settings.MESSAGE_MAX_CHARS} characters.")
        return value


class MessageReportSerializer(serializers.Serializer):
    """``POST /api/messages/{id}/report``: ``{reason}`` (1..500 characters)."""

    reason = serializers.CharField(max_length=500, trim_whitespace=True)


class HistoryQuerySerializer(serializers.Serializer):
    """``?before=<message id>&limit=`` (1..MESSAGE_PAGE_MAX, default MESSAGE_PAGE_SIZE)."""

    before = serializers.IntegerField(required=False, min_value=1)
    limit = serializers.IntegerField(required=False, min_value=1)

    def validate_limit(self, value):
        if value > settings.MESSAGE_PAGE_MAX:
            raise serializers.ValidationError(f"At most {settings.MESSAGE_PAGE_MAX}.")
        return value


class MessageOutSerializer(serializers.Serializer):
    """A message (``messaging.events.message_data``), for the OpenAPI schema."""

    id = serializers.IntegerField()
    conversation_id = serializers.IntegerField()
    conversation_kind = serializers.CharField()
    sender_id = serializers.UUIDField()
    sender_name = serializers.CharField()
    body = serializers.CharField()
    image_url = serializers.CharField(allow_null=True)
    client_msg_id = serializers.CharField(allow_null=True)
    created_at = serializers.DateTimeField()
    edited_at = serializers.DateTimeField(allow_null=True)
    deleted_at = serializers.DateTimeField(allow_null=True)


class MessagePageSerializer(serializers.Serializer):
    """``{"results": [message], "next_before": id | null}`` (newest first)."""

    results = MessageOutSerializer(many=True)
    next_before = serializers.IntegerField(allow_null=True)


class ReadResultSerializer(serializers.Serializer):
    """``PUT /api/messages/{id}/read`` answer."""

    conversation_id = serializers.IntegerField()
    last_read_message_id = serializers.IntegerField()
    unread_count = serializers.IntegerField()


class ConversationOutSerializer(serializers.Serializer):
    """One inbox row."""

    id = serializers.IntegerField()
    kind = serializers.CharField()
    title = serializers.CharField()
    owner_kind = serializers.CharField()
    owner_id = serializers.CharField()
    other_user_id = serializers.UUIDField(allow_null=True, help_text="Direct only: the other member.")
    role = serializers.CharField()
    last_message = MessageOutSerializer(allow_null=True)
    last_message_at = serializers.DateTimeField(allow_null=True)
    last_read_message_id = serializers.IntegerField(allow_null=True)
    unread_count = serializers.IntegerField()


class ReportOutSerializer(serializers.Serializer):
    """A stored report."""

    id = serializers.IntegerField()
    message_id = serializers.IntegerField()
    reason = serializers.CharField()
    created_at = serializers.DateTimeField()
