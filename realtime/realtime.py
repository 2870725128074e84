"""The platform's own client events: ``room:join``, ``room:leave``, ``sync``, ``presence:online|offline``."""

from __future__ import annotations

from core.errors import InvalidInput

from . import events, presence, rooms, stream
from .publish import publish_now, run_sync
from .registry import handler, on_connect, on_disconnect


def _presence_publish(consumer, status_doc: dict) -> None:
    """Send ``presence:update`` to the rooms this socket is in (the user's own sockets are not told)."""
    data = events.presence_update(status_doc["user_id"], status_doc["status"], status_doc["last_seen"])
    for group in consumer.rooms:
        publish_now(group, "presence:update", data)


@on_connect
async def presence_connected(consumer) -> None:
    """The user's first socket: ``presence:update`` online."""
    if consumer._first_socket:
        doc = await run_sync(presence.presence_get)(consumer.user.pk)
        await run_sync(_presence_publish)(consumer, doc)


@on_disconnect
async def presence_disconnected(consumer) -> None:
    """Tell this socket's rooms when the user's last socket closes (``offline``)."""
    remaining = await run_sync(presence.presence_leave)(consumer.user.pk, consumer.channel_name)
    if remaining == 0:
        doc = await run_sync(presence.presence_get)(consumer.user.pk)
        await run_sync(_presence_publish)(consumer, doc)


@handler("room:join")
async def room_join(consumer, data):
    """Join room ``{kind, key}`` through its permission check; ack ``{"kind", "key", "group"}``.

    Errors: ``unknown_room_kind``/``invalid`` (400), ``forbidden`` (403),
    ``not_found`` (404), ``too_many_rooms`` (409). See ``realtime.rooms.join``.
    """
    return await rooms.join(consumer, data.get("kind"), data.get("key"))


@handler("room:leave")
async def room_leave(consumer, data):
    """Leave room ``{kind, key}``; ack ``{"left": bool}`` (``false`` when it was not joined)."""
    return {"left": await rooms.leave(consumer, data.get("kind"), data.get("key"))}


@handler("sync")
async def sync(consumer, data):
    """Replay what this socket missed since ``{cursor}`` (user group and joined rooms), then ``sync:done``.

    Rooms named by the cursor but not joined yet are replayed when they are
    joined. ``invalid_cursor`` (400) for a cursor this server did not issue.
    Ack ``{"cursor"}`` (the socket's cursor after the replay).
    """
    cursor = data.get("cursor")
    try:
        await consumer.sync_from(cursor)
    except stream.CursorInvalid:
        raise InvalidInput("Not a cursor issued by this server.", code="invalid_cursor") from None
    return {"cursor": consumer.cursor()}


async def _availability(consumer, away: bool) -> dict:
    await run_sync(presence.presence_away_set)(consumer.user.pk, away)
    doc = await run_sync(presence.presence_get)(consumer.user.pk)
    await run_sync(_presence_publish)(consumer, doc)
    return {"status": doc["status"]}


@handler("presence:online", "presence_online")
async def presence_online(consumer, data):
    """Seed 001 ``presence:online``: available again; ack ``{"status": "online"}``; sends ``presence:update``."""
    return await _availability(consumer, away=False)


@handler("presence:offline", "presence_offline")
async def presence_offline(consumer, data):
    """Seed 001 ``presence:offline``: connected but not available (``away``); ack ``{"status": "away"}``."""
    return await _availability(consumer, away=True)
