"""The live map fan-out of one process (``geo.live.MapFanout``) and a socket's map subscription
(``geo.realtime.MapSubscription``): the tile index, the one Redis listener, per-viewer judging,
the snapshot race, the ``map:changes`` batch frame and slow clients.

Unit tests use fake subscriptions/consumers on a private :class:`MapFanout` (real Redis); the
socket tests run the real ASGI router in process (``tests/realtime/conftest.py``). Ticks are run
with explicit, unique ``seq`` values: a subscription treats two changes of one user with the same
``seq`` as one change seen through two tiles.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import socket
import time
import uuid
from collections import Counter
from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from django.utils import timezone

from accounts import services as account_services
from core.errors import ServiceUnavailable
from core.redis import get_redis
from core.validation import validated
from geo import live, realtime
from geo.fanout import map_publish_tick
from geo.grid import cell_for, tiles_for_circle
from geo.live import MapFanout, map_changes_channel, map_fanout_get
from geo.realtime import MapSubscription
from geo.selectors import ViewerContext
from geo.serializers import LocationFixInputSerializer
from geo.services import location_record

from ..realtime.conftest import drain, recv, recv_until, send, ws_connect

pytestmark = pytest.mark.asyncio

HEL = (60.1699, 24.9384)  # Helsinki, WGS84 degrees
NEXT_CELL = (60.1699 + 0.0020, 24.9384)  # ~220 m north: another grid cell, same 1 km circle
NEXT_CELL_2 = (60.1699 - 0.0020, 24.9384)  # ~220 m south
FAR = (60.1699 + 0.1, 24.9384)  # ~11 km north: other tiles

#: Unique tick numbers for this process (see the module docstring).
_SEQ = itertools.count(1_000_000)

socket_db = pytest.mark.django_db(transaction=True)


# --- helpers ------------------------------------------------------------------------------------


async def wait_for(predicate, timeout: float = 3.0, what: str = "condition"):
    """Poll ``predicate()`` on the event loop until true; fail after ``timeout`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


def numsub() -> int:
    """Subscribers of the map changes channel in Redis (only this test run uses the key prefix)."""
    return dict(get_redis().pubsub_numsub(map_changes_channel())).get(map_changes_channel(), 0)


def closed_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class FakeSub:
    """The interface MapFanout needs: ``groups`` and a non-blocking ``offer_many``."""

    def __init__(self, *groups: str):
        self.groups = list(groups)
        self.offers: list[dict] = []

    def offer_many(self, changes: list[dict]) -> None:
        self.offers.extend(changes)

    @property
    def offered_ids(self) -> list[str]:
        return [c["user_id"] for c in self.offers]


class _Transport:
    """A server protocol's send side with uvicorn-style flow control (``writable`` cleared while paused)."""

    def __init__(self, writable: bool):
        self.writable = asyncio.Event()
        if writable:
            self.writable.set()

    async def send(self, message: dict) -> None:  # pragma: no cover - the fakes write through send()
        raise AssertionError("map frames are written with consumer.send()")


class FakeConsumer:
    """``send(text_data=...)`` of a socket; with ``gate``, a client that stopped reading.

    The first ``free_sends`` sends complete; the next ones wait for ``gate`` (the transport's buffer
    is full). ``base_send`` is bound to a transport whose ``writable`` event is cleared from then
    on, as a real consumer's ``base_send`` is bound to the server protocol (uvicorn). ``attempts``:
    every frame a send was started for; ``frames``: the frames whose send completed.
    """

    def __init__(self, gate: asyncio.Event | None = None, free_sends: int = 0):
        self.gate = gate
        self.free_sends = free_sends
        self.transport = _Transport(writable=gate is None or free_sends > 0)
        self.base_send = self.transport.send
        self.calls = 0
        self.attempts: list[dict] = []
        self.frames: list[dict] = []

    def release(self) -> None:
        """The client reads again."""
        self.gate.set()
        self.transport.writable.set()

    async def send(self, text_data: str) -> None:
        self.calls += 1
        self.attempts.append(json.loads(text_data))
        if self.gate is not None and self.calls > self.free_sends:
            await self.gate.wait()
        self.frames.append(json.loads(text_data))
        if self.gate is not None and self.calls >= self.free_sends and not self.gate.is_set():
            self.transport.writable.clear()  # this write filled the buffer


def frame_items(frames: list[dict]) -> list[tuple[str, float | None]]:
    """``(user_id, lat)`` of every piece of news in ``frames`` (``lat`` None: gone), in order."""
    items = []
    for frame in frames:
        if frame["event"] == "map:changes":
            items.extend((i["user_id"], i["lat"]) for i in frame["data"]["locations"])
            items.extend((uid, None) for uid in frame["data"]["gone"])
        elif frame["event"] == "user:location":
            items.append((frame["data"]["user_id"], frame["data"]["lat"]))
        else:
            items.append((frame["data"]["user_id"], None))
    return items


def viewer_ctx(**extra) -> ViewerContext:
    return ViewerContext(
        user_id=uuid.uuid4(), roles=frozenset(), show_roles=frozenset(), blocked_ids=frozenset(), **extra
    )


def cell_change(uid: str, lat: float | None, lng: float | None, tiles: list[str], **extra) -> dict:
    """One ``map.cell`` change as ``geo.fanout`` publishes it (``lat`` None: no longer visible)."""
    visible = lat is not None
    return {
        "type": "map.cell",
        "user_id": uid,
        "visible": visible,
        "lat": lat,
        "lng": lng,
        "roles": [],
        "visible_roles": [],
        "recorded_at": time.time() if visible else None,
        "contacts_only": False,
        "tiles": tiles,
        **extra,
    }


def tick_payload(*changes: dict, seq: int | None = None) -> dict:
    return {"seq": seq if seq is not None else next(_SEQ), "published_at": time.time(), "changes": list(changes)}


def subscription(consumer, groups, *, batch=False, lat=HEL[0], lng=HEL[1], radius=1000.0, viewer=None):
    return MapSubscription(
        lat=lat,
        lng=lng,
        radius_m=radius,
        groups=list(groups),
        viewer=viewer or viewer_ctx(),
        consumer=consumer,
        batch=batch,
    )


async def tick():
    """One map tick with a fresh seq, from async code."""
    return await database_sync_to_async(map_publish_tick)(seq=next(_SEQ))


async def fix(user, lat, lng, after_s: float = 0.0):
    """Record a fix through the service (``after_s``: timestamp offset from now, seconds)."""
    data = {"lat": lat, "lng": lng, "timestamp": (timezone.now() + timedelta(seconds=after_s)).isoformat()}
    return await database_sync_to_async(location_record)(user=user, fix=validated(LocationFixInputSerializer, data))


async def sharing(user, on: bool):
    await database_sync_to_async(account_services.user_settings_update)(user=user, data={"location_sharing": on})


async def subscribe(comm, lat=HEL[0], lng=HEL[1], radius=1000, batch=None, frame_id="sub") -> dict:
    """``map:subscribe``; returns the snapshot data (asserts snapshot, then the ack)."""
    data = {"lat": lat, "lng": lng, "radius": radius}
    if batch is not None:
        data["batch"] = batch
    await send(comm, "map:subscribe", data, frame_id=frame_id)
    snapshot = await recv(comm)
    assert snapshot["event"] == "map:snapshot", snapshot
    ack = await recv(comm)
    assert ack["event"] == "ack" and ack["id"] == frame_id, ack
    return snapshot["data"]


def centre(point) -> tuple[float, float]:
    c = cell_for(*point)
    return round(c.lat, 7), round(c.lng, 7)


@pytest.fixture
async def mk(transactional_db, make_user):
    """``await mk(name, **make_user_kwargs)``: a committed user."""

    async def make(name: str, **kwargs):
        return await database_sync_to_async(make_user)(username=name, email=f"{name}@example.test", **kwargs)

    return make


# --- MapFanout, unit level ----------------------------------------------------------------------


async def test_add_remove_index_and_one_listener_that_stops_and_restarts():
    fanout = MapFanout()
    a, b = FakeSub("cell.t1", "cell.t2"), FakeSub("cell.t2")

    await fanout.add(a)
    # add() returns only once Redis confirmed the SUBSCRIBE: no polling needed here
    assert numsub() == 1
    assert fanout.tiles == {"cell.t1": {a}, "cell.t2": {a}}
    first_listener = fanout._task

    await fanout.add(b)
    assert fanout.tiles == {"cell.t1": {a}, "cell.t2": {a, b}}
    assert fanout._task is first_listener  # one listener per loop, not one per subscription
    assert numsub() == 1

    fanout.remove(a)
    assert fanout.tiles == {"cell.t2": {b}}
    assert not first_listener.done()  # b still needs it
    fanout.remove(a)  # removing twice is harmless
    assert fanout.tiles == {"cell.t2": {b}}

    fanout.remove(b)
    assert fanout.tiles == {}
    await wait_for(first_listener.done, what="listener to stop")
    assert first_listener.cancelled()
    await wait_for(lambda: numsub() == 0, what="Redis to drop the listener's subscription")

    # a message published while nobody listens reaches nobody (and is not replayed later)
    get_redis().publish(map_changes_channel(), json.dumps(tick_payload(cell_change("lost", *HEL, ["cell.t2"]))))

    await fanout.add(b)  # the next add starts a new listener
    assert fanout._task is not first_listener and not fanout._task.done()
    assert numsub() == 1
    get_redis().publish(map_changes_channel(), json.dumps(tick_payload(cell_change("u1", *HEL, ["cell.t2"]))))
    await wait_for(lambda: b.offers, what="the published change")
    assert b.offered_ids == ["u1"]
    fanout.remove(b)
    await wait_for(lambda: numsub() == 0, what="listener to stop")


async def test_deliver_offers_each_change_only_to_the_subscriptions_of_its_tiles():
    fanout = MapFanout()
    a, b, both, other = FakeSub("cell.t1"), FakeSub("cell.t2"), FakeSub("cell.t1", "cell.t2"), FakeSub("cell.t3")
    for sub in (a, b, both, other):
        await fanout.add(sub)
    payload = tick_payload(
        cell_change("u1", *HEL, ["cell.t1"]),
        cell_change("u2", *HEL, ["cell.t2"]),
        cell_change("u3", *HEL, ["cell.t1", "cell.t2"]),
        cell_change("u4", *HEL, ["cell.t9"]),  # nobody here
        seq=77,
    )
    offers = fanout.deliver(payload)
    assert Counter(a.offered_ids) == Counter(["u1", "u3"])
    assert Counter(b.offered_ids) == Counter(["u2", "u3"])
    assert Counter(both.offered_ids) == Counter(["u1", "u2", "u3", "u3"])  # once per tile
    assert other.offers == []
    assert offers == 2 + 2 + 4
    # every change carries the tick's seq and publication time (the dedup and the payload need them)
    for change in a.offers + b.offers + both.offers:
        assert change["seq"] == 77 and change["published_at"] == payload["published_at"]
    for sub in (a, b, both, other):
        fanout.remove(sub)
    assert fanout.tiles == {}


async def test_deliver_through_redis_reaches_only_the_right_tiles():
    fanout = MapFanout()
    a, b = FakeSub("cell.t1"), FakeSub("cell.t2")
    await fanout.add(a)
    await fanout.add(b)
    get_redis().publish(
        map_changes_channel(),
        json.dumps(tick_payload(cell_change("u1", *HEL, ["cell.t1"]), cell_change("u2", *HEL, ["cell.t1"]))),
    )
    await wait_for(lambda: len(a.offers) == 2, what="both changes")
    await asyncio.sleep(0.1)
    assert a.offered_ids == ["u1", "u2"] and b.offers == []
    fanout.remove(a)
    fanout.remove(b)


async def test_change_on_two_tiles_of_one_subscription_is_judged_and_sent_once(monkeypatch):
    judged = []
    real_allows = realtime.visibility_allows

    def counting_allows(viewer, target, *args, **kwargs):
        judged.append(str(target.user_id))
        return real_allows(viewer, target, *args, **kwargs)

    monkeypatch.setattr(realtime, "visibility_allows", counting_allows)
    fanout = MapFanout()
    consumer = FakeConsumer()
    sub = subscription(consumer, ["cell.t1", "cell.t2"])
    await fanout.add(sub)
    uid = str(uuid.uuid4())

    offers = fanout.deliver(tick_payload(cell_change(uid, *centre(HEL), ["cell.t1", "cell.t2"])))
    assert offers == 2
    assert judged == [uid]
    await wait_for(lambda: consumer.frames, what="the frame")
    await asyncio.sleep(0.05)
    assert [(f["event"], f["data"]["user_id"]) for f in consumer.frames] == [("user:location", uid)]

    # the next tick's change of the same user is a new change: judged and sent (once) again
    offers = fanout.deliver(tick_payload(cell_change(uid, *centre(NEXT_CELL), ["cell.t1", "cell.t2"])))
    assert offers == 2
    assert judged == [uid, uid]
    await wait_for(lambda: len(consumer.frames) == 2, what="the second frame")
    await asyncio.sleep(0.05)
    assert len(consumer.frames) == 2
    assert (consumer.frames[1]["data"]["lat"], consumer.frames[1]["data"]["lng"]) == centre(NEXT_CELL)
    fanout.remove(sub)


async def test_add_when_redis_is_unreachable_answers_503_and_indexes_nothing(settings, monkeypatch):
    good_url = settings.REDIS_URL
    settings.REDIS_URL = f"redis://127.0.0.1:{closed_port()}/0"
    monkeypatch.setattr(live, "SUBSCRIBE_TIMEOUT_S", 0.3)
    fanout = MapFanout()
    a, b = FakeSub("cell.t1"), FakeSub("cell.t1", "cell.t2")

    loop = asyncio.get_running_loop()
    started = loop.time()
    results = await asyncio.gather(fanout.add(a), fanout.add(b), return_exceptions=True)
    elapsed = loop.time() - started
    assert all(isinstance(r, ServiceUnavailable) for r in results), results
    assert results[0].status == 503 and results[0].code == "service_unavailable"
    assert 0.3 <= elapsed < 3.0  # the timeout, not a hang
    assert fanout.tiles == {}
    assert fanout._task is None  # no listener left retrying for nobody

    # Redis back: the next add works (nothing wedged by the failure)
    settings.REDIS_URL = good_url
    await asyncio.wait_for(fanout.add(a), 3.0)
    assert fanout.tiles == {"cell.t1": {a}} and numsub() == 1
    fanout.remove(a)


# --- MapSubscription: slow clients, close ------------------------------------------------------


@pytest.mark.parametrize(
    ("batch", "free_sends"),
    [
        pytest.param(False, 0, id="single-stopped_reading"),
        pytest.param(True, 0, id="batch-stopped_reading"),
        pytest.param(False, 1, id="single-pauses_mid_write"),
        pytest.param(True, 1, id="batch-pauses_mid_write"),
    ],
)
async def test_slow_consumer_never_blocks_others_and_keeps_latest_per_user(batch, free_sends):
    """A client that stops reading (from the start, or after one write fills its buffer) holds up
    no other socket of the process, and what waits for it is at most the newest news per user."""
    fanout = MapFanout()
    gate = asyncio.Event()  # set only at the end: the slow client reads again
    slow_consumer = FakeConsumer(gate, free_sends=free_sends)
    fast_consumers = [FakeConsumer() for _ in range(3)]
    slow = subscription(slow_consumer, ["cell.t1"], batch=batch)
    fast_subs = [subscription(c, ["cell.t1"], batch=batch) for c in fast_consumers]
    for sub in (*fast_subs, slow):
        await fanout.add(sub)
    try:
        a, b = str(uuid.uuid4()), str(uuid.uuid4())
        points = [centre(HEL), centre(NEXT_CELL), centre(NEXT_CELL_2)]

        expected_fast = []
        for n, point in enumerate(points, start=1):
            fanout.deliver(tick_payload(cell_change(a, *point, ["cell.t1"]), cell_change(b, *point, ["cell.t1"])))
            expected_fast += [(a, point[0]), (b, point[0])]
            await wait_for(
                lambda: all(frame_items(c.frames) == expected_fast for c in fast_consumers),
                what=f"the other clients' frames of tick {n}",
            )
            assert len(slow_consumer.attempts) - len(slow_consumer.frames) <= 1  # at most one write in flight
            assert len(slow.outbox) <= 2  # never more than one entry per user
        for consumer in fast_consumers:  # one map:changes per tick, or one frame per change
            assert [f["event"] for f in consumer.frames] == (["map:changes"] * 3 if batch else ["user:location"] * 6)

        # what waits for the slow client is exactly the newest news of each user (no backlog)
        assert len(slow_consumer.attempts) == len(slow_consumer.frames) + 1  # it is stuck in one write
        assert {uid: json.loads(data)["lat"] for uid, data in slow.outbox.items()} == {
            a: points[-1][0],
            b: points[-1][0],
        }

        started = list(slow_consumer.attempts)
        slow_consumer.release()  # it reads again: the frame in flight, then only the newest state
        newest = [(a, points[-1][0]), (b, points[-1][0])]
        await wait_for(
            lambda: sorted(frame_items(slow_consumer.frames[len(started) :])) == sorted(newest),
            what="the slow client's newest news",
        )
        await asyncio.sleep(0.05)
        assert slow_consumer.frames[: len(started)] == started
        assert sorted(frame_items(slow_consumer.frames[len(started) :])) == sorted(newest)
        assert len(slow_consumer.frames) == len(started) + (1 if batch else 2)
        assert slow.outbox == {}
    finally:
        slow_consumer.release()
        for sub in (*fast_subs, slow):
            fanout.remove(sub)


async def test_client_paused_mid_write_does_not_stall_later_ticks_of_other_tiles():
    fanout = MapFanout()
    gate = asyncio.Event()
    slow_consumer, fast_consumer = FakeConsumer(gate, free_sends=1), FakeConsumer()
    slow = subscription(slow_consumer, ["cell.slow"])
    fast = subscription(fast_consumer, ["cell.fast"])  # shares no tile with the slow socket
    await fanout.add(slow)
    await fanout.add(fast)
    try:
        a, b = str(uuid.uuid4()), str(uuid.uuid4())
        fanout.deliver(
            tick_payload(cell_change(a, *centre(HEL), ["cell.slow"]), cell_change(b, *centre(HEL), ["cell.slow"]))
        )
        await wait_for(lambda: slow_consumer.calls == 2, what="the slow socket's second write")
        assert [f["data"]["user_id"] for f in slow_consumer.frames] == [a]  # the first write paused it
        fanout.deliver(tick_payload(cell_change(a, *centre(NEXT_CELL), ["cell.fast"])))  # a later tick
        await wait_for(lambda: fast_consumer.frames, what="the other socket's frame of the later tick")
        assert frame_items(fast_consumer.frames) == [(a, centre(NEXT_CELL)[0])]
    finally:
        slow_consumer.release()
        fanout.remove(slow)
        fanout.remove(fast)


async def test_closed_subscription_sends_nothing_more():
    fanout = MapFanout()
    gate = asyncio.Event()
    consumer = FakeConsumer(gate)
    sub = subscription(consumer, ["cell.t1"])
    await fanout.add(sub)
    a, b = str(uuid.uuid4()), str(uuid.uuid4())
    fanout.deliver(tick_payload(cell_change(a, *centre(HEL), ["cell.t1"]), cell_change(b, *centre(HEL), ["cell.t1"])))
    await wait_for(lambda: consumer.calls == 1, what="the first send")
    sub.close()
    fanout.remove(sub)
    fanout.deliver(tick_payload(cell_change(a, *centre(NEXT_CELL), ["cell.t1"])))  # not indexed any more
    sub.offer(cell_change(a, *centre(NEXT_CELL), ["cell.t1"], seq=next(_SEQ)))  # a late offer is ignored
    consumer.release()
    await wait_for(lambda: consumer.frames, what="the in-flight frame")
    await asyncio.sleep(0.1)
    assert [f["data"]["user_id"] for f in consumer.frames] == [a]  # only the frame already in flight
    assert sub.outbox == {}


# --- over the socket (real consumer, real ticks) ------------------------------------------------


@socket_db
async def test_batch_one_map_changes_frame_per_tick_with_the_same_payloads_as_single_frames(mk):
    viewer = await mk("viewer", roles=["walker"], sharing=True)
    a = await mk("alice", roles=["runner"], sharing=True)
    b = await mk("bob", roles=["runner"], sharing=True)
    leaver = await mk("leaver", sharing=True)
    blocked = await mk("blocked", sharing=True)
    drivers_only = await mk("donly", sharing=True, visible_roles=["driver"])  # the viewer holds "walker"
    for user in (a, b, leaver, blocked, drivers_only):
        await fix(user, *HEL)
    await database_sync_to_async(account_services.block_create)(blocker=viewer, blocked_id=blocked.pk)
    await tick()

    batch_comm, ok, _ = await ws_connect(viewer)
    single_comm, ok2, _ = await ws_connect(viewer)
    assert ok and ok2
    snap = await subscribe(batch_comm, batch=True)
    assert {n["user_id"] for n in snap["results"]} == {str(a.pk), str(b.pk), str(leaver.pk)}
    await subscribe(single_comm)  # default: no batch

    for user in (a, b, blocked, drivers_only):
        await fix(user, *NEXT_CELL, after_s=2)
    await sharing(leaver, False)
    await tick()

    frame, before = await recv_until(batch_comm, "map:changes")
    assert before == []
    rest = await drain(batch_comm, 0.5)
    assert rest == []  # exactly one frame for the tick, no user:location / user:gone
    data = frame["data"]
    assert set(data) == {"locations", "gone"}
    assert sorted(item["user_id"] for item in data["locations"]) == sorted([str(a.pk), str(b.pk)])
    assert data["gone"] == [str(leaver.pk)]
    for item in data["locations"]:
        assert (item["lat"], item["lng"]) == centre(NEXT_CELL)
        assert item["precision_m"] == 100.0 and item["published_at"] > 0 and item["timestamp"]
    hidden = {str(blocked.pk), str(drivers_only.pk)}
    assert hidden.isdisjoint({item["user_id"] for item in data["locations"]} | set(data["gone"]))

    singles = [await recv(single_comm) for _ in range(3)]
    assert await drain(single_comm, 0.5) == []
    locations = {f["data"]["user_id"]: f["data"] for f in singles if f["event"] == "user:location"}
    gone = [f["data"] for f in singles if f["event"] == "user:gone"]
    assert {f["event"] for f in singles} == {"user:location", "user:gone"}
    assert locations == {item["user_id"]: item for item in data["locations"]}  # identical payloads
    assert gone == [{"user_id": str(leaver.pk)}]
    await batch_comm.disconnect()
    await single_comm.disconnect()
    assert map_fanout_get().tiles == {}


@socket_db
async def test_batch_frame_never_names_a_hidden_user_even_alone(mk):
    """A tick whose only changes are of users the viewer may not see sends no frame at all."""
    viewer = await mk("viewer", roles=["walker"], sharing=True)
    blocker = await mk("blocker", sharing=True)
    drivers_only = await mk("donly", sharing=True, visible_roles=["driver"])
    await database_sync_to_async(account_services.block_create)(blocker=blocker, blocked_id=viewer.pk)
    comm, _, _ = await ws_connect(viewer)
    snap = await subscribe(comm, batch=True)
    assert snap["count"] == 0
    await fix(blocker, *HEL)
    await fix(drivers_only, *HEL)
    await tick()
    await fix(blocker, *NEXT_CELL, after_s=2)
    await fix(drivers_only, *NEXT_CELL, after_s=2)
    await sharing(blocker, False)
    await tick()
    assert await drain(comm, 0.5) == []
    await comm.disconnect()


@socket_db
@pytest.mark.parametrize("batch", [False, True], ids=["single", "batch"])
@pytest.mark.parametrize("race", ["moves", "stops_sharing"])
async def test_change_published_while_the_snapshot_is_read_is_not_lost(mk, monkeypatch, race, batch):
    viewer = await mk("viewer", sharing=True)
    mover = await mk("mover", sharing=True)
    await fix(mover, *HEL)
    await tick()
    if race == "moves":
        await fix(mover, *NEXT_CELL, after_s=2)  # stored, published only by the racing tick
    fanout = map_fanout_get()
    real_snapshot = realtime._snapshot
    pending_seen: list[list[str]] = []

    def racing_snapshot(user, lat, lng, radius):
        result = real_snapshot(user, lat, lng, radius)  # the map as it was before the tick
        if race == "stops_sharing":
            account_services.user_settings_update(user=mover, data={"location_sharing": False})
        map_publish_tick(seq=next(_SEQ))  # the tick commits and publishes while the snapshot is in flight
        deadline = time.monotonic() + 5
        subs: list = []
        while time.monotonic() < deadline:  # until this process's listener handed it to the subscription
            subs = list({s for group in list(fanout.tiles.values()) for s in group})
            if any(s.pending for s in subs):
                break
            time.sleep(0.01)
        pending_seen.extend(list(s.pending) for s in subs)
        return result

    monkeypatch.setattr(realtime, "_snapshot", racing_snapshot)
    comm, _, _ = await ws_connect(viewer)
    await send(comm, "map:subscribe", {"lat": HEL[0], "lng": HEL[1], "radius": 1000, "batch": batch}, frame_id="s")
    snapshot = await recv(comm)
    assert snapshot["event"] == "map:snapshot"
    [node] = snapshot["data"]["results"]  # the pre-tick map: the mover, in its old cell
    assert node["user_id"] == str(mover.pk) and (node["lat"], node["lng"]) == centre(HEL)
    assert pending_seen == [[str(mover.pk)]], "the change did not arrive during the snapshot read"

    frames = await drain(comm, 1.0)
    assert [f["id"] for f in frames if f["event"] == "ack"] == ["s"]
    news = [f for f in frames if f["event"] != "ack"]
    assert len(news) == 1, frames
    event, data = news[0]["event"], news[0]["data"]
    if race == "moves":
        item = data["locations"][0] if batch else data
        assert event == ("map:changes" if batch else "user:location")
        if batch:
            assert len(data["locations"]) == 1 and data["gone"] == []
        assert item["user_id"] == str(mover.pk) and (item["lat"], item["lng"]) == centre(NEXT_CELL)
    elif batch:
        assert event == "map:changes" and data == {"locations": [], "gone": [str(mover.pk)]}
    else:
        assert event == "user:gone" and data == {"user_id": str(mover.pk)}
    await comm.disconnect()


@socket_db
async def test_resubscribe_replaces_and_unsubscribe_stops(mk):
    assert set(tiles_for_circle(*HEL, 1000)).isdisjoint(tiles_for_circle(*FAR, 1000))
    viewer = await mk("viewer", sharing=True)
    near = await mk("near", sharing=True)
    far = await mk("far", sharing=True)
    await fix(near, *HEL)
    await fix(far, *FAR)
    await tick()
    comm, _, _ = await ws_connect(viewer)
    snap = await subscribe(comm, *HEL, frame_id="s1")
    assert [n["user_id"] for n in snap["results"]] == [str(near.pk)]
    snap = await subscribe(comm, *FAR, frame_id="s2")  # replaces the first circle
    assert [n["user_id"] for n in snap["results"]] == [str(far.pk)]
    fanout = map_fanout_get()
    subs = {s for group in fanout.tiles.values() for s in group}
    assert len(subs) == 1 and set(fanout.tiles) == set(tiles_for_circle(*FAR, 1000))

    await fix(near, *NEXT_CELL, after_s=2)  # a change in the old circle only
    await fix(far, FAR[0] + 0.002, FAR[1], after_s=2)
    await tick()
    frames = await drain(comm, 0.7)
    assert [(f["event"], f["data"]["user_id"]) for f in frames] == [("user:location", str(far.pk))]

    await send(comm, "map:unsubscribe", {}, frame_id="u")
    ack = await recv(comm)
    assert ack["event"] == "ack" and ack["id"] == "u" and ack["data"] == {"subscribed": False}
    assert fanout.tiles == {}
    await wait_for(lambda: numsub() == 0, what="the listener to stop with the last subscription")
    await fix(near, *HEL, after_s=4)
    await fix(far, *FAR, after_s=4)
    await tick()
    assert await drain(comm, 0.5) == []
    await comm.disconnect()


@socket_db
async def test_subscribe_when_redis_is_unreachable_errors_and_leaves_nothing(mk, settings, monkeypatch):
    viewer = await mk("viewer", sharing=True)
    mover = await mk("mover", sharing=True)
    comm, ok, _ = await ws_connect(viewer)
    assert ok
    good_url = settings.REDIS_URL
    settings.REDIS_URL = f"redis://127.0.0.1:{closed_port()}/0"  # read by geo.live's listener only
    monkeypatch.setattr(live, "SUBSCRIBE_TIMEOUT_S", 0.3)
    await send(comm, "map:subscribe", {"lat": HEL[0], "lng": HEL[1], "radius": 1000}, frame_id="s")
    frame = await recv(comm, timeout=5)
    assert frame["event"] == "error" and frame["id"] == "s"
    assert frame["data"]["code"] == "service_unavailable"
    assert map_fanout_get().tiles == {}

    settings.REDIS_URL = good_url
    await fix(mover, *HEL)
    await tick()
    assert await drain(comm, 0.3) == []  # no half-made subscription streams anything
    snap = await subscribe(comm, frame_id="s2")  # and a retry works
    assert [n["user_id"] for n in snap["results"]] == [str(mover.pk)]
    await comm.disconnect()
    assert map_fanout_get().tiles == {}


@pytest.mark.asyncio
async def test_a_tick_handed_out_in_slices_still_gives_one_map_changes_frame_per_socket(monkeypatch):
    """``deliver_async`` yields between slices, one subscription (all its tiles) at a time.

    A subscription handled in an early slice is written before the tick is
    all out (its viewer does not wait for the others to be judged), yet every
    socket still gets its whole tick in one ``map:changes``.
    """
    import geo.live

    monkeypatch.setattr(geo.live, "YIELD_EVERY_OFFERS", 1)  # yield after every subscription
    fanout = geo.live.map_fanout_get()  # the loop's own: its ``delivering`` is what the outboxes look at
    consumer, single, third = FakeConsumer(), FakeConsumer(), FakeConsumer()
    batch_sub = subscription(consumer, ["cell.t1", "cell.t2"], batch=True)
    single_sub = subscription(single, ["cell.t1", "cell.t2"])
    third_sub = subscription(third, ["cell.t2", "cell.t1"], batch=True)
    subs = (batch_sub, single_sub, third_sub)
    for sub in subs:
        for group in sub.groups:
            fanout.tiles.setdefault(group, set()).add(sub)
    a, b, c = (str(uuid.uuid4()) for _ in range(3))
    payload = tick_payload(
        cell_change(a, *centre(HEL), ["cell.t1"]),
        cell_change(b, *centre(NEXT_CELL), ["cell.t2"]),
        cell_change(c, *centre(NEXT_CELL_2), ["cell.t1", "cell.t2"]),
    )
    seen_during: list[int] = []

    async def watch():
        while fanout.delivering or not seen_during:
            if fanout.delivering:
                seen_during.append(len(consumer.frames) + len(single.frames) + len(third.frames))
            await asyncio.sleep(0)

    watcher = asyncio.ensure_future(watch())
    offers = await fanout.deliver_async(payload)
    await watcher
    for _ in range(20):
        await asyncio.sleep(0)
    assert offers == 12  # 3 subscriptions x (2 changes on t1 + 2 on t2)
    assert len(seen_during) >= 2  # the loop ran between slices
    assert seen_during[0] == 0 and max(seen_during) > 0  # early subscriptions were written during the tick
    for batch_consumer in (consumer, third):
        assert [f["event"] for f in batch_consumer.frames] == ["map:changes"]
        assert {item["user_id"] for item in batch_consumer.frames[0]["data"]["locations"]} == {a, b, c}
    assert sorted(f["data"]["user_id"] for f in single.frames) == sorted([a, b, c])
    assert fanout.delivering is False
    for sub in subs:
        for group in sub.groups:
            fanout.tiles.get(group, set()).discard(sub)
