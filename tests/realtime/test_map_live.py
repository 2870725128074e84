"""The live map over sockets: snapshot, cell-change streaming, the privacy rule before anything is sent."""

from __future__ import annotations

from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from django.utils import timezone

from accounts import services as account_services
from accounts.models import UserSettings
from core.validation import validated
from geo.grid import cell_for
from geo.serializers import LocationFixInputSerializer
from geo.services import location_record

from .conftest import drain, recv, recv_until, send, tick, ws_connect

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]

HEL = (60.1699, 24.9384)  # Helsinki, WGS84 degrees
NEXT_CELL = (60.1699 + 0.0020, 24.9384)  # ~220 m north: another grid cell, same 500 m area


@pytest.fixture
async def people(rt_db, make_user):
    mk = database_sync_to_async(make_user)
    return {
        "viewer": await mk(username="viewer", email="v@example.test", roles=["walker"], sharing=True),
        "mover": await mk(username="mover", email="m@example.test", roles=["runner"], sharing=True),
    }


async def fix(user, lat, lng, **extra):
    fix = validated(LocationFixInputSerializer, {"lat": lat, "lng": lng, **extra})
    return await database_sync_to_async(location_record)(user=user, fix=fix)


async def subscribe(comm, lat=HEL[0], lng=HEL[1], radius=1000):
    await send(comm, "map:subscribe", {"lat": lat, "lng": lng, "radius": radius}, frame_id="sub")
    snapshot = await recv(comm)
    assert snapshot["event"] == "map:snapshot"
    ack = await recv(comm)
    assert ack["event"] == "ack" and ack["id"] == "sub"
    return snapshot["data"]


async def test_snapshot_then_cell_change_stream(people):
    viewer, mover = people["viewer"], people["mover"]
    await fix(mover, *HEL)
    await tick()
    comm, ok, _ = await ws_connect(viewer)
    assert ok
    snap = await subscribe(comm)
    cell = cell_for(*HEL)
    assert snap["count"] == 1
    node = snap["results"][0]
    assert node["user_id"] == str(mover.pk)
    assert (node["lat"], node["lng"]) == (round(cell.lat, 7), round(cell.lng, 7))
    assert node["online"] is False

    # a move inside the same cell publishes nothing
    await fix(mover, HEL[0] + 0.00001, HEL[1] + 0.00001, timestamp=(timezone.now() + timedelta(seconds=2)).isoformat())
    await tick()
    assert await drain(comm) == []

    # a move into another cell is published at the next tick, snapped
    await fix(mover, *NEXT_CELL, timestamp=(timezone.now() + timedelta(seconds=4)).isoformat())
    assert await drain(comm, 0.2) == []  # nothing before the tick
    await tick()
    frame, before = await recv_until(comm, "user:location")
    new = cell_for(*NEXT_CELL)
    assert before == []
    assert frame["data"]["user_id"] == str(mover.pk)
    assert (frame["data"]["lat"], frame["data"]["lng"]) == (round(new.lat, 7), round(new.lng, 7))
    assert frame["data"]["precision_m"] == 100.0
    assert frame["data"]["published_at"] > 0
    assert await drain(comm) == []  # published to several tiles, delivered once
    await comm.disconnect()


async def test_user_gone_when_sharing_stops_and_back_when_resumed(people):
    viewer, mover = people["viewer"], people["mover"]
    await fix(mover, *HEL)
    await tick()
    comm, _, _ = await ws_connect(viewer)
    await subscribe(comm)
    mover_settings = await database_sync_to_async(UserSettings.objects.get)(user=mover)
    await database_sync_to_async(account_services.user_settings_update)(user=mover, data={"location_sharing": False})
    await tick()
    frame, _ = await recv_until(comm, "user:gone")
    assert frame["data"] == {"user_id": str(mover.pk)}
    await database_sync_to_async(mover_settings.refresh_from_db)()
    assert mover_settings.location_sharing is False
    await database_sync_to_async(account_services.user_settings_update)(user=mover, data={"location_sharing": True})
    await tick()
    frame, _ = await recv_until(comm, "user:location")
    assert frame["data"]["user_id"] == str(mover.pk)
    await database_sync_to_async(mover_settings.refresh_from_db)()  # read the saved row, not the one loaded before
    assert mover_settings.location_sharing is True
    await comm.disconnect()


async def test_non_sharing_user_never_reaches_socket(people, make_user):
    viewer = people["viewer"]
    hidden = await database_sync_to_async(make_user)(username="hidden", email="h@example.test", sharing=False)
    comm, _, _ = await ws_connect(viewer)
    snap = await subscribe(comm)
    assert snap["count"] == 0
    await fix(hidden, *HEL)
    await tick()
    await fix(hidden, *NEXT_CELL, timestamp=(timezone.now() + timedelta(seconds=3)).isoformat())
    await tick()
    assert await drain(comm, 0.5) == []
    await comm.disconnect()


async def test_visible_roles_exclude_viewer(people, make_user):
    viewer = people["viewer"]  # holds "walker"
    drivers_only = await database_sync_to_async(make_user)(
        username="donly", email="d@example.test", sharing=True, visible_roles=["driver"]
    )
    walkers_ok = await database_sync_to_async(make_user)(
        username="wok", email="w@example.test", sharing=True, visible_roles=["walker", "driver"]
    )
    comm, _, _ = await ws_connect(viewer)
    await subscribe(comm)
    await fix(drivers_only, *HEL)
    await fix(walkers_ok, *NEXT_CELL)
    await tick()
    frames = await drain(comm, 0.5)
    assert [f["data"]["user_id"] for f in frames if f["event"] == "user:location"] == [str(walkers_ok.pk)]
    assert all(f["data"]["user_id"] != str(drivers_only.pk) for f in frames)
    await comm.disconnect()


