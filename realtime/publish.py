"""The one way to emit: :func:`publish` after commit, durable events through the reconnect stream.

Frames are ``{"event": "<domain>:<action>", "data": {...}}`` (DESIGN.md,
"Realtime"); durable ones also carry ``"offset"`` (their position in the
group's stream) and ``"cursor"`` (see ``realtime.stream``). Every event must
be declared in the catalog (``realtime.catalog.server_event``), which also
says whether it is durable.

Channel-layer control messages that are not client frames (``map.cell``,
``room.evict``) go through :func:`channel_message_send`. The raw
``group_send`` is private to the platform.
"""

from __future__ import annotations

import functools
import logging

from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.db import close_old_connections, transaction

from .catalog import event_spec_get

logger = logging.getLogger(__name__)


def _group_send(group: str, message: dict) -> None:
    """Send a raw channel-layer ``message`` to ``group`` now (sync code only); failures are logged, not raised."""
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(group, message)
    except Exception:  # a lost notification must not fail the request that caused it
        logger.exception("group_send to %s failed", group)


def _deliver(group: str, event: str, data: dict, durable: bool) -> None:
    message = {"type": "event.forward", "event": event, "data": data, "group": group}
    if durable:
        from .stream import stream_append

        try:
            message["offset"] = stream_append(group, event, data)
        except Exception:
            # Still deliver live; a reconnecting client refetches over REST (sync:reset).
            logger.exception("stream append to %s failed", group)
    _group_send(group, message)


def publish(group: str, event: str, data: dict) -> None:
    """Deliver frame ``{"event", "data"}`` to every socket in ``group`` after the transaction commits.

    ``group``: ``user.<id>``, ``walk.<id>``, ``meetup.<id>``, ``event.<id>``,
    ``party.<id>``, ``conversation.<id>``. ``event`` must be in the catalog
    (``LookupError`` otherwise); a durable event is appended to the group's
    stream first and carries its ``offset``. Outside a transaction it is
    sent at once. Delivery failures are logged, never raised.
    """
    spec = event_spec_get(event)
    transaction.on_commit(lambda: _deliver(group, event, data, spec.durable))


def publish_now(group: str, event: str, data: dict) -> None:
    """Like :func:`publish` but immediately (for code that runs outside any transaction, e.g. a tick)."""
    spec = event_spec_get(event)
    _deliver(group, event, data, spec.durable)


def channel_message_send(group: str, message: dict, *, after_commit: bool = True) -> None:
    """Send a platform/app control message (``{"type": "map.cell", ...}``) to ``group``.

    Handled by the ``@on_message`` handler registered for its ``type``; never
    forwarded to clients as is. After commit by default.
    """
    if after_commit:
        transaction.on_commit(lambda: _group_send(group, message))
    else:
        _group_send(group, message)


def run_sync(func):
    """Wrap sync ``func`` (ORM, Redis) for socket code, on the shared thread pool.

    Unlike the default ``thread_sensitive=True``, calls from different sockets
    run in parallel threads (each with a pooled DB connection) instead of
    queueing on one thread per process; one socket's frames stay ordered
    because the consumer awaits each handler before the next frame.
    """

    @functools.wraps(func)
    def call_and_release(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        finally:
            # Return this thread's pooled connection inside the call, so no idle executor
            # thread pins one: socket threads share the pool with the HTTP threads, and
            # threads of a closed loop (the test suite) never gave theirs back.
            close_old_connections()

    return database_sync_to_async(call_and_release, thread_sensitive=False)


def user_group(user_id) -> str:
    """Group of every socket of one user."""
    return f"user.{user_id}"
