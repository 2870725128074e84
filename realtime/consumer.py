"""The one WebSocket consumer at ``/ws/``.

Authenticates (``realtime.auth``), joins ``user.<id>``, keeps presence, parses
the envelope ``{"event", "data", "id"?}`` and hands each event to the handler
an app registered in its ``realtime.py``. Every failure becomes an ``error``
frame ``{"event": "error", "id"?, "data": {"code", "message", "fields"?}}``
and the socket stays open; only an expired token closes it (code 4401).
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
from rest_framework.exceptions import ValidationError

from core.errors import DomainError, error_body, validation_fields
from realtime import presence

from .publish import HANDLERS, run_sync, user_group

logger = logging.getLogger(__name__)

#: Close code sent when the access token expires on an open socket.
CLOSE_TOKEN_EXPIRED = 4401


def load_realtime_modules() -> None:
    """Import ``<app>.realtime`` of every project app, which registers its socket handlers."""
    base = str(settings.BASE_DIR)
    for app in apps.get_app_configs():
        if str(app.path).startswith(base) and importlib.util.find_spec(f"{app.name}.realtime"):
            importlib.import_module(f"{app.name}.realtime")


class RendezvousConsumer(AsyncWebsocketConsumer):
    """One socket of one authenticated user."""

    user = None
    map_subscription = None
    _heartbeat: asyncio.Task | None = None

    async def dispatch(self, message):
        """Call the handler for ``message`` without Channels' per-message DB cleanup.

        ``AsyncConsumer.dispatch`` first runs ``close_old_connections`` on the
        process's single thread-sensitive executor for every frame and every
        group message; with thousands of sockets that one thread becomes the
        queue every message waits in (bench: delivery p50 422 ms -> 42 ms in a
        200-user city). This consumer touches the database only through
        ``realtime.publish.run_sync``, which does that cleanup in its own thread.
        """
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def connect(self):
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close()  # before accept: the handshake is refused (HTTP 403)
            return
        self.user = user
        self.token_exp = self.scope.get("token_exp")
        await self.channel_layer.group_add(user_group(user.pk), self.channel_name)
        await run_sync(presence.presence_touch)(user.pk, self.channel_name)
        self._heartbeat = asyncio.ensure_future(self._presence_heartbeat())
        await self.accept()

    async def disconnect(self, code):
        if self.user is None:
            return
        if self._heartbeat:
            self._heartbeat.cancel()
        from geo.realtime import map_unsubscribe_all

        await map_unsubscribe_all(self)
        await self.channel_layer.group_discard(user_group(self.user.pk), self.channel_name)
        await run_sync(presence.presence_leave)(self.user.pk, self.channel_name)

    async def _presence_heartbeat(self):
        interval = max(1.0, settings.PRESENCE_TTL_S / 3)
        while True:
            await asyncio.sleep(interval)
            try:
                await run_sync(presence.presence_touch)(self.user.pk, self.channel_name)
            except Exception:
                logger.exception("presence heartbeat failed")

    # --- client frames ---------------------------------------------------------

    async def send_event(self, event: str, data: dict, frame_id=None) -> None:
        """Send one envelope ``{"event", "data", "id"?}`` to this socket."""
        frame = {"event": event, "data": data}
        if frame_id is not None:
            frame["id"] = frame_id
        await self.send(text_data=json.dumps(frame, default=str))

    async def send_error(self, code: str, message: str, frame_id=None, fields=None) -> None:
        """Send an ``error`` frame in the one error shape."""
        await self.send_event("error", error_body(code, message, fields), frame_id)

    async def receive(self, text_data=None, bytes_data=None):
        if bytes_data is not None:
            await self.send_error("unsupported_frame", "Binary frames are not supported; send JSON text.")
            return
        if self.token_exp is not None and time.time() >= self.token_exp:
            await self.send_error("token_expired", "Access token expired; reconnect with a fresh token.")
            await self.close(code=CLOSE_TOKEN_EXPIRED)
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
        except DomainError as exc:
            await self.send_event("error", exc.as_dict(), frame_id)
            return
        except ValidationError as exc:
            message, fields = validation_fields(exc.detail)
            await self.send_error("invalid", message, frame_id, fields)
            return
        except Exception:
            logger.exception("socket event %s failed", event)
            await self.send_error("server_error", "Internal error.", frame_id)
            return
        if frame_id is not None:
            await self.send_event("ack", result or {}, frame_id)

    # --- channel-layer messages ------------------------------------------------

    async def event_forward(self, message):
        """``publish()``: forward ``{"event", "data"}`` to the client as is."""
        await self.send_event(message["event"], message["data"])

    async def map_cell(self, message):
        """A cell change from the map tick; filtered per viewer in ``geo.realtime``."""
        from geo.realtime import map_cell_received

        await map_cell_received(self, message)

    async def map_refresh(self, message):
        """The viewer's roles, filters or blocks changed: re-diff the live map."""
        from geo.realtime import map_refresh_received

        await map_refresh_received(self)
