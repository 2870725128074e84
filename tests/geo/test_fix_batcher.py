"""``geo.ingest.FixBatcher``: group commit of socket fixes, directly and over the real consumer.

``geo.services.location_record_many`` is wrapped (``monkeypatch``) by a
counter that records each batch's size and delegates to the real function;
it can also hold a batch at a gate (a write in progress) or fail one batch,
as PostgreSQL or Redis would when down. Rows are committed (transactional
tests), so they are read back from the database after each answer.
"""

from __future__ import annotations

import asyncio
import threading
from datetime import timedelta

import pytest
import redis
from channels.db import database_sync_to_async as sync
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from core.errors import InvalidInput, NotFound, RateLimited
from geo import services
from geo.ingest import FixBatcher, fix_batcher_get
from geo.models import LocationFix
from geo.serializers import location_fix_parse
from geo.services import FixResult
from tests.realtime.conftest import answer_for, send, ws_connect

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


class BatchSpy:
    """Stands in for ``location_record_many``: counts batches, may hold one at a gate or fail one."""

    def __init__(self, real):
        self.real = real
        self.sizes: list[int] = []
        self.items: list[list] = []
        self.entered = threading.Event()
        self._gate: threading.Event | None = None
        self._fail: dict[int, BaseException] = {}

    def hold_next(self) -> threading.Event:
        """The next batch waits (in its worker thread) until the returned event is set."""
        self.entered.clear()
        self._gate = threading.Event()
        return self._gate

    def fail_batch(self, number: int, exc: BaseException) -> None:
        """Batch ``number`` (1-based, counted from now on) raises ``exc`` instead of writing."""
        self._fail[len(self.sizes) + number] = exc

    def __call__(self, items, **kwargs):
        self.sizes.append(len(items))
        self.items.append(list(items))
        gate, self._gate = self._gate, None
        self.entered.set()
        if gate is not None:
            assert gate.wait(15), "gate never opened"
        exc = self._fail.pop(len(self.sizes), None)
        if exc is not None:
            raise exc
        return self.real(items, **kwargs)


@pytest.fixture
def spy(monkeypatch):
    batch_spy = BatchSpy(services.location_record_many)
    monkeypatch.setattr(services, "location_record_many", batch_spy)
    return batch_spy


@pytest.fixture
def users(transactional_db, make_user):
    """``users(n, **kwargs)``: ``n`` fresh users (async)."""

    async def make(n, **kwargs):
        return [await sync(make_user)(**kwargs) for _ in range(n)]

    return make


def fix(lat, lng, at=None, **extra) -> dict:
    data = {"lat": lat, "lng": lng, **extra}
    if at is not None:
        data["timestamp"] = at.isoformat()
    return location_fix_parse(data)


def ago(seconds: float):
    return timezone.now() - timedelta(seconds=seconds)


@sync
def rows_of(user_ids) -> dict:
    """``{str(user_id): (lat, lng, recorded_at)}`` of the committed fixes of ``user_ids``."""
    return {
        str(row.user_id): (row.location.y, row.location.x, row.recorded_at)
        for row in LocationFix.objects.filter(user_id__in=list(user_ids))
    }


async def wait_entered(spy: BatchSpy) -> None:
    assert await asyncio.to_thread(spy.entered.wait, 10), "no batch started"


# --- FixBatcher directly --------------------------------------------------------------------------


async def test_concurrent_records_are_written_in_fewer_batches_than_fixes(users, spy):
    people = await users(12)
    start = ago(60)
    batcher = FixBatcher(500)
    sent = {p.pk: fix(10 + i / 100, 20.0, start + timedelta(seconds=i)) for i, p in enumerate(people)}
    results = await asyncio.gather(*(batcher.record(uid, values) for uid, values in sent.items()))

    assert sum(spy.sizes) == 12
    assert len(spy.sizes) < 12 and len(spy.sizes) <= 2, spy.sizes
    for (uid, values), result in zip(sent.items(), results, strict=True):
        assert isinstance(result, FixResult)
        assert (result.stored, result.status, result.recorded_at) == (True, "stored", values["timestamp"])
    rows = await rows_of(sent)
    assert rows == {str(uid): (v["lat"], v["lng"], v["timestamp"]) for uid, v in sent.items()}


async def test_a_batch_holds_at_most_max_batch_fixes(users, spy):
    people = await users(10)
    batcher = FixBatcher(3)
    results = await asyncio.gather(*(batcher.record(p.pk, fix(1.0 + i, 2.0)) for i, p in enumerate(people)))
    assert all(r.stored for r in results)
    assert max(spy.sizes) <= 3 and sum(spy.sizes) == 10
    assert len(spy.sizes) == 4, spy.sizes
    assert len(await rows_of([p.pk for p in people])) == 10


