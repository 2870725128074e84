"""Reads of messaging, with the rules in one place.

Rules (docs/messaging.md, "Rules"):

1. Only active members (``left_at`` null) read a conversation; anyone else,
   and any id that does not exist, gets 404 ``not_found`` (ids are not probed).
2. A direct conversation whose pair has a block, either way, is refused with
   403 ``blocked`` (who blocked whom is never said) and is left out of the
   inbox.
3. In room conversations, messages of a user in a block with the viewer
   (either way) are hidden from the viewer.
"""

from __future__ import annotations

from django.db.models import Count, IntegerField, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce

from accounts.models import Block
from accounts.selectors import block_blocked_ids
from core.errors import Forbidden, NotFound

from .models import Conversation, ConversationKind, ConversationMember, Message


def direct_key_for(user_a_id, user_b_id) -> str:
    """The canonical key of the pair: ``"<smaller uuid>:<larger uuid>"`` (as text)."""
    a, b = sorted((str(user_a_id), str(user_b_id)))
    return f"{a}:{b}"


def block_between(user_a_id, user_b_id) -> bool:
    """Whether either of the two blocked the other."""
    return Block.objects.filter(
        Q(blocker_id=user_a_id, blocked_id=user_b_id) | Q(blocker_id=user_b_id, blocked_id=user_a_id)
    ).exists()


def _blocked_refusal() -> Forbidden:
    return Forbidden("Messaging between these users is not possible.", code="blocked")


def membership_get(user, conversation_id, *, lock: bool = False) -> ConversationMember:
    """The caller's active membership of ``conversation_id`` (with the conversation loaded).

    Raises ``NotFound`` (404) for a bad or unknown id or a non-member (rule 1),
    ``Forbidden`` 403 ``blocked`` for a direct conversation with a block (rule 2).
    """
    try:
        conversation_id = int(conversation_id)
    except (TypeError, ValueError):
        raise NotFound("No such conversation.") from None
    qs = ConversationMember.objects.select_related("conversation")
    if lock:
        qs = qs.select_for_update(of=("self",))
    member = qs.filter(conversation_id=conversation_id, user_id=user.pk, left_at__isnull=True).first()
    if member is None:
        raise NotFound("No such conversation.")
    conversation = member.conversation
    if conversation.kind == ConversationKind.DIRECT:
        other = direct_other_id(conversation, user.pk)
        if other is not None and block_between(user.pk, other):
            raise _blocked_refusal()
    return member


def direct_other_id(conversation: Conversation, user_id):
    """The other member's id (as text) of a direct conversation, from its key."""
    a, _, b = (conversation.direct_key or "").partition(":")
    return b if a == str(user_id) else a


def direct_conversation_get(user_a_id, user_b_id) -> Conversation | None:
    """The direct conversation of the pair, or ``None``."""
    return Conversation.objects.filter(direct_key=direct_key_for(user_a_id, user_b_id)).first()


def member_ids_active(conversation_id) -> list:
    """User ids (UUIDs) of the active members."""
    return list(
        ConversationMember.objects.filter(conversation_id=conversation_id, left_at__isnull=True).values_list(
            "user_id", flat=True
        )
    )


def message_get_for_member(user, message_id, *, lock: bool = False) -> tuple[Message, ConversationMember]:
    """A message of a conversation the caller is an active member of, and the membership.

    Raises ``NotFound`` for a bad or unknown id, a non-member, or a message
    hidden from the caller (rule 3); ``Forbidden`` ``blocked`` (rule 2).
    """
    try:
        message_id = int(message_id)
    except (TypeError, ValueError):
        raise NotFound("No such message.") from None
    qs = Message.objects.select_related("conversation", "sender")
    if lock:
        qs = qs.select_for_update(of=("self",))
    message = qs.filter(pk=message_id).first()
    if message is None:
        raise NotFound("No such message.")
    try:
        member = membership_get(user, message.conversation_id)
    except NotFound:
        raise NotFound("No such message.") from None
    if message.conversation.kind != ConversationKind.DIRECT and message.sender_id != user.pk:
        if message.sender_id in block_blocked_ids(user.pk):
            raise NotFound("No such message.")
    return message, member


def message_list(viewer, conversation: Conversation, *, before: int | None = None) -> QuerySet[Message]:
    """Messages of ``conversation`` visible to ``viewer``, newest first (ids below ``before`` when given).

    The caller has checked membership (:func:`membership_get`). Tombstones
    are included (body cleared when serialized); rule 3 applies.
    """
    qs = Message.objects.filter(conversation=conversation).select_related("sender", "conversation")
    if conversation.kind != ConversationKind.DIRECT:
        blocked = block_blocked_ids(viewer.pk)
        if blocked:
            qs = qs.exclude(sender_id__in=blocked)
    if before is not None:
        qs = qs.filter(pk__lt=before)
    return qs.order_by("-id")


def conversation_list(user) -> QuerySet[ConversationMember]:
    """The caller's active memberships, most recent activity first, each annotated with

    ``last_message_id`` (newest visible message) and ``unread_count``
    (visible messages of others, not deleted, with an id above
    ``last_read_message_id``). Direct conversations with a block are left out.
    """
    blocked = list(block_blocked_ids(user.pk))
    visible = Message.objects.filter(conversation_id=OuterRef("conversation_id"))
    if blocked:
        visible = visible.exclude(sender_id__in=blocked)
    last_id = visible.order_by("-id").values("id")[:1]
    unread = (
        visible.filter(deleted_at__isnull=True, id__gt=Coalesce(OuterRef("last_read_message_id"), Value(0)))
        .exclude(sender_id=user.pk)
        .order_by()
        .values("conversation_id")
        .annotate(n=Count("id"))
        .values("n")
    )
    qs = ConversationMember.objects.filter(user_id=user.pk, left_at__isnull=True).select_related("conversation")
    if blocked:
        blocked_keys = [direct_key_for(user.pk, other) for other in blocked]
        qs = qs.exclude(conversation__direct_key__in=blocked_keys)
    return qs.annotate(
        last_message_id=Subquery(last_id, output_field=IntegerField()),
        unread_count=Coalesce(Subquery(unread, output_field=IntegerField()), Value(0)),
    ).order_by(Coalesce("conversation__last_message_at", "conversation__created_at").desc(), "-conversation_id")


def conversation_members_blocking(conversation_id, author_id) -> set:
    """Active members of ``conversation_id`` in a block (either way) with ``author_id``."""
    blocked = block_blocked_ids(author_id)
    if not blocked:
        return set()
    return set(
        ConversationMember.objects.filter(
            conversation_id=conversation_id, left_at__isnull=True, user_id__in=blocked
        ).values_list("user_id", flat=True)
    )


def direct_contact_ids(user_id) -> set:
    """Users who exchanged direct messages with ``user_id`` (each sent at least one): the contact provider.

    Both ways by construction; a stranger who only sent a message does not
    become a contact (docs/privacy.md, clause 8).
    """
    mine = Message.objects.filter(sender_id=user_id, conversation__kind=ConversationKind.DIRECT).values(
        "conversation_id"
    )
    return set(
        Message.objects.filter(conversation_id__in=mine)
        .exclude(sender_id=user_id)
        .values_list("sender_id", flat=True)
        .distinct()
    )