async def test_show_roles_filter_of_viewer(people, make_user):
    viewer, mover = people["viewer"], people["mover"]  # mover holds "runner"
    await database_sync_to_async(account_services.user_settings_update)(
        user=viewer, data={"filters": {"show_roles": ["driver"]}}
    )
    comm, _, _ = await ws_connect(viewer)
    await subscribe(comm)
    await fix(mover, *HEL)
    await tick()
    assert await drain(comm, 0.5) == []
    await comm.disconnect()


@pytest.mark.parametrize("direction", ["viewer_blocks", "mover_blocks"])
async def test_block_either_way_removes_and_hides(people, direction):
    viewer, mover = people["viewer"], people["mover"]
    await fix(mover, *HEL)
    await tick()
    comm, _, _ = await ws_connect(viewer)
    snap = await subscribe(comm)
    assert snap["count"] == 1
    blocker, blocked = (viewer, mover) if direction == "viewer_blocks" else (mover, viewer)
    await database_sync_to_async(account_services.block_create)(blocker=blocker, blocked_id=blocked.pk)
    frame, _ = await recv_until(comm, "user:gone")
    assert frame["data"]["user_id"] == str(mover.pk)
    await fix(mover, *NEXT_CELL, timestamp=(timezone.now() + timedelta(seconds=3)).isoformat())
    await tick()
    assert await drain(comm, 0.5) == []
    await comm.disconnect()


async def test_leaving_the_area_sends_gone(people):
    viewer, mover = people["viewer"], people["mover"]
    await fix(mover, *HEL)
    await tick()
    comm, _, _ = await ws_connect(viewer)
    await subscribe(comm, radius=300)
    await fix(mover, HEL[0] + 0.01, HEL[1], timestamp=(timezone.now() + timedelta(seconds=3)).isoformat())  # ~1.1 km
    await tick()
    frame, _ = await recv_until(comm, "user:gone")
    assert frame["data"]["user_id"] == str(mover.pk)
    await comm.disconnect()


async def test_stale_fix_sends_gone(people, settings):
    viewer, mover = people["viewer"], people["mover"]
    settings.LOCATION_TTL_S = 300
    await fix(mover, *HEL, timestamp=(timezone.now() - timedelta(seconds=295)).isoformat())
    await tick()
    comm, _, _ = await ws_connect(viewer)
    snap = await subscribe(comm)
    assert snap["count"] == 1
    settings.LOCATION_TTL_S = 230  # older than the TTL even after freshness rounds down to the minute
    await tick()
    frame, _ = await recv_until(comm, "user:gone")
    assert frame["data"]["user_id"] == str(mover.pk)
    await comm.disconnect()


async def test_unsubscribe_stops_stream(people):
    viewer, mover = people["viewer"], people["mover"]
    comm, _, _ = await ws_connect(viewer)
    await subscribe(comm)
    await send(comm, "map:unsubscribe", {}, frame_id="u")
    assert (await recv(comm))["event"] == "ack"
    await fix(mover, *HEL)
    await tick()
    assert await drain(comm, 0.5) == []
    await comm.disconnect()


async def test_own_moves_are_not_streamed_to_self(people):
    viewer = people["viewer"]
    comm, _, _ = await ws_connect(viewer)
    await subscribe(comm)
    await fix(viewer, *HEL)
    await tick()
    assert await drain(comm, 0.5) == []
    await comm.disconnect()


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"lat": 100, "lng": 0, "radius": 500}, "lat"),
        ({"lat": 0, "lng": 0, "radius": 50_001}, "radius"),
        ({"lat": 0, "lng": 0, "radius": -1}, "radius"),
        ({"lng": 0, "radius": 10}, "lat"),
        ({"lat": 0, "lng": 0, "radius": 10, "batch": "maybe"}, "batch"),
        ({"lat": 0, "lng": 0, "radius": 10, "batch": [True]}, "batch"),
    ],
)
async def test_subscribe_bad_input(people, data, field):
    comm, _, _ = await ws_connect(people["viewer"])
    await send(comm, "map:subscribe", data, frame_id="bad")
    frame = await recv(comm)
    assert frame["event"] == "error" and frame["data"]["code"] == "invalid" and field in frame["data"]["fields"]
    await comm.disconnect()


async def test_subscribe_default_radius_is_search_radius(people):
    viewer = people["viewer"]
    await database_sync_to_async(UserSettings.objects.filter(user=viewer).update)(search_radius_m=750)
    comm, _, _ = await ws_connect(viewer)
    await send(comm, "map:subscribe", {"lat": HEL[0], "lng": HEL[1]}, frame_id="s")
    _, _ = await recv_until(comm, "map:snapshot")
    ack = await recv(comm)
    assert ack["data"]["radius"] == 750
    await comm.disconnect()


async def test_online_flag_in_snapshot(people):
    viewer, mover = people["viewer"], people["mover"]
    mover_comm, _, _ = await ws_connect(mover)
    await fix(mover, *HEL)
    await tick()
    comm, _, _ = await ws_connect(viewer)
    snap = await subscribe(comm)
    assert snap["results"][0]["online"] is True
    await mover_comm.disconnect()
    await comm.disconnect()