async def test_a_lone_fix_is_written_at_once_alone(users, spy):
    (alice,) = await users(1)
    result = await asyncio.wait_for(FixBatcher(500).record(alice.pk, fix(1.0, 2.0)), timeout=5)
    assert result.stored and spy.sizes == [1]


async def test_fixes_arriving_during_a_write_form_the_next_batch(users, spy):
    people = await users(6)
    batcher = FixBatcher(500)
    gate = spy.hold_next()
    first = asyncio.create_task(batcher.record(people[0].pk, fix(1.0, 1.0)))
    await wait_entered(spy)  # the first fix is being written, alone
    rest = [asyncio.create_task(batcher.record(p.pk, fix(2.0 + i, 2.0))) for i, p in enumerate(people[1:])]
    await asyncio.sleep(0.1)
    assert not first.done() and not any(t.done() for t in rest)  # nobody answered before the write ends
    gate.set()
    results = await asyncio.gather(first, *rest)
    assert spy.sizes == [1, 5]
    assert [r.status for r in results] == ["stored"] * 6
    assert [str(uid) for uid, _ in spy.items[1]] == [str(p.pk) for p in people[1:]]  # in arrival order
    assert len(await rows_of([p.pk for p in people])) == 6


async def test_every_caller_gets_its_own_outcome(users, spy, settings):
    settings.LOCATION_MIN_INTERVAL_S = 5
    settings.THROTTLE_LOCATION = "2/min"
    from tests.geo.geoutil import fixed_window_guard

    await asyncio.to_thread(fixed_window_guard, 60, 10)
    stored, coalesced, older, future, limited, gone = await users(6)
    earlier = ago(100)
    for person in (coalesced, older):  # a stored fix each (one hit of their budget)
        await sync(services.location_record)(user=person, fix=fix(5.0, 5.0, earlier))
    gone_id = gone.pk
    await sync(gone.delete)()
    spy.sizes.clear()

    batcher = FixBatcher(500)
    plan = [
        (stored.pk, fix(1.0, 1.0, ago(10))),
        (coalesced.pk, fix(2.0, 2.0, earlier + timedelta(seconds=2))),
        (older.pk, fix(3.0, 3.0, earlier - timedelta(seconds=60))),
        (future.pk, fix(4.0, 4.0, timezone.now() + timedelta(hours=1))),
        (gone_id, fix(6.0, 6.0)),
        (limited.pk, fix(7.0, 7.0, ago(40))),
        (limited.pk, fix(7.1, 7.0, ago(30))),
        (limited.pk, fix(7.2, 7.0, ago(20))),  # its third fix: over 2/min
    ]
    outcomes = await asyncio.gather(*(batcher.record(uid, values) for uid, values in plan), return_exceptions=True)
    assert len(spy.sizes) == 1  # all in one batch, yet each its own answer

    def kind(o):
        return o.status if isinstance(o, FixResult) else (type(o).__name__, o.code)

    assert [kind(o) for o in outcomes] == [
        "stored",
        "coalesced",
        "out_of_order",
        ("InvalidInput", "timestamp_in_future"),
        ("NotFound", "not_found"),
        "stored",
        "stored",
        ("RateLimited", "rate_limited"),
    ]
    assert isinstance(outcomes[3], InvalidInput) and isinstance(outcomes[4], NotFound)
    assert isinstance(outcomes[7], RateLimited) and 0 < outcomes[7].retry_after <= 60
    assert outcomes[0].recorded_at == plan[0][1]["timestamp"]
    assert outcomes[1].recorded_at == plan[1][1]["timestamp"] and outcomes[1].stored is False
    rows = await rows_of([stored.pk, coalesced.pk, older.pk, future.pk, gone_id, limited.pk])
    assert set(rows) == {str(stored.pk), str(coalesced.pk), str(older.pk), str(limited.pk)}
    assert rows[str(coalesced.pk)][2] == earlier and rows[str(older.pk)][2] == earlier  # unchanged
    assert rows[str(limited.pk)][0] == 7.1


