"""Every write of messaging: conversations, memberships, messages, read marks, reports.

Called by the REST views, the socket handlers and (for room chats) by the
apps that own a room (events, parties, meetups, walks). Events are published
after commit (``realtime.publish.publish``); a membership that ends evicts
the user's sockets from ``conversation.<id>`` (``realtime.rooms.room_evict``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from accounts.models import User
from core.errors import Conflict, Forbidden, InvalidInput, NotFound
from core.ratelimit import rate_limit_hit
from realtime.publish import publish, user_group
from realtime.rooms import room_evict

from . import events
from .images import image_sanitize
from .models import Conversation, ConversationKind, ConversationMember, MemberRole, Message, MessageReport
from .selectors import (
    block_between,
    conversation_members_blocking,
    direct_conversation_get,
    direct_key_for,
    member_ids_active,
    membership_get,
    message_get_for_member,
)

logger = logging.getLogger(__name__)

ROOM = "conversation"
#: Kinds created for an owning object through :func:`conversation_create_for`.
ROOM_KINDS = (
    ConversationKind.GROUP,
    ConversationKind.EVENT,
    ConversationKind.PARTY,
    ConversationKind.MEETUP,
    ConversationKind.WALK,
)


def _blocked() -> Forbidden:
    return Forbidden("Messaging between these users is not possible.", code="blocked")


# --- delivery -----------------------------------------------------------------------


def conversation_fanout(conversation: Conversation, event: str, data: dict, *, author_id) -> None:
    """Publish ``event`` of ``conversation`` after commit, hidden from members in a block with ``author_id``.

    Direct: to both members' ``user.<id>`` groups (a DM reaches every socket
    of both users, joined or not, and is replayed by the user cursor). Room
    kinds: once to ``conversation.<id>``; when a member has a block with the
    author, to the ``user.<id>`` group of every other member instead, so the
    blocker's sockets never receive it (docs/messaging.md, "Delivery").
    """
    if conversation.kind == ConversationKind.DIRECT:
        for user_id in member_ids_active(conversation.pk):
            publish(user_group(user_id), event, data)
        return
    hidden = conversation_members_blocking(conversation.pk, author_id)
    if not hidden:
        publish(f"{ROOM}.{conversation.pk}", event, data)
        return
    for user_id in member_ids_active(conversation.pk):
        if user_id not in hidden:
            publish(user_group(user_id), event, data)


# --- conversations and members --------------------------------------------------------


def conversation_get_or_create_direct(*, user: User, other_id) -> Conversation:
    """The one direct conversation of ``user`` and ``other_id``, created on first use (both as members).

    Raises ``NotFound`` (404) for an unknown or inactive ``other_id``,
    ``InvalidInput`` (400) for oneself, ``Forbidden`` 403 ``blocked`` when
    either blocked the other. Safe under concurrency: the unique
    ``direct_key`` makes parallel first messages share one conversation.
    """
    other = User.objects.filter(pk=other_id, is_active=True).first() if _is_uuid(other_id) else None
    if other is None:
        raise NotFound("No such user.")
    if other.pk == user.pk:
        raise InvalidInput("You cannot message yourself.", fields={"receiver_id": ["Not yourself."]})
    if block_between(user.pk, other.pk):
        raise _blocked()
    key = direct_key_for(user.pk, other.pk)
    conversation = Conversation.objects.filter(direct_key=key).first()
    if conversation is None:
        try:
            with transaction.atomic():
                conversation = Conversation.objects.create(kind=ConversationKind.DIRECT, direct_key=key)
                ConversationMember.objects.bulk_create(
                    [
                        ConversationMember(conversation=conversation, user_id=user.pk, role=MemberRole.MEMBER),
                        ConversationMember(conversation=conversation, user_id=other.pk, role=MemberRole.MEMBER),
                    ]
                )
        except IntegrityError:
            conversation = Conversation.objects.get(direct_key=key)
    return conversation


def _is_uuid(value) -> bool:
    import uuid

    try:
        uuid.UUID(str(value))
    except (TypeError, ValueError, AttributeError):
        return False
    return True


def conversation_create_for(
    *, owner_kind: str, owner_id, member_ids: Iterable, kind: str, owner_user_id=None, title: str = ""
) -> Conversation:
    """The room conversation of an owning object (an event, a party, ...), created once, with ``member_ids`` added.

    ``kind``: ``group``, ``event``, ``party``, ``meetup`` or ``walk``;
    ``(owner_kind, owner_id)`` identify the owner (``owner_kind`` may be ``""``
    for a free-standing group, which then always creates a new conversation);
    ``owner_user_id`` gets the role ``owner``. Idempotent per owner: calling
    it again adds the missing members. Raises ``InvalidInput`` for a bad kind.
    """
    if kind not in ROOM_KINDS:
        raise InvalidInput("Not a room conversation kind.", fields={"kind": [f"One of {list(ROOM_KINDS)}."]})
    owner_id = "" if owner_id is None else str(owner_id)
    with transaction.atomic():
        conversation = None
        if owner_kind:
            conversation = Conversation.objects.filter(owner_kind=owner_kind, owner_id=owner_id).first()
        if conversation is None:
            try:
                with transaction.atomic():
                    conversation = Conversation.objects.create(
                        kind=kind, owner_kind=owner_kind, owner_id=owner_id, title=title[:150]
                    )
            except IntegrityError:
                conversation = Conversation.objects.get(owner_kind=owner_kind, owner_id=owner_id)
        ids = list(dict.fromkeys([*([owner_user_id] if owner_user_id else []), *member_ids]))
        for user_id in ids:
            role = MemberRole.OWNER if owner_user_id and str(user_id) == str(owner_user_id) else MemberRole.MEMBER
            conversation_member_add(conversation=conversation, user_id=user_id, role=role)
    return conversation


def conversation_for_owner(owner_kind: str, owner_id) -> Conversation | None:
    """The room conversation of an owning object, or ``None`` (e.g. seed 004's ``eventId``)."""
    if not owner_kind:
        return None
    return Conversation.objects.filter(owner_kind=owner_kind, owner_id=str(owner_id)).first()


def conversation_member_add(
    *, conversation: Conversation, user_id, role: str = MemberRole.MEMBER
) -> ConversationMember:
    """Make ``user_id`` an active member (a former member is re-activated; their read mark is kept).

    Raises ``InvalidInput`` for a direct conversation (its pair is fixed).
    """
    if conversation.kind == ConversationKind.DIRECT:
        raise InvalidInput("A direct conversation has exactly its two members.")
    member, created = ConversationMember.objects.get_or_create(
        conversation=conversation, user_id=user_id, defaults={"role": role}
    )
    if not created and (member.left_at is not None or member.role != role):
        member.left_at = None
        member.role = role
        member.save(update_fields=["left_at", "role"])
    return member


def conversation_member_remove(*, conversation: Conversation, user_id, reason: str = "removed") -> bool:
    """End ``user_id``'s membership (``left_at`` = now) and evict their sockets from ``conversation.<id>``.

    ``reason`` (``removed``, ``left``, ``cancelled``, ...) is sent in
    ``room:left``. Returns whether a membership ended. Raises
    ``InvalidInput`` for a direct conversation.
    """
    if conversation.kind == ConversationKind.DIRECT:
        raise InvalidInput("Members of a direct conversation cannot be removed; block the user instead.")
    with transaction.atomic():
        ended = ConversationMember.objects.filter(
            conversation=conversation, user_id=user_id, left_at__isnull=True
        ).update(left_at=timezone.now())
        if ended:
            room_evict(user_id, ROOM, conversation.pk, reason=reason)
    return bool(ended)


def conversation_block_evict(*, blocker_id, blocked_id) -> None:
    """A block was made: evict both users from their direct conversation's room (reason ``blocked``)."""
    conversation = direct_conversation_get(blocker_id, blocked_id)
    if conversation is None:
        return
    with transaction.atomic():
        for user_id in (blocker_id, blocked_id):
            room_evict(user_id, ROOM, conversation.pk, reason="blocked")


# --- messages -----------------------------------------------------------------------


@dataclass(frozen=True)
class SendResult:
    """``message``: the stored message; ``created``: false when a retry found the earlier one."""

    message: Message
    created: bool


def _resolve_conversation(sender: User, conversation_id, receiver_id) -> Conversation:
    if conversation_id is not None:
        conversation = membership_get(sender, conversation_id).conversation
        if conversation.kind == ConversationKind.DIRECT:
            from .selectors import direct_other_id

            # The same answer as receiver_id for an inactive user: nothing reaches a deactivated account.
            if not User.objects.filter(pk=direct_other_id(conversation, sender.pk), is_active=True).exists():
                raise NotFound("No such user.")
        return conversation
    if receiver_id is None:
        raise InvalidInput("Give receiver_id or conversation_id.", fields={"receiver_id": ["Required."]})
    return conversation_get_or_create_direct(user=sender, other_id=receiver_id)


def message_send(
    *,
    sender: User,
    body: str = "",
    conversation_id: int | None = None,
    receiver_id=None,
    image=None,
    client_msg_id: str = "",
) -> SendResult:
    """Store a message and publish ``message:new``; a DM also notifies its receiver.

    The conversation is ``conversation_id`` (the sender must be an active
    member) or the direct one with ``receiver_id`` (created on first use).
    ``body``: at most ``MESSAGE_MAX_CHARS`` characters, stripped; ``image``:
    an uploaded file, re-encoded without metadata; one of the two is
    required. ``client_msg_id`` (<= 64 characters) makes retries idempotent:
    a second send with the same id in the same conversation returns the first
    message with ``created=False`` and publishes nothing, even when the
    retries race (unique constraint). Counts against ``MESSAGE_SEND_RATE``
    (retries do not). Errors: 400 ``invalid``, 404 ``not_found`` (unknown
    conversation or user, non-member), 403 ``blocked``, 429 ``rate_limited``.
    """
    body = (body or "").strip()
    client_msg_id = (client_msg_id or "").strip()
    if len(body) > settings.MESSAGE_MAX_CHARS:
        raise InvalidInput(
            f"Messages are limited to {settings.MESSAGE_MAX_CHARS} characters.",
            fields={"message": [f"At most {settings.MESSAGE_MAX_CHARS} characters."]},
        )
    if len(client_msg_id) > settings.MESSAGE_CLIENT_ID_MAX_CHARS:
        raise InvalidInput("client_msg_id is too long.", fields={"client_msg_id": ["At most 64 characters."]})
    if not body and image is None:
        raise InvalidInput("A message needs text or an image.", fields={"message": ["Required."]})
    conversation = _resolve_conversation(sender, conversation_id, receiver_id)
    if client_msg_id:
        existing = _message_by_client_id(conversation, sender, client_msg_id)
        if existing is not None:
            return SendResult(existing, False)
    rate_limit_hit("message_send", str(sender.pk), settings.MESSAGE_SEND_RATE)
    clean_image = image_sanitize(image) if image is not None else None
    try:
        with transaction.atomic():
            message = Message(conversation=conversation, sender=sender, body=body, client_msg_id=client_msg_id)
            if clean_image is not None:
                message.image.save(clean_image.name, clean_image, save=False)
            message.save()
            Conversation.objects.filter(pk=conversation.pk).update(last_message_at=message.created_at)
            message.conversation = conversation
            conversation_fanout(conversation, "message:new", events.message_new(message), author_id=sender.pk)
            if conversation.kind == ConversationKind.DIRECT:
                _direct_notify(conversation, message, sender)
    except IntegrityError:
        if message.image:
            message.image.delete(save=False)
        existing = _message_by_client_id(conversation, sender, client_msg_id) if client_msg_id else None
        if existing is None:
            raise
        return SendResult(existing, False)
    return SendResult(message, True)


def _message_by_client_id(conversation, sender, client_msg_id) -> Message | None:
    return (
        Message.objects.select_related("conversation", "sender")
        .filter(conversation=conversation, sender=sender, client_msg_id=client_msg_id)
        .first()
    )


def _direct_notify(conversation: Conversation, message: Message, sender: User) -> None:
    """Notify the receiver of a DM (push only when none of their sockets is connected)."""
    from notifications.services import notification_send

    from .selectors import direct_other_id

    receiver = User.objects.filter(pk=direct_other_id(conversation, sender.pk), is_active=True).first()
    if receiver is None:
        return
    name = sender.full_name or sender.username
    preview = message.body[:140] if message.body else "sent you an image"
    notification_send(
        user=receiver,
        type="message",
        content=f"{name}: {preview}",
        related_kind="message",
        related_id=message.pk,
        data={"conversation_id": conversation.pk, "message_id": message.pk, "sender_id": str(sender.pk)},
        push_only_if_offline=True,
    )


def _own_message(user: User, message_id) -> Message:
    message, _ = message_get_for_member(user, message_id, lock=True)
    if message.sender_id != user.pk:
        raise Forbidden("You can only change your own messages.", code="not_your_message")
    if message.deleted_at is not None:
        raise Conflict("The message was deleted.", code="message_deleted")
    return message


def message_edit(*, user: User, message_id, body: str) -> Message:
    """Replace the body of the caller's own message; sets ``edited_at`` and publishes ``message:edited``.

    ``body``: 1..``MESSAGE_MAX_CHARS`` characters (an image-only message may
    not get an empty body either). Errors: 404 (unknown, non-member), 403
    ``not_your_message``, 409 ``message_deleted``, 400 ``invalid``.
    """
    body = (body or "").strip()
    if not body or len(body) > settings.MESSAGE_MAX_CHARS:
        raise InvalidInput(
            f"A message is 1 to {settings.MESSAGE_MAX_CHARS} characters.",
            fields={"message": [f"1 to {settings.MESSAGE_MAX_CHARS} characters."]},
        )
    with transaction.atomic():
        message = _own_message(user, message_id)
        message.body = body
        message.edited_at = timezone.now()
        message.save(update_fields=["body", "edited_at"])
        conversation_fanout(message.conversation, "message:edited", events.message_edited(message), author_id=user.pk)
    return message


def message_delete(*, user: User, message_id) -> Message:
    """Delete the caller's own message: a tombstone stays (``deleted_at`` set, body and image cleared).

    Publishes ``message:deleted``. Errors: 404, 403 ``not_your_message``,
    409 ``message_deleted`` (already deleted).
    """
    with transaction.atomic():
        message = _own_message(user, message_id)
        image = message.image.name if message.image else ""
        message.body = ""
        message.image = ""
        message.deleted_at = timezone.now()
        message.save(update_fields=["body", "image", "deleted_at"])
        conversation_fanout(message.conversation, "message:deleted", events.message_deleted(message), author_id=user.pk)
        if image:
            storage = message.image.storage
            transaction.on_commit(lambda: storage.delete(image))
    return message


def message_read(*, user: User, message_id) -> dict:
    """Mark every message up to ``message_id`` read in its conversation (never moves the mark back).

    Publishes ``message:read`` to the other members when the mark moved.
    Returns ``{"conversation_id", "last_read_message_id", "unread_count"}``.
    Errors: 404 (unknown message, non-member), 403 ``blocked``.
    """
    message, member = message_get_for_member(user, message_id)
    with transaction.atomic():
        moved = (
            ConversationMember.objects.filter(pk=member.pk)
            .filter(Q(last_read_message_id__isnull=True) | Q(last_read_message_id__lt=message.pk))
            .update(last_read_message_id=message.pk)
        )
        if moved:
            data = events.message_read(message.conversation_id, user.pk, message.pk, timezone.now())
            conversation_fanout(message.conversation, "message:read", data, author_id=user.pk)
    member.refresh_from_db(fields=["last_read_message_id"])
    from .selectors import conversation_list

    row = conversation_list(user).filter(pk=member.pk).first()
    return {
        "conversation_id": message.conversation_id,
        "last_read_message_id": member.last_read_message_id,
        "unread_count": row.unread_count if row is not None else 0,
    }


def message_report(*, user: User, message_id, reason: str) -> MessageReport:
    """Report a message of a conversation the caller is in, for staff (admin). One report per message and user.

    ``reason``: 1..500 characters. Errors: 404 (unknown, non-member), 400
    (own message, bad reason), 409 ``already_reported``, 429 past
    ``MESSAGE_REPORT_RATE``.
    """
    reason = (reason or "").strip()
    if not reason or len(reason) > 500:
        raise InvalidInput("A reason of 1 to 500 characters.", fields={"reason": ["1 to 500 characters."]})
    message, _ = message_get_for_member(user, message_id)
    if message.sender_id == user.pk:
        raise InvalidInput("You cannot report your own message.", fields={"message_id": ["Your own message."]})
    rate_limit_hit("message_report", str(user.pk), settings.MESSAGE_REPORT_RATE)
    try:
        with transaction.atomic():
            return MessageReport.objects.create(message=message, reporter=user, reason=reason)
    except IntegrityError:
        raise Conflict("You already reported this message.", code="already_reported") from None


def message_report_resolve(*, report: MessageReport) -> MessageReport:
    """Staff: mark a report resolved (admin action)."""
    report.resolved = True
    report.resolved_at = timezone.now()
    report.save(update_fields=["resolved", "resolved_at"])
    return report
