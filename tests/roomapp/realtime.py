"""The ``testroom`` room kind: members are a Redis set per key; removal evicts at once."""

from __future__ import annotations

from django.db import transaction

from core.errors import Forbidden, NotFound
from core.redis import get_redis, key
from realtime.publish import publish, run_sync
from realtime.registry import handler
from realtime.rooms import room_evict, room_kind

from . import events


def _members_key(room_key: str) -> str:
    return key("testroom", room_key)


def room_can_join(user, room_key: str) -> bool:
    """Members only; the key ``missing`` does not exist (404)."""
    if room_key == "missing":
        raise NotFound("No such room.")
    return bool(get_redis().sismember(_members_key(room_key), str(user.pk)))


def room_state_get(user, room_key: str) -> dict:
    """``{"members": count}``."""
    return {"members": get_redis().scard(_members_key(room_key))}


room_kind("testroom", can_join=room_can_join, state=room_state_get)


def member_add(room_key: str, user_id) -> None:
    """Make ``user_id`` a member."""
    get_redis().sadd(_members_key(room_key), str(user_id))


def member_remove(room_key: str, user_id) -> None:
    """End the membership and evict the user's sockets after commit."""
    with transaction.atomic():
        get_redis().srem(_members_key(room_key), str(user_id))
        room_evict(user_id, "testroom", room_key, reason="removed")


def note_publish(room_key: str, n: int, text: str = "") -> None:
    """Publish durable ``test:note`` to the room after commit."""
    publish(f"testroom.{room_key}", "test:note", events.note(n, text))


@handler("testroom:note")
async def note_send(consumer, data):
    """``{key?, user_id?, n}``: a member publishes a durable note to room ``key``, or to ``user.<user_id>``."""
    n = int(data.get("n", 0))
    if data.get("user_id"):
        group = f"user.{data['user_id']}"
    else:
        room_key = str(data.get("key", ""))
        if not await run_sync(room_can_join)(consumer.user, room_key):
            raise Forbidden("Not a member.", code="forbidden")
        group = f"testroom.{room_key}"
    await run_sync(publish)(group, "test:note", events.note(n))
    return {"n": n}
