"""The socket envelope, authentication and bad input over a real channel layer."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from rest_framework_simplejwt.tokens import AccessToken

from geo.models import LocationFix
from realtime.presence import presence_online_ids

from .conftest import recv, send, ws_connect

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


@pytest.fixture
async def alice(rt_db, make_user):
    return await database_sync_to_async(make_user)(
        username="alice", email="alice@example.test", roles=["walker"], sharing=True
    )


async def test_handshake_refused_without_token(rt_db):
    comm, connected, _ = await ws_connect(None)
    assert connected is False


@pytest.mark.parametrize("token", ["garbage", "a.b.c", ""])
async def test_handshake_refused_with_bad_token(rt_db, token):
    for via in ("header", "query"):
        comm, connected, _ = await ws_connect(token=token, via=via)
        assert connected is False


async def test_refresh_token_is_not_accepted_on_socket(rt_db, alice):
    from rest_framework_simplejwt.tokens import RefreshToken

    refresh = await database_sync_to_async(lambda: str(RefreshToken.for_user(alice)))()
    comm, connected, _ = await ws_connect(token=refresh)
    assert connected is False


async def test_expired_token_refused(rt_db, alice):
    token = AccessToken.for_user(alice)
    token.set_exp(lifetime=-timedelta(seconds=5))
    comm, connected, _ = await ws_connect(token=str(token))
    assert connected is False


@pytest.mark.parametrize("via", ["header", "query"])
async def test_connect_with_token_and_presence(rt_db, alice, via):
    comm, connected, _ = await ws_connect(alice, via=via)
    assert connected
    assert await database_sync_to_async(presence_online_ids)([alice.pk]) == {alice.pk}
    await comm.disconnect()
    assert await database_sync_to_async(presence_online_ids)([alice.pk]) == set()


async def test_presence_counts_sockets_not_users(rt_db, alice):
    first, ok1, _ = await ws_connect(alice)
    second, ok2, _ = await ws_connect(alice)
    assert ok1 and ok2
    await first.disconnect()
    assert await database_sync_to_async(presence_online_ids)([alice.pk]) == {alice.pk}
    await second.disconnect()
    assert await database_sync_to_async(presence_online_ids)([alice.pk]) == set()


async def _assert_still_open(comm):
    await send(comm, "map:unsubscribe", {}, frame_id="probe")
    frame = await recv(comm)
    assert frame == {"event": "ack", "id": "probe", "data": {"subscribed": False}}


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("{not json", "malformed_json"),
        ("[1, 2]", "invalid_frame"),
        ('"text"', "invalid_frame"),
        ('{"event": 5, "data": {}}', "invalid_frame"),
        ('{"event": "location:update", "data": [1]}', "invalid_frame"),
        ('{"event": "nope:nothing", "data": {}}', "unknown_event"),
        ('{"event": "location:update", "data": {}, "id": {"x": 1}}', "invalid_frame"),
    ],
)
async def test_bad_frames_get_error_and_socket_stays_open(rt_db, alice, raw, code):
    comm, connected, _ = await ws_connect(alice)
    assert connected
    await comm.send_to(text_data=raw)
    frame = await recv(comm)
    assert frame["event"] == "error"
    assert frame["data"]["code"] == code
    assert isinstance(frame["data"]["message"], str) and frame["data"]["message"]
    await _assert_still_open(comm)
    await comm.disconnect()


async def test_error_echoes_frame_id(rt_db, alice):
    comm, _, _ = await ws_connect(alice)
    await send(comm, "nope:nothing", {}, frame_id="f-1")
    frame = await recv(comm)
    assert frame["id"] == "f-1" and frame["data"]["code"] == "unknown_event"
    await comm.disconnect()


async def test_binary_frame_refused(rt_db, alice):
    comm, _, _ = await ws_connect(alice)
    await comm.send_to(bytes_data=b"\x00\x01")
    frame = await recv(comm)
    assert frame["data"]["code"] == "unsupported_frame"
    await _assert_still_open(comm)
    await comm.disconnect()


async def test_oversized_frame_refused(rt_db, alice, settings):
    settings.WS_MAX_FRAME_BYTES = 512
    comm, _, _ = await ws_connect(alice)
    await send(comm, "location:update", {"lat": 1, "lng": 2, "pad": "x" * 600}, frame_id="big")
    frame = await recv(comm)
    assert frame["event"] == "error" and frame["data"]["code"] == "frame_too_large"
    assert not await database_sync_to_async(LocationFix.objects.filter(user=alice).exists)()
    await _assert_still_open(comm)
    await comm.disconnect()


async def test_location_update_acks_and_stores(rt_db, alice):
    comm, _, _ = await ws_connect(alice)
    await send(comm, "location:update", {"lat": 60.17, "lng": 24.94, "accuracy_m": 8}, frame_id=1)
    frame = await recv(comm)
    assert frame["event"] == "ack" and frame["id"] == 1
    assert frame["data"]["stored"] is True and frame["data"]["status"] == "stored"
    fix = await database_sync_to_async(LocationFix.objects.get)(user=alice)
    assert abs(fix.location.y - 60.17) < 1e-9 and abs(fix.location.x - 24.94) < 1e-9
    assert fix.accuracy_m == 8
    await comm.disconnect()


async def test_location_update_alias_from_seed_000(rt_db, alice):
    comm, _, _ = await ws_connect(alice)
    await send(comm, "location_update", {"lat": 1.5, "lng": 2.5, "timestamp": 1_700_000_000_000}, frame_id="a")
    frame = await recv(comm)
    assert frame["event"] == "ack" and frame["data"]["recorded_at"].startswith("2023-11-14T22:13:20")
    await comm.disconnect()


async def test_location_update_out_of_order_answered_not_stored(rt_db, alice):
    comm, _, _ = await ws_connect(alice)
    await send(comm, "location:update", {"lat": 10, "lng": 10, "timestamp": "2030-01-01T00:00:00Z"}, frame_id=1)
    # a timestamp far in the future is refused ...
    frame = await recv(comm)
    assert frame["event"] == "error" and frame["data"]["code"] == "timestamp_in_future"
    await send(comm, "location:update", {"lat": 10, "lng": 10}, frame_id=2)
    assert (await recv(comm))["data"]["status"] == "stored"
    await send(comm, "location:update", {"lat": 11, "lng": 11, "timestamp": "2020-01-01T00:00:00Z"}, frame_id=3)
    frame = await recv(comm)
    assert frame["data"] == {**frame["data"], "stored": False, "status": "out_of_order"}
    fix = await database_sync_to_async(LocationFix.objects.get)(user=alice)
    assert fix.location.y == 10
    await comm.disconnect()


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"lat": 91, "lng": 0}, "lat"),
        ({"lat": 0, "lng": -180.5}, "lng"),
        ({"lat": "NaN", "lng": 0}, "lat"),
        ({"lat": True, "lng": 0}, "lat"),
        ({"lng": 0}, "lat"),
        ({"lat": 0, "lng": 0, "timestamp": "yesterday"}, "timestamp"),
        ({"lat": 0, "lng": 0, "heading_deg": 400}, "heading_deg"),
    ],
)
async def test_location_update_invalid_data(rt_db, alice, data, field):
    comm, _, _ = await ws_connect(alice)
    await send(comm, "location:update", data, frame_id="x")
    frame = await recv(comm)
    assert frame["event"] == "error" and frame["id"] == "x"
    assert frame["data"]["code"] == "invalid"
    assert field in frame["data"]["fields"]
    assert not await database_sync_to_async(LocationFix.objects.filter(user=alice).exists)()
    await _assert_still_open(comm)
    await comm.disconnect()


async def _fixed_window_guard(period_s: int, needed_s: float = 10.0) -> None:
    """Sleep into the next fixed rate-limit window when fewer than ``needed_s`` seconds are left in this one.

    ``core.ratelimit`` windows are aligned to the epoch (wall clock, ``time.time()``), as
    ``tests/geo/geoutil.fixed_window_guard`` assumes for HTTP; this is its async form.
    """
    left = period_s - (time.time() % period_s)
    if left < needed_s:
        await asyncio.sleep(left + 0.1)


async def test_location_update_rate_limited(rt_db, alice, settings):
    settings.THROTTLE_LOCATION = "2/min"
    await _fixed_window_guard(60)  # three fixes straddling a minute would all pass
    comm, _, _ = await ws_connect(alice)
    codes = []
    for i in range(3):
        await send(comm, "location:update", {"lat": 1 + i, "lng": 1}, frame_id=i)
        frame = await recv(comm)
        codes.append(frame["event"] if frame["event"] == "ack" else frame["data"]["code"])
    assert codes == ["ack", "ack", "rate_limited"]
    await _assert_still_open(comm)
    await comm.disconnect()


async def test_token_expiry_closes_open_socket(rt_db, alice):
    token = AccessToken.for_user(alice)
    token.set_exp(lifetime=timedelta(seconds=1))
    comm, connected, _ = await ws_connect(token=str(token))
    assert connected
    await asyncio.sleep(1.2)
    await send(comm, "map:unsubscribe", {}, frame_id="late")
    frame = await recv(comm)
    assert frame["event"] == "error" and frame["data"]["code"] == "token_expired"
    out = await comm.receive_output(timeout=2)
    assert out == {"type": "websocket.close", "code": 4401}
