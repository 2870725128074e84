"""The durable ``notification`` event: live on ``user.<id>`` with offset/cursor, replayed once after a reconnect."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async
from django.db import transaction

from notifications.services import notification_send

from ..realtime.conftest import drain, recv_until, ws_connect

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


@pytest.fixture
async def users(transactional_db, make_user):
    make = database_sync_to_async(make_user)
    return await make(), await make()


def send_committed(user, content, **kwargs):
    with transaction.atomic():
        return notification_send(user=user, type="system", content=content, **kwargs)


async def test_socket_receives_notification_with_cursor(users, client_for):
    me, other = users
    comm, ok, _ = await ws_connect(me)
    spy, _, _ = await ws_connect(other)
    assert ok
    item = await database_sync_to_async(send_committed)(me, "hello", related_kind="walk", related_id=7)
    frame, _ = await recv_until(comm, "notification")
    assert frame["offset"] and frame["cursor"]
    rest = await database_sync_to_async(lambda: client_for(me).get("/api/notifications").json()["results"][0])()
    assert frame["data"] == rest  # the event is the REST object
    assert frame["data"]["id"] == item.pk and frame["data"]["related_id"] == "7"
    # Another user's socket hears nothing.
    assert [f for f in await drain(spy, 0.4) if f["event"] == "notification"] == []
    await comm.disconnect()
    await spy.disconnect()


async def test_reconnect_with_cursor_replays_missed_notifications_exactly_once(users):
    me, _ = users
    comm, _, _ = await ws_connect(me)
    await database_sync_to_async(send_committed)(me, "first")
    first, _ = await recv_until(comm, "notification")
    await comm.disconnect()
    for n in range(3):
        await database_sync_to_async(send_committed)(me, f"missed {n}")
    comm, ok, _ = await ws_connect(me, query=f"since={first['cursor']}")
    assert ok
    frames = await drain(comm, 0.6)
    got = [f["data"]["content"] for f in frames if f["event"] == "notification"]
    assert got == ["missed 0", "missed 1", "missed 2"]
    assert frames[-1]["event"] == "sync:done"
    # Live after the replay, once.
    await database_sync_to_async(send_committed)(me, "live")
    live, _ = await recv_until(comm, "notification")
    assert live["data"]["content"] == "live"
    assert [f for f in await drain(comm, 0.4) if f["event"] == "notification"] == []
    # Reconnecting with the newest cursor replays nothing.
    await comm.disconnect()
    comm, _, _ = await ws_connect(me, query=f"since={live['cursor']}")
    frames = await drain(comm, 0.5)
    assert [f for f in frames if f["event"] == "notification"] == []
    assert frames and frames[-1]["event"] == "sync:done"
    await comm.disconnect()


async def test_in_app_off_sends_no_event(users):
    from notifications.models import NotificationPreference

    me, _ = users
    await database_sync_to_async(NotificationPreference.objects.create)(user=me, type="system", in_app=False)
    comm, _, _ = await ws_connect(me)
    assert await database_sync_to_async(send_committed)(me, "silent") is None
    assert [f for f in await drain(comm, 0.5) if f["event"] == "notification"] == []
    await comm.disconnect()
