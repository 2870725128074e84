"""Server-to-client events of the platform itself: answers, sync, rooms, presence.

One payload builder per event, registered in the catalog (``realtime.catalog``).
"""

from __future__ import annotations

from .catalog import server_event


@server_event("ack", fields={"...": "the handler's answer"}, groups=("socket",), durable=False)
def ack(data: dict) -> dict:
    """Success answer to a client frame that carried an ``id`` (echoed on the frame)."""
    return data


@server_event(
    "error",
    fields={"code": "str", "message": "str", "fields": "object (optional)", "retry_after": "float s (optional)"},
    groups=("socket",),
    durable=False,
)
def error(code: str, message: str, fields: dict | None = None) -> dict:
    """Failure answer (the one error shape); carries the frame's ``id`` when it had one."""
    body = {"code": code, "message": message}
    if fields:
        body["fields"] = fields
    return body


@server_event("sync:done", fields={"groups": "list[str]", "cursor": "str"}, groups=("socket",), durable=False)
def sync_done(groups: list[str], cursor: str) -> dict:
    """Every durable event missed in ``groups`` since the client's cursor was sent (in order, once)."""
    return {"groups": groups, "cursor": cursor}


@server_event("sync:reset", fields={"groups": "list[str]", "cursor": "str"}, groups=("socket",), durable=False)
def sync_reset(groups: list[str], cursor: str) -> dict:
    """Events of ``groups`` may be lost (cursor past the retention, or Redis lost its data): refetch over REST."""
    return {"groups": groups, "cursor": cursor}


@server_event("room:state", fields={"kind": "str", "key": "str", "state": "object"}, groups=("socket",), durable=False)
def room_state(kind: str, key: str, state: dict) -> dict:
    """The room's current state, sent right after a successful ``room:join`` (when the kind provides one)."""
    return {"kind": kind, "key": key, "state": state}


@server_event("room:left", fields={"kind": "str", "key": "str", "reason": "str"}, groups=("user.<id>",), durable=False)
def room_left(kind: str, key: str, reason: str) -> dict:
    """This socket was removed from a room (``removed``, ``blocked``, ``cancelled``, ``disbanded``, ...)."""
    return {"kind": kind, "key": key, "reason": reason}


@server_event(
    "presence:update",
    fields={
        "user_id": "uuid",
        "status": "online | away | offline",
        "last_seen": "ISO 8601 UTC, rounded down to the minute, or null",
    },
    groups=("<room kind>.<id>",),
    durable=False,
    seed_names=("presence_update",),
)
def presence_update(user_id, status: str, last_seen: str | None) -> dict:
    """A user's presence changed (first socket connected, last one closed, ``presence:online``/``offline``)."""
    return {"user_id": str(user_id), "status": status, "last_seen": last_seen}
