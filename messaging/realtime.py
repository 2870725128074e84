"""Socket side of messaging: the ``conversation`` room kind, ``message:send`` and ``typing``.

* Room ``conversation.<id>``: joined with ``room:join {"kind": "conversation",
  "key": "<id>"}`` by active members only (anyone else: ``not_found``, the
  same answer as an unknown id; a direct conversation with a block:
  ``blocked``); ``room:state`` lists the members and their read marks.
* ``message:send`` (aliases ``send_message``): the same service as
  ``POST /api/messages``; acked with the stored message.
* ``typing`` (seed 004; also ``typing:start`` / ``typing:stop``): relayed as
  ``user:typing`` to the other sockets in the room, filtered per receiving
  socket (blocks), never stored; the server sends ``is_typing: false``
  ``MESSAGE_TYPING_TTL_S`` (5 s) after the last ``typing`` of that socket.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field

from django.conf import settings
from rest_framework import serializers

from accounts.selectors import block_blocked_ids
from core.errors import Conflict, InvalidInput, NotFound
from core.ratelimit import rate_limit_hit
from core.validation import validated
from realtime.publish import channel_message_send, run_sync
from realtime.registry import handler, on_disconnect, on_message
from realtime.rooms import room_kind

from . import events, services
from .models import ConversationMember
from .selectors import membership_get

logger = logging.getLogger(__name__)

#: Seconds a receiving socket trusts its cached block list (invalidated at once by ``messaging.blocks``).
BLOCK_CACHE_S = 60.0
TYPING_MESSAGE = "messaging.typing"
BLOCKS_MESSAGE = "messaging.blocks"


# --- room kind ------------------------------------------------------------------------


def conversation_can_join(user, key: str) -> bool:
    """Active members only; anyone else gets ``NotFound`` (ids are not probed), a blocked pair ``blocked``."""
    membership_get(user, key)
    return True


def conversation_state(user, key: str) -> dict:
    """``{"conversation_id", "kind", "members": [{"user_id", "role", "last_read_message_id"}]}``.

    The read mark of a member in a block with the viewer (either way) is
    ``null``, as their ``message:read`` events are hidden from the viewer.
    """
    member = membership_get(user, key)
    rows = ConversationMember.objects.filter(conversation_id=member.conversation_id, left_at__isnull=True).values(
        "user_id", "role", "last_read_message_id"
    )
    blocked = block_blocked_ids(user.pk)
    return {
        "conversation_id": member.conversation_id,
        "kind": member.conversation.kind,
        "members": [
            {
                **r,
                "user_id": str(r["user_id"]),
                "last_read_message_id": None if r["user_id"] in blocked else r["last_read_message_id"],
            }
            for r in rows
        ],
    }


room_kind("conversation", can_join=conversation_can_join, state=conversation_state)


# --- per-socket state -------------------------------------------------------------------


@dataclass
class MessagingSocketState:
    """``consumer.state["messaging"]``: typing expiry timers (conversation id -> task) and the block cache."""

    typing_timers: dict[int, asyncio.Task] = field(default_factory=dict)
    blocked: frozenset = frozenset()
    blocked_at: float = -1e9


def _state(consumer) -> MessagingSocketState:
    state = consumer.state.get("messaging")
    if state is None:
        state = consumer.state["messaging"] = MessagingSocketState()
    return state


# --- message:send -----------------------------------------------------------------------


class SocketSendSerializer(serializers.Serializer):
    """``message:send`` data after alias mapping (seed 001 ``message``, seed 004 ``content``/``eventId``)."""

    conversation_id = serializers.IntegerField(required=False, min_value=1)
    receiver_id = serializers.UUIDField(required=False)
    event_id = serializers.CharField(required=False, max_length=64)
    body = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False, max_length=100_000)
    client_msg_id = serializers.CharField(required=False, allow_blank=True, max_length=64)

    def validate(self, attrs):
        given = [k for k in ("conversation_id", "receiver_id", "event_id") if attrs.get(k) is not None]
        if len(given) != 1:
            raise serializers.ValidationError(
                {"conversation_id": ["Give exactly one of conversation_id, receiver_id or eventId."]}
            )
        return attrs


_ALIASES = {
    "conversationId": "conversation_id",
    "receiverId": "receiver_id",
    "eventId": "event_id",
    "message": "body",
    "content": "body",
    "text": "body",
    "clientMsgId": "client_msg_id",
}


def _map_send(data: dict) -> dict:
    out = {}
    for name, value in data.items():
        target = _ALIASES.get(name, name)
        if target in out and name != target:
            continue  # canonical name wins
        out[target] = value
    if out.get("imageUrl") or out.get("image_url") or out.get("image"):
        raise InvalidInput(
            "Images are sent with POST /api/messages (multipart); the socket carries text.",
            fields={"imageUrl": ["Upload the image over REST."]},
        )
    return out


def _send_sync(user, values: dict) -> dict:
    conversation_id = values.get("conversation_id")
    if values.get("event_id") is not None:
        conversation = services.conversation_for_owner("event", values["event_id"])
        if conversation is None:
            raise NotFound("No such conversation.")
        conversation_id = conversation.pk
    result = services.message_send(
        sender=user,
        body=values.get("body", ""),
        conversation_id=conversation_id,
        receiver_id=values.get("receiver_id"),
        client_msg_id=values.get("client_msg_id", ""),
    )
    data = events.message_data(result.message)
    data["created"] = result.created
    return data


@handler("message:send", "send_message")
async def message_send(consumer, data):
    """Send a message ``{conversation_id | receiver_id | eventId, body | message | content, client_msg_id?}``.

    Same rules and errors as ``POST /api/messages`` (400, 403 ``blocked``,
    404, 429). Ack: the stored message plus ``created`` (false for a retry
    with a known ``client_msg_id``). ``eventId`` (seed 004) names the chat of
    an event (the conversation whose owner is that event).
    """
    # Validation runs in the worker thread with the service, off the event loop (one hop).
    return await run_sync(_validate_and_send)(consumer.user, data)


def _validate_and_send(user, data: dict) -> dict:
    return _send_sync(user, validated(SocketSendSerializer, _map_send(data)))


# --- typing ------------------------------------------------------------------------------


class TypingSerializer(serializers.Serializer):
    """``typing`` data: ``conversation_id`` (or ``conversationId``/``eventId``) and ``is_typing`` (default true)."""

    conversation_id = serializers.IntegerField(required=False, min_value=1)
    event_id = serializers.CharField(required=False, max_length=64)
    is_typing = serializers.BooleanField(required=False, default=True)

    def validate(self, attrs):
        if (attrs.get("conversation_id") is None) == (attrs.get("event_id") is None):
            raise serializers.ValidationError({"conversation_id": ["Give conversation_id (or eventId)."]})
        return attrs


def _typing_prepare(user, values: dict) -> int:
    rate_limit_hit("message_typing", str(user.pk), settings.MESSAGE_TYPING_RATE)
    if values.get("event_id") is not None:
        conversation = services.conversation_for_owner("event", values["event_id"])
        if conversation is None:
            raise NotFound("No such conversation.")
        return conversation.pk
    return values["conversation_id"]


def _relay(consumer, conversation_id: int, is_typing: bool) -> None:
    user = consumer.user
    data = events.user_typing(conversation_id, user.pk, user.full_name or user.username, is_typing)
    channel_message_send(
        f"{services.ROOM}.{conversation_id}",
        {
            "type": TYPING_MESSAGE,
            "group": f"{services.ROOM}.{conversation_id}",
            "sender_id": str(user.pk),
            "sender_channel": consumer.channel_name,
            "data": data,
        },
        after_commit=False,
    )


async def _typing_expire(consumer, conversation_id: int) -> None:
    try:
        await asyncio.sleep(settings.MESSAGE_TYPING_TTL_S)
    except asyncio.CancelledError:
        return
    _state(consumer).typing_timers.pop(conversation_id, None)
    try:
        await run_sync(_relay)(consumer, conversation_id, False)
    except Exception:
        logger.exception("typing expiry relay failed")


@handler("typing:start")
async def typing_start(consumer, data):
    """``typing:start {conversation_id}``: ``typing`` with ``is_typing: true``."""
    return await typing(consumer, {**data, "is_typing": True})


@handler("typing:stop")
async def typing_stop(consumer, data):
    """``typing:stop {conversation_id}``: ``typing`` with ``is_typing: false``."""
    return await typing(consumer, {**data, "is_typing": False})


@handler("typing")
async def typing(consumer, data):
    """``typing {conversation_id | eventId, is_typing | isTyping}``: tell the room; nothing is stored.

    The socket must have joined ``conversation.<id>`` (else 409
    ``room_not_joined``). At most ``MESSAGE_TYPING_RATE`` frames per user
    (429). ``is_typing: true`` expires after ``MESSAGE_TYPING_TTL_S``: the
    server then sends ``is_typing: false`` (a refresh restarts the timer).
    Ack ``{"conversation_id", "is_typing"}``.
    """
    mapped = {_ALIASES.get(k, k): v for k, v in data.items()}
    if "isTyping" in mapped and "is_typing" not in mapped:
        mapped["is_typing"] = mapped.pop("isTyping")
    values = validated(TypingSerializer, mapped)
    conversation_id = await run_sync(_typing_prepare)(consumer.user, values)
    if f"{services.ROOM}.{conversation_id}" not in consumer.rooms:
        raise Conflict("Join the conversation room first (room:join).", code="room_not_joined")
    state = _state(consumer)
    timer = state.typing_timers.pop(conversation_id, None)
    if timer is not None:
        timer.cancel()
    is_typing = bool(values["is_typing"])
    if is_typing:
        state.typing_timers[conversation_id] = asyncio.ensure_future(_typing_expire(consumer, conversation_id))
    await run_sync(_relay)(consumer, conversation_id, is_typing)
    return {"conversation_id": conversation_id, "is_typing": is_typing}


async def _blocked_ids(consumer) -> frozenset:
    state = _state(consumer)
    if time.monotonic() - state.blocked_at > BLOCK_CACHE_S:
        ids = await run_sync(block_blocked_ids)(consumer.user.pk)
        state.blocked = frozenset(str(i) for i in ids)
        state.blocked_at = time.monotonic()
    return state.blocked


@on_message(TYPING_MESSAGE)
async def typing_deliver(consumer, message):
    """Send ``user:typing`` unless this socket sent it, left the room, or has a block with the typist."""
    if message.get("group") not in consumer.rooms or message.get("sender_channel") == consumer.channel_name:
        return
    if message["sender_id"] == str(consumer.user.pk):
        return
    if message["sender_id"] in await _blocked_ids(consumer):
        return
    await consumer.send_event("user:typing", message["data"])


@on_message(BLOCKS_MESSAGE)
async def blocks_changed(consumer, message):
    """A block involving this user was made or removed: refetch the block list on next use."""
    _state(consumer).blocked_at = -1e9


@on_disconnect
async def typing_stop_all(consumer):
    """A closing socket that was typing tells its rooms ``is_typing: false`` at once."""
    state = consumer.state.get("messaging")
    if not state:
        return
    for conversation_id, timer in list(state.typing_timers.items()):
        timer.cancel()
        if f"{services.ROOM}.{conversation_id}" in consumer.rooms:
            await run_sync(_relay)(consumer, conversation_id, False)
    state.typing_timers.clear()