async def test_a_failing_batch_fails_every_waiting_caller_and_the_next_batch_works(users, spy):
    people = await users(6)
    batcher = FixBatcher(500)
    spy.fail_batch(1, redis.ConnectionError("Redis is down"))
    outcomes = await asyncio.gather(
        *(batcher.record(p.pk, fix(1.0 + i, 1.0)) for i, p in enumerate(people)), return_exceptions=True
    )
    assert spy.sizes == [6]
    assert all(isinstance(o, redis.ConnectionError) for o in outcomes), outcomes
    assert await rows_of([p.pk for p in people]) == {}

    again = await asyncio.gather(*(batcher.record(p.pk, fix(2.0 + i, 2.0)) for i, p in enumerate(people)))
    assert [r.status for r in again] == ["stored"] * 6
    assert spy.sizes == [6, 6]
    rows = await rows_of([p.pk for p in people])
    assert sorted(v[0] for v in rows.values()) == [2.0 + i for i in range(6)]


async def test_after_a_failed_batch_the_fixes_queued_behind_it_are_written(users, spy):
    """The drain goes on after a failure: fixes that arrived during the failed write get their own batch."""
    first, *others = await users(4)
    batcher = FixBatcher(500)
    gate = spy.hold_next()
    spy.fail_batch(1, redis.ConnectionError("Redis is down"))
    failing = asyncio.create_task(batcher.record(first.pk, fix(1.0, 1.0)))
    await wait_entered(spy)
    queued = [asyncio.create_task(batcher.record(p.pk, fix(2.0, 2.0))) for p in others]
    await asyncio.sleep(0.05)
    gate.set()
    with pytest.raises(redis.ConnectionError):
        await failing
    results = await asyncio.wait_for(asyncio.gather(*queued), timeout=10)
    assert [r.status for r in results] == ["stored"] * 3
    assert spy.sizes == [1, 3]
    assert set(await rows_of([first.pk, *(p.pk for p in others)])) == {str(p.pk) for p in others}


async def test_a_caller_that_goes_away_does_not_break_the_batch(users, spy):
    alice, bob = await users(2)
    batcher = FixBatcher(500)
    gate = spy.hold_next()
    leaving = asyncio.create_task(batcher.record(alice.pk, fix(1.0, 1.0, ago(30))))
    staying = asyncio.create_task(batcher.record(bob.pk, fix(2.0, 2.0)))
    await wait_entered(spy)
    leaving.cancel()  # its socket closed while the fix was being written
    gate.set()
    result = await asyncio.wait_for(staying, timeout=10)
    assert result.stored
    with pytest.raises(asyncio.CancelledError):
        await leaving
    assert set(await rows_of([alice.pk, bob.pk])) == {str(alice.pk), str(bob.pk)}  # alice's fix was written anyway
    assert (await asyncio.wait_for(batcher.record(alice.pk, fix(3.0, 3.0, ago(5))), timeout=5)).status == "stored"


async def test_fix_batcher_get_is_one_batcher_per_event_loop(settings):
    one = fix_batcher_get()
    assert fix_batcher_get() is one
    assert one.max_batch == settings.LOCATION_BATCH_MAX

    async def other_loop():
        return fix_batcher_get()

    other = await asyncio.to_thread(asyncio.run, other_loop())
    assert other is not one


# --- over the socket --------------------------------------------------------------------------------


async def test_the_ack_arrives_only_once_the_row_is_committed(users, spy):
    (alice,) = await users(1)
    comm, ok, _ = await ws_connect(alice)
    assert ok
    when = ago(5).replace(microsecond=500000)
    gate = spy.hold_next()
    await send(comm, "location:update", {"lat": 60.17, "lng": 24.94, "timestamp": when.isoformat()}, frame_id="f1")
    await wait_entered(spy)
    assert await comm.receive_nothing(timeout=0.3)  # no ack while the write is in progress
    assert await rows_of([alice.pk]) == {}
    gate.set()
    frame = await answer_for(comm, "f1")
    assert frame["event"] == "ack", frame
    assert frame["data"]["stored"] is True and frame["data"]["status"] == "stored"
    assert parse_datetime(frame["data"]["recorded_at"]) == when
    rows = await rows_of([alice.pk])  # read right after the ack, from another connection
    assert rows == {str(alice.pk): (pytest.approx(60.17), pytest.approx(24.94), when)}
    await comm.disconnect()


