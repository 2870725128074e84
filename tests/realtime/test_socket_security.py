"""Socket hardening: token transports, expiry without a client frame, socket cap, hostile map areas, outages."""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from rest_framework_simplejwt.tokens import AccessToken

from core.redis import get_redis
from geo.grid import MAX_TILES_PER_SUBSCRIPTION, tiles_for_circle
from realtime.logging import TokenRedactingFilter, token_redact

from .conftest import answer_for, recv, send, ws_connect

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


@pytest.fixture
async def alice(rt_db, make_user):
    return await database_sync_to_async(make_user)(username="alice", sharing=True)


async def test_bearer_subprotocol_authenticates_and_is_selected(alice):
    comm, connected, subprotocol = await ws_connect(alice, via="subprotocol")
    assert connected and subprotocol == "bearer"
    await send(comm, "map:unsubscribe", {}, frame_id=1)
    assert (await answer_for(comm, 1))["event"] == "ack"
    await comm.disconnect()


async def test_bad_token_in_subprotocol_is_refused(alice):
    _, connected, _ = await ws_connect(token="a.b.c", via="subprotocol")
    assert connected is False


async def test_socket_closes_at_token_expiry_without_any_client_frame(alice):
    token = AccessToken.for_user(alice)
    token.set_exp(lifetime=timedelta(seconds=2))
    comm, connected, _ = await ws_connect(token=str(token))
    assert connected
    frame = await recv(comm, timeout=6)
    assert frame["event"] == "error" and frame["data"]["code"] == "token_expired"
    closed = await comm.receive_output(timeout=3)
    assert closed == {"type": "websocket.close", "code": 4401}


async def test_socket_cap_per_user_is_atomic(alice, settings):
    settings.WS_MAX_SOCKETS_PER_USER = 3
    results = await asyncio.gather(*(ws_connect(alice) for _ in range(8)))
    opened = [comm for comm, ok, _ in results if ok]
    assert len(opened) == 3
    for comm in opened:
        await comm.disconnect()
    # Room again once sockets close.
    comm, ok, _ = await ws_connect(alice)
    assert ok
    await comm.disconnect()


@pytest.mark.parametrize(
    "lat, lng", [(89.9999, 179.9999), (-89.9999, -179.9999), (90, 0), (-90, 180), (0.0, 180.0), (0.0, -180.0)]
)
async def test_hostile_map_area_is_bounded_and_fast(alice, lat, lng):
    started = time.perf_counter()
    groups = tiles_for_circle(lat, lng, 50_000)
    assert len(groups) <= MAX_TILES_PER_SUBSCRIPTION
    assert time.perf_counter() - started < 0.5
    comm, _, _ = await ws_connect(alice)
    await send(comm, "map:subscribe", {"lat": lat, "lng": lng, "radius": 50_000}, frame_id="s")
    ack = await answer_for(comm, "s")
    assert ack["event"] == "ack" and 0 < ack["data"]["tiles"] <= MAX_TILES_PER_SUBSCRIPTION
    await comm.disconnect()


async def test_event_loop_stays_responsive_during_a_polar_subscribe(alice):
    comm, _, _ = await ws_connect(alice)
    lags = []

    async def probe():
        for _ in range(20):
            t = time.perf_counter()
            await asyncio.sleep(0.01)
            lags.append(time.perf_counter() - t - 0.01)

    await asyncio.gather(
        probe(), send(comm, "map:subscribe", {"lat": 89.9999, "lng": 179.9999, "radius": 50_000}, frame_id=1)
    )
    await answer_for(comm, 1)
    assert max(lags) < 0.5
    await comm.disconnect()


async def test_map_subscribe_is_rate_limited_per_socket(alice, settings):
    settings.WS_MAP_SUBSCRIBE_RATE = "3/min"
    # Stay inside one window so the count cannot straddle a boundary.
    if 60 - (time.monotonic() % 60) < 5:
        await asyncio.sleep(6)
    comm, _, _ = await ws_connect(alice)
    codes = []
    for i in range(5):
        await send(comm, "map:subscribe", {"lat": 60.17, "lng": 24.94, "radius": 300}, frame_id=i)
        answer = await answer_for(comm, i)
        codes.append(answer["data"].get("code", "ok") if answer["event"] == "error" else "ok")
        if answer["event"] == "error":
            assert answer["data"]["retry_after"] > 0
    assert codes == ["ok", "ok", "ok", "rate_limited", "rate_limited"]
    other, _, _ = await ws_connect(alice)  # the limit is per socket
    await send(other, "map:subscribe", {"lat": 60.17, "lng": 24.94, "radius": 300}, frame_id="o")
    assert (await answer_for(other, "o"))["event"] == "ack"
    await comm.disconnect()
    await other.disconnect()


