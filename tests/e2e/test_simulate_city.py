"""The simulated city (devtools.simulation) against a real server, and its privacy violation counter."""

from __future__ import annotations

import asyncio
import json
import random
from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from django.utils import timezone

from accounts.models import Block, UserSettings
from devtools import simulation
from geo.grid import cell_for
from geo.models import LocationFix

from ..factories import UserFactory

HEL = (60.1699, 24.9384)
PASSWORD = "Simulated-City-7"

# name: (roles, sharing, visible_roles, show_roles)
PEOPLE = {
    "walker": (["walker"], True, [], []),
    "driver": (["driver"], True, [], []),
    "shy": (["walker"], True, ["driver"], []),  # only drivers may see them
    "hidden": ([], False, [], []),  # does not share
    "blocker": (["walker"], True, [], []),  # blocks "picky"
    "picky": (["driver"], True, [], ["driver"]),  # wants to see drivers only
}


def _make_city() -> list[str]:
    rng = random.Random(3)
    now = timezone.now()
    ids = {}
    for i, (name, (roles, sharing, visible_roles, show_roles)) in enumerate(PEOPLE.items()):
        user = UserFactory(email=f"{name}@demo.rendezvous.test", username=f"sim_{name}", roles=roles, password=PASSWORD)
        UserSettings.objects.filter(user=user).update(
            location_sharing=sharing, visible_roles=visible_roles, filters={"show_roles": show_roles}
        )
        lat, lng = HEL[0] + rng.uniform(-0.0005, 0.0005), HEL[1] + i * 0.0004
        LocationFix.objects.create(
            user=user,
            location=f"SRID=4326;POINT({lng} {lat})",
            recorded_at=now - timedelta(seconds=5),
            received_at=now - timedelta(seconds=5),
            cell=cell_for(lat, lng).id,
        )
        ids[name] = user
    Block.objects.create(blocker=ids["blocker"], blocked=ids["picky"])
    return [str(u.pk) for u in ids.values()]


def _setup(ids):
    personas = simulation.personas_load(user_ids=ids)
    return personas, simulation.privacy_book_load(personas, 500.0)


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_simulated_city_keeps_privacy_and_delivers(start_servers):
    (server,) = await asyncio.to_thread(start_servers, 1, MAP_PUBLISH_TICK_S="0.5")
    ids = await database_sync_to_async(_make_city)()
    personas, book = await database_sync_to_async(_setup)(ids)
    assert len(personas) == len(PEOPLE)
    network = simulation.lattice_network(HEL, half_size_m=400, spacing_m=60)
    cfg = simulation.CityConfig(
        url=server.url, duration_s=4.0, interval_s=0.5, radius_m=500.0, password=PASSWORD, setup_timeout_s=30
    )
    result = await simulation.city_run(cfg, personas, book, network)
    report = result.as_dict()
    m = result.metrics

    assert report["connections"]["made"] == len(PEOPLE), report["connections"]
    assert report["connections"]["dropped"] == 0
    assert report["privacy"]["violations"] == 0, report["privacy"]
    assert report["privacy"]["unjudged_unknown_targets"] == 0
    assert report["errors"] == {}
    assert all(m.acks_by_user[p.user_id] >= 4 for p in personas), m.acks_by_user
    assert report["fixes"]["unanswered"] == 0
    for viewer in ids:
        expected = {t for t in ids if book.may_see(viewer, t)}
        assert expected, "every simulated viewer should see somebody"
        assert m.seen[viewer] == expected, (viewer, m.seen[viewer], expected)
    assert report["delivery_ms"]["n"] > 0 and report["fix_age_ms"]["n"] > 0
    slowest = report["slowest_ticks"]
    assert 1 <= len(slowest) <= 3 and sum(t["items"] for t in slowest) <= report["delivery_ms"]["n"]
    # the rule really was exercised: "hidden" and "shy" were withheld from someone
    names = dict(zip(PEOPLE, ids, strict=True))
    assert names["hidden"] not in set().union(*m.seen.values())
    assert m.seen[names["walker"]].isdisjoint({names["shy"], names["hidden"]})
    assert names["shy"] in m.seen[names["driver"]]
    assert names["picky"] not in m.seen[names["blocker"]] and names["blocker"] not in m.seen[names["picky"]]
    assert m.seen[names["picky"]] == {names["driver"]}


