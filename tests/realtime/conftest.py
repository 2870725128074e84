"""Socket fixtures: a real ``WebsocketCommunicator`` on the real ASGI router and Redis channel layer."""

from __future__ import annotations

import asyncio
import json

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator

from config.asgi import router
from geo.fanout import map_publish_tick

from ..conftest import access_token


async def ws_connect(user=None, *, token: str | None = None, via: str = "header", query: str = ""):
    """Open a socket for ``user`` (or with a raw ``token``); returns ``(communicator, connected, close_code)``.

    ``via``: ``header`` (Authorization), ``query`` (``?token=``) or
    ``subprotocol`` (``Sec-WebSocket-Protocol: bearer, <token>``); ``query``
    adds raw query parameters (``since=<cursor>``).
    """
    raw = token if token is not None else (access_token(user) if user is not None else None)
    headers, params, subprotocols = [], [], None
    if raw is not None and via == "header":
        headers = [(b"authorization", f"Bearer {raw}".encode())]
    elif raw is not None and via == "subprotocol":
        subprotocols = ["bearer", raw]
    elif raw is not None:
        params.append(f"token={raw}")
    if query:
        params.append(query)
    path = "/ws/" + (f"?{'&'.join(params)}" if params else "")
    comm = WebsocketCommunicator(router, path, headers=headers, subprotocols=subprotocols)
    connected, code = await comm.connect(timeout=5)
    return comm, connected, code


async def send(comm, event, data=None, frame_id=None):
    """Send one envelope."""
    frame = {"event": event, "data": data if data is not None else {}}
    if frame_id is not None:
        frame["id"] = frame_id
    await comm.send_to(text_data=json.dumps(frame))


async def recv(comm, timeout: float = 3.0) -> dict:
    """Receive one JSON frame."""
    return json.loads(await comm.receive_from(timeout=timeout))


async def answer_for(comm, frame_id, timeout: float = 10.0) -> dict:
    """The ``ack`` or ``error`` frame answering ``frame_id`` (frames in between are skipped)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        frame = await recv(comm, timeout=max(0.01, deadline - loop.time()))
        if frame.get("id") == frame_id and frame["event"] in ("ack", "error"):
            return frame


async def recv_until(comm, event: str, timeout: float = 3.0) -> tuple[dict, list[dict]]:
    """Receive frames until one named ``event``; returns it and the frames before it."""
    seen = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        frame = await recv(comm, timeout=max(0.01, deadline - loop.time()))
        if frame["event"] == event:
            return frame, seen
        seen.append(frame)


async def drain(comm, wait: float = 0.3) -> list[dict]:
    """Everything that arrives within ``wait`` seconds."""
    frames = []
    while not await comm.receive_nothing(timeout=wait):
        frames.append(await recv(comm))
    return frames


async def tick():
    """Run one map tick from async code (as the ASGI ticker does)."""
    return await database_sync_to_async(map_publish_tick)()


@pytest.fixture
def rt_db(transactional_db):
    """Realtime tests need committed rows: the consumer reads them from other threads."""
    return transactional_db
