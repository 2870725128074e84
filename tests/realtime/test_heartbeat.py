"""One presence heartbeat per process (``realtime.heartbeat``) instead of a task per socket."""

from __future__ import annotations

import asyncio
import time

import pytest
from channels.db import database_sync_to_async

from core.redis import get_redis
from realtime.heartbeat import PresenceHeartbeat, heartbeat_get
from realtime.presence import _key, presence_online_ids, presence_touch_many

from .conftest import ws_connect

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


@pytest.fixture
async def alice(rt_db, make_user):
    return await database_sync_to_async(make_user)(sharing=True)


async def _scores(user_id) -> dict:
    return dict(await asyncio.to_thread(get_redis().zrange, _key(user_id), 0, -1, withscores=True))


async def test_touch_many_refreshes_every_socket_in_chunks(make_user, settings):
    users = [await database_sync_to_async(make_user)() for _ in range(3)]
    entries = [(u.pk, f"specific.{u.pk}.{n}") for u in users for n in range(2)]
    r = get_redis()
    stale = time.time() - settings.PRESENCE_TTL_S - 10
    for uid, channel in entries:
        r.zadd(_key(uid), {channel: stale})
    assert presence_online_ids([u.pk for u in users]) == set()
    presence_touch_many(entries, chunk=4)  # two pipelines
    assert presence_online_ids([u.pk for u in users]) == {u.pk for u in users}
    for u in users:
        scores = await _scores(u.pk)
        assert len(scores) == 2 and all(s == pytest.approx(time.time(), abs=5) for s in scores.values())
        assert 0 < r.ttl(_key(u.pk)) <= settings.PRESENCE_TTL_S * 2


async def test_beat_touches_the_registered_sockets_only(make_user, settings):
    a, b = [await database_sync_to_async(make_user)() for _ in range(2)]
    beat = PresenceHeartbeat()
    beat.sockets = {"specific.a": a.pk, "specific.b": b.pk}  # registered without starting the task
    assert await beat.beat() == 2
    assert presence_online_ids([a.pk, b.pk]) == {a.pk, b.pk}
    beat.sockets.pop("specific.b")
    get_redis().zadd(_key(b.pk), {"specific.b": time.time() - settings.PRESENCE_TTL_S - 1})
    assert await beat.beat() == 1
    assert presence_online_ids([a.pk, b.pk]) == {a.pk}


async def test_an_open_socket_stays_online_past_the_ttl_and_the_task_ends_with_the_last_socket(alice, settings):
    settings.PRESENCE_TTL_S = 3  # a beat every second
    comm, connected, _ = await ws_connect(alice)
    assert connected
    beat = heartbeat_get()
    channels = [c for c, uid in beat.sockets.items() if uid == alice.pk]
    assert len(channels) == 1 and beat._task is not None and not beat._task.done()
    # the connect's entry ages out of the TTL; only the process heartbeat can bring it back
    get_redis().zadd(_key(alice.pk), {channels[0]: time.time() - 10})
    assert presence_online_ids([alice.pk]) == set()
    deadline = time.monotonic() + 5
    while not presence_online_ids([alice.pk]):
        assert time.monotonic() < deadline, "the heartbeat never touched the socket"
        await asyncio.sleep(0.1)
    await comm.disconnect()
    await asyncio.sleep(0.05)
    assert channels[0] not in beat.sockets
    if not beat.sockets:
        assert beat._task is None