def test_slowest_ticks_rank_ticks_by_median_delivery():
    by_tick = {100.0: [0.01, 0.02, 0.03], 102.0: [0.3, 0.4, 0.5, 0.6], 104.0: [0.05], 106.0: [0.02, 0.2]}
    rows = simulation.ticks_slowest(by_tick, n=2)
    assert rows == [
        {"published_at": 102.0, "items": 4, "p50_ms": 500.0, "max_ms": 600.0},
        {"published_at": 106.0, "items": 2, "p50_ms": 200.0, "max_ms": 200.0},
    ]
    assert simulation.ticks_slowest({}) == []


def _book() -> simulation.PrivacyBook:
    people = {
        "v": simulation.Persona("v", "v@x", None, None, roles=frozenset({"walker"}), blocked=frozenset({"b"})),
        "ok": simulation.Persona("ok", "ok@x", None, None),
        "off": simulation.Persona("off", "off@x", None, None, sharing=False),
        "drv": simulation.Persona("drv", "drv@x", None, None, visible_roles=frozenset({"driver"})),
        "b": simulation.Persona("b", "b@x", None, None),
    }
    targets = {
        k: simulation.TargetFacts(p.sharing, p.roles, p.visible_roles) for k, p in people.items() if k != "unknown"
    }
    return simulation.PrivacyBook(people, targets, 100.0)


def test_violation_counter_counts_forbidden_items():
    book = _book()
    metrics = simulation.CityMetrics(book=book)
    centre = cell_for(*HEL, 100.0)
    ok = {"user_id": "ok", "lat": centre.lat, "lng": centre.lng}
    metrics.item_received("v", ok, "user:location", HEL, 500)
    assert metrics.violation_count == 0 and not metrics.violations

    for target, reason in (("off", "not_sharing"), ("drv", "visible_roles"), ("b", "blocked"), ("v", "self")):
        before = metrics.violation_count
        metrics.item_received("v", {**ok, "user_id": target}, "user:location", HEL, 500)
        assert metrics.violation_count == before + 1
        assert metrics.violations[reason] == 1

    exact = {"user_id": "ok", "lat": centre.lat + 0.0001, "lng": centre.lng}  # ~11 m off the centre
    metrics.item_received("v", exact, "map:snapshot", HEL, 500)
    assert metrics.violations["not_cell_centre"] == 1
    assert metrics.violation_count == 5
    assert [s["target"] for s in metrics.violation_samples] == ["off", "drv", "b", "v", "ok"]


def test_violation_counter_through_received_frames():
    """Frames parsed by a client are judged: a viewer filter (show_roles) and snapshot items count too."""
    book = _book()
    viewer = simulation.Persona("picky", "p@x", None, None, show_roles=frozenset({"driver"}))
    book.viewers["picky"] = viewer
    metrics = simulation.CityMetrics(book=book)
    network = simulation.lattice_network(HEL, half_size_m=100)
    walker = simulation.Walker(network, network.nearest(*HEL), 1.4, random.Random(1))
    client = simulation._Client(viewer, walker, simulation.CityConfig(), metrics, random.Random(1))
    centre = cell_for(*HEL, 100.0)
    frame = {"event": "user:location", "data": {"user_id": "ok", "lat": centre.lat, "lng": centre.lng}}
    client._frame(json.dumps(frame), 0.0, 0.0)
    assert metrics.violations == {}  # live items are judged after the run
    metrics.items_judge(500.0)
    assert metrics.violations == {"show_roles": 1}
    batch = {"event": "map:changes", "data": {"locations": [{**frame["data"], "user_id": "off"}], "gone": ["x"]}}
    client._frame(json.dumps(batch), 0.0, 0.0)
    metrics.items_judge(500.0)
    assert metrics.violations == {"show_roles": 2, "not_sharing": 1}  # "off" breaks both clauses
    assert metrics.events["user:location"] == 2 and metrics.events["user:gone"] == 1
    snapshot = {"event": "map:snapshot", "data": {"count": 1, "results": [{**frame["data"], "user_id": "off"}]}}
    client._frame(json.dumps(snapshot), 0.0, 0.0)
    assert metrics.violation_count == 3 and metrics.violations["not_sharing"] == 2
    client._frame(json.dumps({"event": "error", "data": {"code": "rate_limited"}}), 0.0, 0.0)
    assert metrics.errors["rate_limited"] == 1


def test_walker_stays_on_the_network_at_walking_speed():
    network = simulation.lattice_network(HEL, half_size_m=500, spacing_m=80)
    walker = simulation.Walker(network, network.nearest(*HEL), 1.4, random.Random(5))
    lat, lng = walker.position()
    for _ in range(20):
        new = walker.advance(2.0)
        assert simulation.haversine_m(lat, lng, *new) <= 2.0 * 1.4 + 1e-6
        lat, lng = new
    assert 0 <= walker.heading_deg() < 360
