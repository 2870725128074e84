"""The one WebSocket consumer at ``/ws/``; it knows no app.

Authenticates (``realtime.auth``), joins ``user.<id>``, keeps presence,
parses the envelope ``{"event", "data", "id"?}`` and hands each event to the
handler an app registered (``realtime.registry``). Channel-layer messages go
to the ``@on_message`` handler of their type; apps keep per-socket state in
``consumer.state[<app label>]`` and clean up in ``@on_disconnect`` hooks. Every
failure becomes an ``error`` frame ``{"event": "error", "id"?, "data":
{"code", "message", "fields"?, "retry_after"?}}`` through
``core.errors.error_for_exception`` (the REST mapping) and the socket stays
open; only an expired token (4401) or the end of the session closes it.
"""

from __future__ import annotations

import asyncio
import importlib
import importlib.util
import json
import logging
import time

from channels.consumer import get_handler_name
from channels.generic.websocket import AsyncWebsocketConsumer
from django.apps import apps
from django.conf import settings

from core.errors import error_body, error_for_exception

from . import presence, stream
from .heartbeat import heartbeat_get
from .publish import run_sync, user_group
from .registry import CONNECT_HOOKS, DISCONNECT_HOOKS, HANDLERS, MESSAGE_HANDLERS
from .rooms import ROOM_KINDS

logger = logging.getLogger(__name__)

#: Close code sent when the access token expires on an open socket.
CLOSE_TOKEN_EXPIRED = 4401
#: Close code sent when the session ended (logout) or the account was deactivated.
CLOSE_SESSION_ENDED = 4403


def load_realtime_modules() -> None:
    """Import ``<app>.realtime`` and ``<app>.events`` of every project app (they register into the platform)."""
    base = str(settings.BASE_DIR)
    for app in apps.get_app_configs():
        if not str(app.path).startswith(base):
            continue
        for module in ("events", "realtime"):
            if importlib.util.find_spec(f"{app.name}.{module}"):
                importlib.import_module(f"{app.name}.{module}")


def _offset_key(offset: str) -> tuple[int, int]:
    return stream.offset_parse(offset)


