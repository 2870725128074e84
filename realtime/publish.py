"""Realtime core: the publish helper and the socket event registry.

Frames are ``{"event": "<domain>:<action>", "data": {...}, "id"?}``
(DESIGN.md, "Realtime"). Domain code publishes with :func:`publish`, which
runs after the current transaction commits, so no socket ever hears of a row
that was rolled back. Apps register socket event handlers in their
``realtime.py`` with :func:`handler`.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.db import transaction

logger = logging.getLogger(__name__)

#: event name -> async handler(consumer, data: dict) -> ack data (dict) or None
HANDLERS: dict[str, Callable[..., Awaitable[dict | None]]] = {}


def handler(event: str, *aliases: str):
    """Register an async socket event handler under ``event`` and its ``aliases``.

    The handler receives ``(consumer, data)``, returns the ``ack`` data (or
    ``None``) and raises ``core.errors.DomainError`` or a DRF
    ``ValidationError`` for bad input; the consumer turns those into an
    ``error`` frame and keeps the socket open.
    """

    def register(func):
        for name in (event, *aliases):
            if name in HANDLERS:
                raise RuntimeError(f"socket event {name!r} registered twice")
            HANDLERS[name] = func
        return func

    return register


def group_send_now(group: str, message: dict) -> None:
    """Send a raw channel-layer ``message`` to ``group`` immediately (sync code only)."""
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(group, message)
    except Exception:  # a lost notification must not fail the request that caused it
        logger.exception("group_send to %s failed", group)


def publish_message(group: str, message: dict) -> None:
    """Send a raw channel-layer ``message`` to ``group`` after the transaction commits."""
    transaction.on_commit(lambda: group_send_now(group, message))


def publish(group: str, event: str, data: dict) -> None:
    """Deliver frame ``{"event", "data"}`` to every socket in ``group`` after commit.

    ``group`` is one of ``user.<id>``, ``party.<id>``, ``meetup.<id>``,
    ``event.<id>``, ``conversation.<id>``, ``cell.<geohash>``.
    """
    publish_message(group, {"type": "event.forward", "event": event, "data": data})


def run_sync(func):
    """Wrap sync ``func`` (ORM, Redis) for socket code, on the shared thread pool.

    Unlike the default ``thread_sensitive=True``, calls from different sockets
    run in parallel threads (each with a pooled DB connection) instead of
    queueing on one thread per process; one socket's frames stay ordered
    because the consumer awaits each handler before the next frame.
    """
    return database_sync_to_async(func, thread_sensitive=False)


def user_group(user_id) -> str:
    """Group of every socket of one user."""
    return f"user.{user_id}"
