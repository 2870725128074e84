"""Where apps plug into the one socket consumer, without the consumer naming any app.

Each app registers, in its ``realtime.py`` (imported at startup by
:func:`realtime.consumer.load_realtime_modules`):

* client events with :func:`handler` (``"domain:action"`` plus the seeds'
  aliases); the handler gets ``(consumer, data)`` and returns the ``ack``
  data or raises a ``core.errors.DomainError`` / DRF ``ValidationError``;
* channel-layer message types with :func:`on_message` (``"map.cell"``):
  ``(consumer, message)``;
* connect and disconnect hooks with :func:`on_connect` / :func:`on_disconnect`:
  ``(consumer)``, run in registration order (disconnect hooks must not raise;
  failures are logged).

Per-app socket state lives in ``consumer.state[<app label>]``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

#: event name -> async handler(consumer, data: dict) -> ack data (dict) or None
HANDLERS: dict[str, Callable[..., Awaitable[dict | None]]] = {}
#: channel-layer message type ("map.cell") -> async handler(consumer, message: dict)
MESSAGE_HANDLERS: dict[str, Callable[..., Awaitable[None]]] = {}
#: async hook(consumer) run after a socket is accepted
CONNECT_HOOKS: list[Callable[..., Awaitable[None]]] = []
#: async hook(consumer) run when a socket closes
DISCONNECT_HOOKS: list[Callable[..., Awaitable[None]]] = []


def handler(event: str, *aliases: str):
    """Register an async client-event handler under ``event`` and its ``aliases``.

    Raises ``RuntimeError`` when a name is registered twice.
    """

    def register(func):
        for name in (event, *aliases):
            if name in HANDLERS:
                raise RuntimeError(f"socket event {name!r} registered twice")
            HANDLERS[name] = func
        return func

    return register


def on_message(message_type: str):
    """Register an async handler for channel-layer messages of ``message_type`` (e.g. ``"map.cell"``).

    Raises ``RuntimeError`` when the type is registered twice.
    """

    def register(func):
        if message_type in MESSAGE_HANDLERS:
            raise RuntimeError(f"channel message {message_type!r} registered twice")
        MESSAGE_HANDLERS[message_type] = func
        return func

    return register


def on_connect(func):
    """Register ``async func(consumer)`` to run after every socket is accepted."""
    if func not in CONNECT_HOOKS:
        CONNECT_HOOKS.append(func)
    return func


def on_disconnect(func):
    """Register ``async func(consumer)`` to run when a socket closes (clean-up; must not raise)."""
    if func not in DISCONNECT_HOOKS:
        DISCONNECT_HOOKS.append(func)
    return func