async def test_redis_outage_is_service_unavailable_on_the_socket(alice, settings):
    comm, _, _ = await ws_connect(alice)
    original = settings.REDIS_URL
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens there
    get_redis.cache_clear()
    try:
        await send(comm, "location:update", {"lat": 60.17, "lng": 24.94}, frame_id="f")
        answer = await answer_for(comm, "f")
    finally:
        settings.REDIS_URL = original
        get_redis.cache_clear()
    assert answer["event"] == "error"
    assert answer["data"]["code"] == "service_unavailable" and answer["data"]["retry_after"] > 0
    await comm.disconnect()


def test_tokens_are_redacted_from_logs(caplog):
    raw = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig"
    assert raw not in token_redact(f"/ws/?token={raw}&since=abc")
    assert "since=abc" in token_redact(f"/ws/?token={raw}&since=abc")
    logger = logging.getLogger("uvicorn.error")
    assert any(isinstance(f, TokenRedactingFilter) for f in logger.filters)
    with caplog.at_level(logging.INFO, logger="uvicorn.error"):
        logger.info('%s - "WebSocket %s" [accepted]', "127.0.0.1:5000", f"/ws/?token={raw}")
        logging.getLogger("uvicorn.access").info(
            '%s - "%s %s HTTP/%s" %d', "127.0.0.1:5000", "GET", f"/api/x?token={raw}", "1.1", 200
        )
    assert raw not in caplog.text and "[redacted]" in caplog.text


async def test_logout_closes_the_sockets_of_that_session_only(rt_db, make_user):
    from rest_framework.test import APIClient

    from tests.factories import PASSWORD

    user = await database_sync_to_async(make_user)(username="bob", email="bob@example.test")

    def login():
        response = APIClient().post(
            "/api/auth/login", {"email": "bob@example.test", "password": PASSWORD}, format="json"
        )
        assert response.status_code == 200, response.content
        return response.json()

    first = await database_sync_to_async(login)()
    second = await database_sync_to_async(login)()
    s1, ok1, _ = await ws_connect(token=first["access"])
    s2, ok2, _ = await ws_connect(token=second["access"])
    assert ok1 and ok2

    def logout():
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {first['access']}")
        return client.post("/api/auth/logout", {"refresh": first["refresh"]}, format="json").status_code

    assert await database_sync_to_async(logout)() == 205
    frame = await recv(s1, timeout=5)
    assert frame["event"] == "error" and frame["data"]["code"] == "session_ended"
    assert await s1.receive_output(timeout=3) == {"type": "websocket.close", "code": 4403}
    # The other login's socket stays open and answers.
    await send(s2, "map:unsubscribe", {}, frame_id="x")
    assert (await answer_for(s2, "x"))["event"] == "ack"
    await s2.disconnect()
    assert user.pk


async def test_socket_database_work_returns_its_pooled_connections(alice):
    """40 socket sessions that authenticate and take a snapshot hold no pool connection afterwards.

    Socket threads share the pool with the HTTP threads; a connection pinned by
    an idle socket thread is one an HTTP request waits DB_POOL_TIMEOUT_S for.
    (In this suite, executor threads of closed test loops used to exhaust the
    pool after ~30 socket tests; ``realtime.publish.run_sync`` now returns the
    connection inside each call.)
    """
    from django.db import connection

    async def session(i):
        comm, ok, _ = await ws_connect(alice)
        assert ok
        await send(comm, "map:subscribe", {"lat": 60.17, "lng": 24.94, "radius": 300}, frame_id=i)
        assert (await answer_for(comm, i))["event"] == "ack"
        await comm.disconnect()

    await session("warm-up")
    before = connection.pool.get_stats()
    for i in range(40):
        await session(i)
    after = connection.pool.get_stats()
    held_before = before["pool_size"] - before["pool_available"]
    assert after["pool_size"] - after["pool_available"] <= held_before, (before, after)