class RendezvousConsumer(AsyncWebsocketConsumer):
    """One socket of one authenticated user.

    ``state``: per-app socket state, keyed by app label; ``rooms``: joined room groups -> ``(kind, key)``;
    ``offsets``: last durable offset sent per group (the cursor).
    """

    user = None
    token_exp = None
    _tasks: list

    async def dispatch(self, message):
        """Call the handler for ``message`` without Channels' per-message DB cleanup.

        ``AsyncConsumer.dispatch`` first runs ``close_old_connections`` on the
        process's single thread-sensitive executor for every frame and every
        group message; with thousands of sockets that one thread becomes the
        queue every message waits in (bench: delivery p50 422 ms -> 42 ms in a
        200-user city). This consumer touches the database only through
        ``realtime.publish.run_sync``, which does that cleanup in its own thread.
        App message types registered with ``@on_message`` are looked up first.
        """
        app_handler = MESSAGE_HANDLERS.get(message["type"])
        if app_handler is not None:
            await app_handler(self, message)
            return
        method = getattr(self, get_handler_name(message), None)
        if method is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await method(message)

    # --- lifecycle ----------------------------------------------------------------

    async def connect(self):
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close()  # before accept: the handshake is refused (HTTP 403)
            return
        count = await run_sync(presence.presence_connect)(
            user.pk, self.channel_name, max_sockets=settings.WS_MAX_SOCKETS_PER_USER
        )
        if count < 0:
            logger.info("socket refused: user %s has %s sockets", user.pk, settings.WS_MAX_SOCKETS_PER_USER)
            await self.close()
            return
        self.user = user
        self.token_exp = self.scope.get("token_exp")
        self.state: dict = {}
        self.rooms: dict[str, tuple[str, str]] = {}
        self.offsets: dict[str, str] = {}
        self.pending_offsets: dict[str, str] = {}
        self.epoch: str | None = None
        self._tasks = []
        self._expiry: asyncio.TimerHandle | None = None
        self._first_socket = count == 1
        await self.channel_layer.group_add(user_group(user.pk), self.channel_name)
        since = self.scope.get("sync_since")
        if not since:
            try:
                # Before accept: every durable event stored after this point reaches the client.
                await self.stream_attach(user_group(user.pk))
            except Exception:
                logger.exception("stream attach failed")
        await self.accept(subprotocol=self.scope.get("ws_subprotocol"))
        # One heartbeat task per process and a timer per socket, not two tasks per socket (idle memory).
        heartbeat_get().add(self.channel_name, user.pk)
        if self.token_exp is not None:
            loop = asyncio.get_running_loop()
            delay = max(0.0, self.token_exp - time.time())
            self._expiry = loop.call_at(loop.time() + delay, self._token_expired_soon)
        try:
            if since:
                await self.sync_from(since)
        except stream.CursorInvalid:
            await self.send_error("invalid_cursor", "Not a cursor issued by this server; refetch over REST.")
            self.offsets[user_group(user.pk)] = await run_sync(stream.stream_last_offset)(user_group(user.pk))
        except Exception as exc:  # Redis down: the socket still works live
            await self.send_exception(exc)
        for hook in CONNECT_HOOKS:
            try:
                await hook(self)
            except Exception:
                logger.exception("connect hook %s failed", getattr(hook, "__name__", hook))

    async def disconnect(self, code):
        if self.user is None:
            return
        heartbeat_get().remove(self.channel_name)
        if self._expiry is not None:
            self._expiry.cancel()
        for task in self._tasks:
            task.cancel()
        # Platform hooks (presence offline to this socket's rooms) run before the rooms are left.
        for hook in DISCONNECT_HOOKS:
            try:
                await hook(self)
            except Exception:
                logger.exception("disconnect hook %s failed", getattr(hook, "__name__", hook))
        for group in list(self.rooms):
            await self.channel_layer.group_discard(group, self.channel_name)
        self.rooms.clear()
        await self.channel_layer.group_discard(user_group(self.user.pk), self.channel_name)

    def _token_expired_soon(self) -> None:
        """The access token's ``exp`` passed (a loop timer): close the socket with 4401."""
        self._tasks.append(asyncio.ensure_future(self.close_token_expired()))

    async def close_token_expired(self):
        """Tell the client its access token expired and close with 4401."""
        await self.send_error("token_expired", "Access token expired; reconnect with a fresh token.")
        await self.close(code=CLOSE_TOKEN_EXPIRED)

    # --- sending ------------------------------------------------------------------

    async def send_event(self, event: str, data: dict, frame_id=None, **extra) -> None:
        """Send one envelope ``{"event", "data", "id"?, ...extra}`` to this socket."""
        frame = {"event": event, "data": data}
        if frame_id is not None:
            frame["id"] = frame_id
        if extra:
            frame.update(extra)
        await self.send(text_data=json.dumps(frame, default=str))

    async def send_error(self, code: str, message: str, frame_id=None, fields=None, **extra) -> None:
        """Send an ``error`` frame in the one error shape (``extra`` e.g. ``retry_after``)."""
        body = error_body(code, message, fields)
        body.update(extra)
        await self.send_event("error", body, frame_id)

    async def send_exception(self, exc: BaseException, frame_id=None, event: str | None = None) -> None:
        """Send the ``error`` frame for ``exc`` (``core.errors.error_for_exception``; unknown -> ``server_error``)."""
        mapped = error_for_exception(exc)
        if mapped is None:
            logger.exception("socket event %s failed", event, exc_info=exc)
            await self.send_error("server_error", "Internal error.", frame_id)
            return
        status, body, retry_after = mapped
        if status == 503:
            logger.warning("socket event %s: backing service unavailable: %r", event, exc)
        if retry_after:
            body = {**body, "retry_after": round(float(retry_after), 3)}
        await self.send_event("error", body, frame_id)

    # --- durable stream and cursor ---------------------------------------------------

    def cursor(self) -> str:
        """The socket's current cursor: offsets of joined groups and of groups still to be rejoined."""
        return stream.cursor_encode(self.epoch or "", {**self.pending_offsets, **self.offsets})

    async def stream_attach(self, group: str) -> None:
        """Start tracking ``group``'s offsets; replay from the pending cursor offset when there is one."""
        pending = self.pending_offsets.pop(group, None)
        if pending is not None:
            await self._replay(group, pending)
            await self.send_event("sync:done", {"groups": [group], "cursor": self.cursor()})
            return
        if self.epoch is None:
            self.epoch = await run_sync(stream.stream_epoch)()
        self.offsets[group] = await run_sync(stream.stream_last_offset)(group)

    def stream_detach(self, group: str) -> None:
        """Forget ``group``'s offset (the room was left)."""
        self.offsets.pop(group, None)

    async def _replay(self, group: str, offset: str) -> None:
        try:
            entries = await run_sync(stream.stream_read_after)(group, offset)
        except stream.CursorExpired:
            self.offsets[group] = await run_sync(stream.stream_last_offset)(group)
            await self.send_event("sync:reset", {"groups": [group], "cursor": self.cursor()})
            return
        self.offsets[group] = offset
        for entry_offset, event, data in entries:
            await self._send_durable(group, entry_offset, event, data)

    async def _send_durable(self, group: str, offset: str, event: str, data: dict) -> None:
        last = self.offsets.get(group)
        if last is not None and _offset_key(offset) <= _offset_key(last):
            return  # already sent (replay and live overlap): exactly once
        self.offsets[group] = offset
        await self.send_event(event, data, offset=offset, cursor=self.cursor())

    async def sync_from(self, cursor: str) -> None:
        """Replay what this socket's user group missed since ``cursor``; keep room offsets for their rejoin.

        Sends the missed events, then ``sync:done`` ``{"groups", "cursor"}``;
        ``sync:reset`` ``{"groups", "cursor"}`` instead for groups whose
        events may be gone (older than the retention, or Redis lost its data),
        after which the client refetches over REST. Raises
        ``stream.CursorInvalid`` for a malformed cursor.
        """
        epoch, offsets = stream.cursor_decode(cursor)
        current = await run_sync(stream.stream_epoch)()
        self.epoch = current
        own = user_group(self.user.pk)
        if epoch != current:
            # Redis lost its data: nothing can be replayed.
            for group in (own, *self.rooms):
                self.offsets[group] = await run_sync(stream.stream_last_offset)(group)
            await self.send_event("sync:reset", {"groups": [own, *self.rooms], "cursor": self.cursor()})
            return
        for group, offset in offsets.items():
            if group == own or group in self.rooms:
                await self._replay(group, offset)
            elif group.startswith("user."):
                continue  # another user's group: never replayed
            else:
                self.pending_offsets[group] = offset
        if own not in self.offsets:
            self.offsets[own] = await run_sync(stream.stream_last_offset)(own)
        await self.send_event("sync:done", {"groups": [own, *self.rooms], "cursor": self.cursor()})

    # --- client frames --------------------------------------------------------------

    async def receive(self, text_data=None, bytes_data=None):
        if bytes_data is not None:
            await self.send_error("unsupported_frame", "Binary frames are not supported; send JSON text.")
            return
        if self.token_exp is not None and time.time() >= self.token_exp:
            await self.close_token_expired()
            return
        if len(text_data.encode("utf-8")) > settings.WS_MAX_FRAME_BYTES:
            await self.send_error("frame_too_large", f"Frames are limited to {settings.WS_MAX_FRAME_BYTES} bytes.")
            return
        try:
            frame = json.loads(text_data)
        except (ValueError, RecursionError):
            await self.send_error("malformed_json", "Frame is not valid JSON.")
            return
        if not isinstance(frame, dict):
            await self.send_error("invalid_frame", 'Expected {"event": "...", "data": {...}, "id"?: "..."}.')
            return
        frame_id = frame.get("id")
        if frame_id is not None and (
            not isinstance(frame_id, (str, int)) or isinstance(frame_id, bool) or len(str(frame_id)) > 64
        ):
            await self.send_error("invalid_frame", "id must be a string or integer of at most 64 characters.")
            return
        event = frame.get("event")
        data = frame.get("data", {})
        if not isinstance(event, str) or not isinstance(data, dict):
            await self.send_error("invalid_frame", "event must be a string and data an object.", frame_id)
            return
        func = HANDLERS.get(event)
        if func is None:
            await self.send_error("unknown_event", f"Unknown event {event[:64]!r}.", frame_id)
            return
        try:
            result = await func(self, data)
        except Exception as exc:
            await self.send_exception(exc, frame_id, event)
            return
        if frame_id is not None:
            await self.send_event("ack", result or {}, frame_id)

    # --- platform channel-layer messages --------------------------------------------

    async def event_forward(self, message):
        """``publish()``: forward ``{"event", "data"}``; durable ones once each, with ``offset`` and ``cursor``."""
        group = message.get("group")
        if group and group not in self.rooms and group.partition(".")[0] in ROOM_KINDS:
            return  # a room this socket left or was evicted from: nothing after the eviction
        offset = message.get("offset")
        if offset is None or group is None:
            await self.send_event(message["event"], message["data"])
            return
        await self._send_durable(group, offset, message["event"], message["data"])

    async def room_evict(self, message):
        """``rooms.room_evict``: leave the room group on this socket and tell the client (``room:left``)."""
        from .rooms import leave_group

        await leave_group(self, message["group"], reason=message.get("reason", "removed"), notify=True)

    async def session_close(self, message):
        """The session ended (logout, deactivation): tell the client and close (4403)."""
        family = message.get("fam")
        if family and family != self.scope.get("token_fam"):
            return  # another session (another login) of the same user
        await self.send_error("session_ended", message.get("message") or "The session ended; log in again.")
        await self.close(code=CLOSE_SESSION_ENDED)