async def test_fixes_of_many_sockets_share_batches_and_each_socket_gets_its_ack(users, spy):
    people = await users(8)
    comms = []
    for person in people:
        comm, ok, _ = await ws_connect(person)
        assert ok
        comms.append(comm)
    gate = spy.hold_next()
    await send(comms[0], "location:update", {"lat": 1.0, "lng": 1.0}, frame_id="x")
    await wait_entered(spy)
    for i, comm in enumerate(comms[1:], start=1):
        await send(comm, "location:update", {"lat": 1.0 + i, "lng": 1.0, "accuracy_m": i}, frame_id="x")
    await asyncio.sleep(0.5)  # every handler has queued its fix behind the one being written
    gate.set()
    acks = [await answer_for(comm, "x") for comm in comms]
    assert all(a["event"] == "ack" and a["data"]["status"] == "stored" for a in acks), acks
    assert spy.sizes == [1, 7]
    rows = await rows_of([p.pk for p in people])
    assert {uid: round(v[0], 6) for uid, v in rows.items()} == {str(p.pk): 1.0 + i for i, p in enumerate(people)}
    for ack, person in zip(acks, people, strict=True):
        assert parse_datetime(ack["data"]["recorded_at"]) == rows[str(person.pk)][2]
    for comm in comms:
        await comm.disconnect()


async def test_a_failed_batch_answers_each_socket_service_unavailable_and_the_next_fix_is_acked(users, spy):
    blocker, *people = await users(4)
    comms = []
    for person in people:
        comm, ok, _ = await ws_connect(person)
        assert ok
        comms.append(comm)
    gate = spy.hold_next()
    spy.fail_batch(2, redis.ConnectionError("Redis is down"))
    blocked = asyncio.create_task(fix_batcher_get().record(blocker.pk, fix(9.0, 9.0)))  # the loop's own batcher
    await wait_entered(spy)
    for i, comm in enumerate(comms):
        await send(comm, "location:update", {"lat": 1.0 + i, "lng": 1.0}, frame_id="a")
    await asyncio.sleep(0.5)
    gate.set()
    assert (await blocked).stored
    errors = [await answer_for(comm, "a") for comm in comms]
    assert spy.sizes[:2] == [1, 3]
    for frame in errors:
        assert frame["event"] == "error" and frame["data"]["code"] == "service_unavailable", frame
    assert set(await rows_of([p.pk for p in people])) == set()

    for i, comm in enumerate(comms):
        await send(comm, "location:update", {"lat": 5.0 + i, "lng": 1.0}, frame_id="b")
    acks = [await answer_for(comm, "b") for comm in comms]
    assert all(a["event"] == "ack" and a["data"]["stored"] for a in acks), acks
    assert len(await rows_of([p.pk for p in people])) == 3
    for comm in comms:
        await comm.disconnect()


async def test_refusals_in_a_shared_batch_reach_only_their_socket(users, spy):
    alice, bob, carol = await users(3)
    comms = []
    for person in (alice, bob, carol):
        comm, ok, _ = await ws_connect(person)
        assert ok
        comms.append(comm)
    gate = spy.hold_next()
    await send(comms[0], "location:update", {"lat": 1.0, "lng": 1.0}, frame_id=1)
    await wait_entered(spy)
    future = (timezone.now() + timedelta(hours=1)).isoformat()
    await send(comms[1], "location:update", {"lat": 2.0, "lng": 2.0, "timestamp": future}, frame_id=2)
    await send(comms[2], "location:update", {"lat": 3.0, "lng": 3.0}, frame_id=3)
    await asyncio.sleep(0.5)
    gate.set()
    a, b, c = (await answer_for(comms[0], 1), await answer_for(comms[1], 2), await answer_for(comms[2], 3))
    assert spy.sizes == [1, 2]  # bob's and carol's fixes shared a batch
    assert a["event"] == "ack" and c["event"] == "ack"
    assert b["event"] == "error" and b["data"]["code"] == "timestamp_in_future"
    assert set(await rows_of([alice.pk, bob.pk, carol.pk])) == {str(alice.pk), str(carol.pk)}
    for comm in comms:
        await comm.disconnect()


async def test_invalid_frames_never_reach_the_batcher(users, spy):
    (alice,) = await users(1)
    comm, ok, _ = await ws_connect(alice)
    assert ok
    await send(comm, "location:update", {"lat": 91, "lng": 0}, frame_id="bad")
    frame = await answer_for(comm, "bad")
    assert frame["event"] == "error" and frame["data"]["code"] == "invalid" and "lat" in frame["data"]["fields"]
    assert spy.sizes == []
    await send(comm, "location:update", {"lat": "45.5", "lng": 7}, frame_id="good")  # the serializer path
    frame = await answer_for(comm, "good")
    assert frame["event"] == "ack" and spy.sizes == [1]
    assert spy.items[0][0][1] == {"lat": 45.5, "lng": 7.0}
    await comm.disconnect()
