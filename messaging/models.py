"""Conversations and messages: one model for every chat (direct, group, event, party, meetup, walk).

* :class:`Conversation`: ``kind`` plus, for room kinds, the owning object as
  ``(owner_kind, owner_id)`` (an event, a party, ...); a direct conversation
  has ``direct_key``, the canonical ``"<smaller uuid>:<larger uuid>"`` of its
  pair, unique, so a pair has exactly one.
* :class:`ConversationMember`: one row per (conversation, user); a member who
  leaves or is removed keeps the row with ``left_at`` set (history stays
  attributable; rejoining clears it).
* :class:`Message`: ``body`` (<= ``MESSAGE_MAX_CHARS``), optional re-encoded
  ``image``, ``client_msg_id`` unique per (conversation, sender) when set,
  ``edited_at``, ``deleted_at`` (tombstone: body and image cleared).
* :class:`MessageReport`: a member's report, for staff in the admin.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q


class ConversationKind(models.TextChoices):
    DIRECT = "direct", "direct"
    GROUP = "group", "group"
    EVENT = "event", "event"
    PARTY = "party", "party"
    MEETUP = "meetup", "meetup"
    WALK = "walk", "walk"


class MemberRole(models.TextChoices):
    OWNER = "owner", "owner"
    MEMBER = "member", "member"


class Conversation(models.Model):
    """A chat. ``last_message_at`` orders the inbox (``created_at`` until the first message)."""

    kind = models.CharField(max_length=16, choices=ConversationKind.choices)
    #: Room kinds: the owning object's kind (``"event"``, ``"party"``, ...) and id (its primary key as text).
    owner_kind = models.CharField(max_length=32, blank=True, default="")
    owner_id = models.CharField(max_length=64, blank=True, default="")
    #: Direct only: ``"<smaller uuid>:<larger uuid>"`` of the pair.
    direct_key = models.CharField(max_length=80, null=True, blank=True, unique=True)
    title = models.CharField(max_length=150, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    last_message_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["owner_kind", "owner_id"],
                condition=~Q(owner_kind=""),
                name="messaging_conversation_unique_owner",
            ),
            models.CheckConstraint(
                condition=Q(kind="direct", direct_key__isnull=False) | (~Q(kind="direct") & Q(direct_key__isnull=True)),
                name="messaging_conversation_direct_key",
            ),
        ]
        indexes = [models.Index(fields=["-last_message_at"], name="messaging_conv_activity")]

    def __str__(self):
        return f"{self.kind} conversation {self.pk}"


class ConversationMember(models.Model):
    """``user`` in ``conversation``; ``left_at`` set when the membership ended (left, removed)."""

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="members")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="conversation_memberships"
    )
    role = models.CharField(max_length=16, choices=MemberRole.choices, default=MemberRole.MEMBER)
    joined_at = models.DateTimeField(auto_now_add=True)
    #: The newest message this member has read (messages with a larger id are unread).
    last_read_message_id = models.BigIntegerField(null=True, blank=True)
    left_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["conversation", "user"], name="messaging_member_unique"),
        ]
        indexes = [models.Index(fields=["user", "left_at"], name="messaging_member_user")]

    def __str__(self):
        return f"{self.user_id} in {self.conversation_id}"


def message_image_path(instance, filename: str) -> str:
    """``messages/<yyyy>/<mm>/<random uuid>.<ext>``: unguessable, never the client's file name."""
    from django.utils import timezone

    ext = filename.rsplit(".", 1)[-1].lower() if "." in filename else "jpg"
    now = timezone.now()
    return f"messages/{now:%Y}/{now:%m}/{uuid.uuid4().hex}.{ext}"


class Message(models.Model):
    """One message. Ids grow with time (the order of a conversation and the read cursor)."""

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="messages")
    sender = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="messages_sent")
    body = models.TextField(blank=True, default="")
    image = models.ImageField(upload_to=message_image_path, blank=True, default="")
    client_msg_id = models.CharField(max_length=64, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    edited_at = models.DateTimeField(null=True, blank=True)
    deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["conversation", "sender", "client_msg_id"],
                condition=~Q(client_msg_id=""),
                name="messaging_message_client_id_unique",
            ),
        ]
        indexes = [models.Index(fields=["conversation", "-id"], name="messaging_msg_conv_id")]

    def __str__(self):
        return f"message {self.pk} in {self.conversation_id}"


class MessageReport(models.Model):
    """A member reported a message; staff resolve it in the admin."""

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="reports")
    reporter = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="message_reports")
    reason = models.CharField(max_length=500)
    created_at = models.DateTimeField(auto_now_add=True)
    resolved = models.BooleanField(default=False)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["message", "reporter"], name="messaging_report_once"),
        ]
        ordering = ["resolved", "-created_at"]

    def __str__(self):
        return f"report of message {self.message_id} by {self.reporter_id}"
