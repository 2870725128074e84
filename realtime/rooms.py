"""Rooms: private groups a socket joins only through a permission check, and leaves at once when removed.

A room kind is declared once by its app (in ``realtime.py`` or
``AppConfig.ready()``)::

    room_kind("party", can_join=party_can_join, state=party_state_get)

* ``can_join(user, key) -> bool`` (sync; runs in a thread): ``False`` for a
  stranger or a removed member. It may raise ``core.errors.NotFound`` for a
  key that does not exist. Both are answered with an ``error`` frame
  (``forbidden`` / ``not_found``); a socket is never silently joined.
* ``state(user, key) -> dict | None`` (optional, sync): the room's current
  state, sent as ``room:state`` right after the join.

The group of a room is ``<kind>.<key>`` (``party.<id>``, ``meetup.<id>``,
``event.<id>``, ``conversation.<id>``, ``walk.<id>``). :func:`join` checks,
joins, replays the durable events the socket missed (when it reconnected
with a cursor naming this group) and sends the state. When a membership
ends, the service that ended it calls :func:`room_evict` in the same
transaction: after commit every socket of that user leaves the group
(``room.evict`` on ``user.<id>``) and receives ``room:left``; nothing
published to the room after that commit reaches them (Redis delivers one
process' publishes in order, and the consumer drops room frames for groups
it is not in).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from core.errors import Forbidden, InvalidInput, NotFound

from .publish import channel_message_send, run_sync, user_group

_KEY_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
#: Rooms one socket may be in at once.
MAX_ROOMS_PER_SOCKET = 50


@dataclass(frozen=True)
class RoomKind:
    """A kind of room: its name, permission check and optional state builder."""

    kind: str
    can_join: Callable[[object, str], bool]
    state: Callable[[object, str], dict | None] | None = None

    def group(self, key: str) -> str:
        """The channel-layer group of room ``key``."""
        return f"{self.kind}.{key}"


#: kind -> RoomKind
ROOM_KINDS: dict[str, RoomKind] = {}


def room_kind(kind: str, *, can_join, state=None) -> RoomKind:
    """Declare room kind ``kind`` (lower-case letters); raises ``RuntimeError`` if declared twice."""
    if not re.fullmatch(r"[a-z]{1,32}", kind) or kind == "user" or kind == "cell":
        raise ValueError(f"bad room kind {kind!r}")
    if kind in ROOM_KINDS:
        raise RuntimeError(f"room kind {kind!r} declared twice")
    ROOM_KINDS[kind] = RoomKind(kind=kind, can_join=can_join, state=state)
    return ROOM_KINDS[kind]


def room_group(kind: str, key) -> str:
    """Group name of room ``kind``/``key`` (``"party.<id>"``)."""
    return f"{kind}.{key}"


def _kind_and_key(kind, key) -> tuple[RoomKind, str]:
    if not isinstance(kind, str) or kind not in ROOM_KINDS:
        raise InvalidInput(
            "Unknown room kind.", code="unknown_room_kind", fields={"kind": [f"One of {sorted(ROOM_KINDS)}."]}
        )
    if isinstance(key, bool) or not isinstance(key, (str, int)) or not _KEY_RE.match(str(key)):
        raise InvalidInput("Bad room key.", fields={"key": ["A room id."]})
    return ROOM_KINDS[kind], str(key)


def _check(room: RoomKind, user, key: str):
    """Sync: permission, then the state (one thread hop). Raises Forbidden / NotFound."""
    if not user.is_active or not room.can_join(user, key):
        raise Forbidden("You are not a member of this room.", code="forbidden")
    return room.state(user, key) if room.state else None


async def join(consumer, kind, key) -> dict:
    """Join room ``kind``/``key`` on ``consumer``'s socket after the permission check.

    Returns ``{"kind", "key", "group", "cursor"}`` (the socket's cursor, now
    covering this room). Sends, in order: the missed durable
    events (when the socket's cursor names this group), ``sync:done`` for it,
    then ``room:state`` when the kind provides state. Raises ``InvalidInput``
    (400) for an unknown kind or bad key, ``Forbidden`` (403 ``forbidden``)
    for a non-member, ``NotFound`` (404) for an unknown room, ``Conflict``
    (409 ``too_many_rooms``) past ``MAX_ROOMS_PER_SOCKET``.
    """
    from core.errors import Conflict

    room, key = _kind_and_key(kind, key)
    group = room.group(key)
    if group not in consumer.rooms and len(consumer.rooms) >= MAX_ROOMS_PER_SOCKET:
        raise Conflict(f"A socket may be in at most {MAX_ROOMS_PER_SOCKET} rooms.", code="too_many_rooms")
    state = await run_sync(_check)(room, consumer.user, key)
    if group not in consumer.rooms:
        await consumer.channel_layer.group_add(group, consumer.channel_name)
        consumer.rooms[group] = (room.kind, key)
        await consumer.stream_attach(group)
    if state is not None:
        await consumer.send_event("room:state", {"kind": room.kind, "key": key, "state": state})
    return {"kind": room.kind, "key": key, "group": group, "cursor": consumer.cursor()}


async def leave(consumer, kind, key, *, reason: str = "left") -> bool:
    """Leave room ``kind``/``key`` on this socket; returns whether it was joined. Raises ``InvalidInput``."""
    room, key = _kind_and_key(kind, key)
    return await leave_group(consumer, room.group(key), reason=reason, notify=False)


async def leave_group(consumer, group: str, *, reason: str, notify: bool) -> bool:
    """Leave ``group`` if joined; with ``notify``, send ``room:left`` ``{kind, key, reason}``."""
    joined = consumer.rooms.pop(group, None)
    if joined is None:
        return False
    await consumer.channel_layer.group_discard(group, consumer.channel_name)
    consumer.stream_detach(group)
    if notify:
        await consumer.send_event("room:left", {"kind": joined[0], "key": joined[1], "reason": reason})
    return True


def room_evict(user_id, kind: str, key, *, reason: str = "removed") -> None:
    """After commit, make every socket of ``user_id`` leave room ``kind``/``key`` (any process).

    Call it in the transaction that ends the membership (left, kicked,
    blocked, cancelled, disbanded). ``reason`` is sent to the client in
    ``room:left``. Raises ``NotFound`` for an undeclared kind.
    """
    if kind not in ROOM_KINDS:
        raise NotFound(f"Unknown room kind {kind!r}.")
    channel_message_send(user_group(user_id), {"type": "room.evict", "group": room_group(kind, key), "reason": reason})


def room_close(kind: str, key, member_ids, *, reason: str) -> None:
    """Evict every member in ``member_ids`` from room ``kind``/``key`` after commit (room cancelled/disbanded)."""
    for user_id in member_ids:
        room_evict(user_id, kind, key, reason=reason)
