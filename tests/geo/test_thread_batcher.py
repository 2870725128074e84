"""``geo.ingest.ThreadFixBatcher``: group commit of REST fixes across HTTP worker threads.

``location_record_many`` is wrapped by ``BatchSpy`` (tests/geo/test_fix_batcher.py):
it delegates to the real function, records each batch and can hold one at a
gate (a write in progress) or fail one, as PostgreSQL or Redis would when
down. Rows are committed (transactional tests) and read back.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import redis
from django.db import connection

from core.errors import RateLimited
from geo import services
from geo.ingest import ThreadFixBatcher, thread_fix_batcher_get
from geo.models import LocationFix

from .test_fix_batcher import BatchSpy

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def spy(monkeypatch):
    batch_spy = BatchSpy(services.location_record_many)
    monkeypatch.setattr(services, "location_record_many", batch_spy)
    return batch_spy


def _fix(i: int) -> dict:
    return {"lat": 60.17 + i * 1e-4, "lng": 24.94}


def _in_thread(batcher, user_id, fix, results: dict, key):
    def run():
        try:
            results[key] = batcher.record(user_id, fix)
        except Exception as exc:  # noqa: BLE001 - the outcome under test
            results[key] = exc
        finally:
            connection.close()

    t = threading.Thread(target=run)
    t.start()
    return t


def _wait_queue(batcher, n: int) -> None:
    deadline = time.monotonic() + 10
    while len(batcher._queue) < n:
        assert time.monotonic() < deadline, "requests never queued"
        time.sleep(0.005)


def test_quiet_fix_is_written_at_once_alone(make_user, spy):
    user = make_user(sharing=True)
    result = ThreadFixBatcher(50).record(user.pk, _fix(0))
    assert result.stored and result.status == "stored"
    assert spy.sizes == [1]
    assert LocationFix.objects.filter(user=user).exists()


def test_fixes_arriving_during_a_write_form_one_batch_written_by_a_waiting_thread(make_user, spy):
    users = [make_user(sharing=True) for _ in range(6)]
    batcher = ThreadFixBatcher(50)
    gate = spy.hold_next()
    writers: list[str] = []
    real = spy.real

    def tracking(items, **kwargs):
        writers.append(threading.current_thread().name)
        return real(items, **kwargs)

    spy.real = tracking
    results: dict = {}
    first = _in_thread(batcher, users[0].pk, _fix(0), results, 0)
    assert spy.entered.wait(10)
    rest = [_in_thread(batcher, u.pk, _fix(i), results, i) for i, u in enumerate(users[1:], 1)]
    _wait_queue(batcher, 5)
    gate.set()
    for t in [first, *rest]:
        t.join(15)
    assert spy.sizes == [1, 5]
    assert len(set(writers)) == 2  # the first leader handed the second batch to a waiting request
    assert all(results[i].stored for i in range(6))
    assert LocationFix.objects.filter(user__in=users).count() == 6
    assert batcher._writing is False and batcher._queue == []


def test_batches_are_capped_at_max_batch(make_user, spy):
    users = [make_user(sharing=True) for _ in range(6)]
    batcher = ThreadFixBatcher(2)
    gate = spy.hold_next()
    results: dict = {}
    first = _in_thread(batcher, users[0].pk, _fix(0), results, 0)
    assert spy.entered.wait(10)
    rest = [_in_thread(batcher, u.pk, _fix(i), results, i) for i, u in enumerate(users[1:], 1)]
    _wait_queue(batcher, 5)
    gate.set()
    for t in [first, *rest]:
        t.join(15)
    assert spy.sizes[0] == 1 and max(spy.sizes) <= 2 and sum(spy.sizes) == 6
    assert all(results[i].stored for i in range(6))


def test_one_refused_fix_does_not_fail_the_batch(make_user, spy, settings):
    settings.THROTTLE_LOCATION = "1/min"
    busy, fresh = make_user(sharing=True), make_user(sharing=True)
    batcher = ThreadFixBatcher(50)
    batcher.record(busy.pk, _fix(0))  # spends busy's budget
    gate = spy.hold_next()
    results: dict = {}
    holder = _in_thread(batcher, make_user(sharing=True).pk, _fix(1), results, "holder")
    assert spy.entered.wait(10)
    threads = [
        _in_thread(batcher, busy.pk, _fix(2), results, "busy"),
        _in_thread(batcher, fresh.pk, _fix(3), results, "fresh"),
    ]
    _wait_queue(batcher, 2)
    gate.set()
    for t in [holder, *threads]:
        t.join(15)
    assert spy.sizes[-1] == 2
    assert isinstance(results["busy"], RateLimited)
    assert results["fresh"].stored and results["holder"].stored


def test_a_failed_batch_reaches_every_waiting_request_and_the_batcher_recovers(make_user, spy):
    users = [make_user(sharing=True) for _ in range(4)]
    batcher = ThreadFixBatcher(50)
    gate = spy.hold_next()
    spy.fail_batch(2, redis.ConnectionError("redis down"))
    results: dict = {}
    first = _in_thread(batcher, users[0].pk, _fix(0), results, 0)
    assert spy.entered.wait(10)
    rest = [_in_thread(batcher, u.pk, _fix(i), results, i) for i, u in enumerate(users[1:], 1)]
    _wait_queue(batcher, 3)
    gate.set()
    for t in [first, *rest]:
        t.join(15)
    assert results[0].stored
    assert all(isinstance(results[i], redis.ConnectionError) for i in (1, 2, 3))
    assert not LocationFix.objects.filter(user__in=users[1:]).exists()
    assert batcher.record(users[1].pk, _fix(9)).stored  # nothing stuck: the next fix is written


def test_many_parallel_requests_each_get_their_own_committed_answer(make_user):
    users = [make_user(sharing=True) for _ in range(24)]
    batcher = ThreadFixBatcher(500)

    def one(i):
        try:
            return batcher.record(users[i % 12].pk, _fix(i))
        finally:
            connection.close()

    with ThreadPoolExecutor(12) as pool:
        results = list(pool.map(one, range(24)))
    assert len(results) == 24
    assert all(r.status in {"stored", "coalesced", "out_of_order"} for r in results)
    # every user's row holds one of its own fixes, and every stored answer was committed
    assert LocationFix.objects.filter(user__in=users[:12]).count() == 12
    assert batcher._writing is False and batcher._queue == []


def test_rest_post_goes_through_the_process_batcher(make_user, client_for, spy):
    user = make_user(sharing=True)
    response = client_for(user).post("/api/location", {"lat": 60.2, "lng": 24.9}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "stored"
    assert spy.sizes == [1]
    assert thread_fix_batcher_get()._writing is False
    fix = LocationFix.objects.get(user=user)
    assert (round(fix.location.y, 6), round(fix.location.x, 6)) == (60.2, 24.9)


def test_rest_bad_input_and_rate_limit_through_the_batcher(make_user, client_for, spy, settings):
    """Outside a transaction (the server's case): 400 before any batch, 429 from the batch, the row untouched."""
    settings.THROTTLE_LOCATION = "2/min"
    user = make_user(sharing=True)
    client = client_for(user)
    bad = client.post("/api/location", {"lat": 91, "lng": 24.9}, format="json")
    assert bad.status_code == 400 and set(bad.json()["error"]["fields"]) == {"lat"}
    assert spy.sizes == []  # refused before the batcher
    for lat in (60.1, 60.2):
        assert client.post("/api/location", {"lat": lat, "lng": 24.9}, format="json").status_code == 200
    over = client.post("/api/location", {"lat": 60.3, "lng": 24.9}, format="json")
    assert over.status_code == 429 and over.json()["error"]["code"] == "rate_limited"
    assert round(LocationFix.objects.get(user=user).location.y, 6) == 60.2
    assert thread_fix_batcher_get()._writing is False


def test_parallel_rest_requests_of_one_user_never_exceed_the_budget(make_user, settings):
    """A race of parallel requests through the batcher: the location budget is counted atomically."""
    from rest_framework.test import APIClient

    from tests.conftest import access_token

    settings.THROTTLE_LOCATION = "5/min"
    settings.THROTTLE_USER = "1000/min"
    user = make_user(sharing=True)
    token = access_token(user)

    def post(i):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
        try:
            return client.post("/api/location", _fix(i), format="json").status_code
        finally:
            connection.close()

    with ThreadPoolExecutor(12) as pool:
        codes = list(pool.map(post, range(20)))
    assert codes.count(200) == 5 and codes.count(429) == 15
