"""End to end, promises that need a real server process (issue 7, "Promises without a test").

- the transport limit: a frame over 1 MiB closes the socket with 1009
  (``test_oversized_frame_closes_only_past_transport_limit`` only sends 20 KB);
- ``/health/db`` and the REST API with PostgreSQL unreachable: a process
  whose ``DATABASE_URL`` points at a closed port (the test database is untouched).
"""

from __future__ import annotations

import asyncio
import json
import time

import httpx
import pytest
import websockets
from channels.db import database_sync_to_async

from ..conftest import access_token
from .conftest import ROOT, Server, free_port
from .test_cluster import register

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True), pytest.mark.asyncio]

ONE_MIB = 1_048_576  # uvicorn --ws-max-size in tests/e2e/conftest.py and scripts/web.sh
WAIT = 10.0


async def test_frame_over_one_mib_is_closed_with_1009(start_servers):
    (server,) = await asyncio.to_thread(start_servers, 1)
    user = await register(server, "huge")
    async with websockets.connect(
        server.ws_url, subprotocols=["bearer", user["access"]], max_size=2**22, open_timeout=WAIT
    ) as ws:
        # positive control: just under the transport limit is an error frame, and the socket stays open
        pad = ONE_MIB - 200
        await ws.send(json.dumps({"event": "location:update", "data": {"pad": "x" * pad}, "id": 1}))
        frame = json.loads(await asyncio.wait_for(ws.recv(), WAIT))
        assert frame["event"] == "error" and frame["data"]["code"] == "frame_too_large"  # not parsed: no id
        await ws.send(json.dumps({"event": "map:unsubscribe", "data": {}, "id": 2}))
        assert json.loads(await asyncio.wait_for(ws.recv(), WAIT)) == {
            "event": "ack",
            "id": 2,
            "data": {"subscribed": False},
        }

        # past it: the server's transport closes the socket with 1009 (message too big)
        await ws.send(json.dumps({"event": "location:update", "data": {"pad": "x" * (ONE_MIB + 10)}, "id": 3}))
        with pytest.raises(websockets.exceptions.ConnectionClosed) as info:
            await asyncio.wait_for(ws.recv(), WAIT)
        assert info.value.rcvd is not None and info.value.rcvd.code == 1009
    # the server lives on
    async with httpx.AsyncClient(base_url=server.url, timeout=WAIT) as http:
        assert (await http.get("/health")).status_code == 200


def _server_without_database() -> Server:
    """A server process like ``start_servers``' whose PostgreSQL is a closed port (Redis is the real one)."""
    import os

    from django.conf import settings

    (ROOT / ".run").mkdir(exist_ok=True)
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": f"postgis://nobody:nothing@127.0.0.1:{free_port()}/nowhere",
        "REDIS_URL": settings.REDIS_URL,
        "REDIS_KEY_PREFIX": settings.REDIS_KEY_PREFIX,
        "MAP_TICKER_ENABLED": "false",
        # A request waits this long for a pool connection before failing (default 10 s).
        "DB_POOL_TIMEOUT_S": "2",
        "PYTHONUNBUFFERED": "1",
    }
    return Server(free_port(), env)


def _wait_serving(server: Server, timeout: float = 30.0) -> None:
    """Wait for ``/health`` 200 (``Server.wait_ready`` waits for ``/health/db``, which must fail here)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            raise RuntimeError(f"server exited with {server.proc.returncode}")
        try:
            if httpx.get(f"{server.url}/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise TimeoutError("server not serving")


async def test_health_db_and_rest_are_503_when_postgresql_is_unreachable(start_servers, make_user):
    (healthy,) = await asyncio.to_thread(start_servers, 1)
    user = await database_sync_to_async(make_user)(username="dbdown")
    token = await database_sync_to_async(access_token)(user)
    headers = {"Authorization": f"Bearer {token}"}
    broken = _server_without_database()
    try:
        await asyncio.to_thread(_wait_serving, broken)
        async with httpx.AsyncClient(timeout=30) as http:
            # positive control: the same requests to a process with the database
            assert (await http.get(f"{healthy.url}/health/db")).json() == {"status": "ok"}
            assert (await http.get(f"{healthy.url}/api/users/me", headers=headers)).status_code == 200

            response = await http.get(f"{broken.url}/health/db")
            assert response.status_code == 503
            error = response.json()["error"]
            assert error["code"] == "database_unavailable" and error["message"].startswith("database: ")
            assert (await http.get(f"{broken.url}/health/redis")).json() == {"status": "ok"}  # Redis is fine

            response = await http.get(f"{broken.url}/api/users/me", headers=headers)
            assert response.status_code == 503, response.text
            assert response.json()["error"]["code"] == "service_unavailable"
            assert int(response.headers["Retry-After"]) > 0
    finally:
        await asyncio.to_thread(broken.stop)
