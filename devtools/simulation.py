"""The simulated city: many real clients walking real streets over real sockets.

``manage.py simulate_city`` (and ``bench/run.py``) use this module. It has
two halves:

Setup (synchronous, Django ORM, before any client starts)
    :func:`personas_load` reads the demo users (their settings, roles, blocks
    and latest fix), :func:`privacy_book_load` everything the visibility rule
    needs to judge what a viewer receives, :func:`walk_network_get` the
    walking network (OpenStreetMap through ``places.osm`` when it is there, else
    a lattice of streets around the users).

The city (pure asyncio + websockets + httpx, no ORM)
    :func:`city_run` starts one client per persona in one event loop. Each
    logs in (``POST /api/auth/login``), opens ``/ws/?token=``, subscribes to
    the map around itself (``map:subscribe``), then walks along the network
    at 1.2-1.6 m/s and sends ``location:update`` with an ``id`` every
    interval. Everything is measured from the clients' side into a
    :class:`CityReport`: connections, acknowledgement latency, events,
    delivery latency (receive time - ``published_at``), the age of the fix
    that produced a cell when a viewer receives it, error codes, dropped
    sockets and **privacy violations** (anything a viewer receives that the
    rule in ``docs/privacy.md`` forbids, or a position that is not a grid
    cell centre).

Phases are separated by barriers so that every socket is subscribed before
anyone moves: login, connect + subscribe, walk for ``duration_s``, drain.
Every phase is bounded in time; nothing here talks to anything but the URL
it is given (loopback in ``make demo`` and ``make bench``).

Units: seconds, metres, metres per second, WGS84 degrees; latencies in the
report are milliseconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import math
import random
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx
import websockets

from geo.grid import cell_for, haversine_m

#: Where a city without OSM data is laid out (central Helsinki), degrees.
HELSINKI = (60.17, 24.94)
#: Email domain of demo users when ``User.is_demo`` does not exist.
DEMO_EMAIL_SUFFIX = "@demo.rendezvous.test"
#: Fallback demo password when ``settings.DEMO_USER_PASSWORD`` is not set.
DEFAULT_DEMO_PASSWORD = "rendezvous-demo-password"
#: Walking speeds, metres per second.
WALK_SPEED_MPS = (1.2, 1.6)
#: A received position counts as a cell centre within this many degrees.
CENTRE_TOLERANCE_DEG = 1e-6
#: Reasons a received item can break the rule (``docs/privacy.md``).
VIOLATION_REASONS = ("self", "not_sharing", "visible_roles", "show_roles", "blocked", "not_cell_centre")
#: Violation samples kept in the report.
MAX_SAMPLES = 20


# --------------------------------------------------------------------------- people


@dataclass(frozen=True)
class Persona:
    """What the simulator knows about one user: identity, start (degrees) and privacy settings.

    ``blocked`` holds the ids of users in a block with this one, either way.
    """

    user_id: str
    email: str
    lat: float | None
    lng: float | None
    sharing: bool = True
    roles: frozenset[str] = frozenset()
    visible_roles: frozenset[str] = frozenset()
    show_roles: frozenset[str] = frozenset()
    blocked: frozenset[str] = frozenset()


@dataclass(frozen=True)
class TargetFacts:
    """What the rule needs to know about a target (any user who may show up on a map)."""

    sharing: bool
    roles: frozenset[str]
    visible_roles: frozenset[str]


class PrivacyBook:
    """The visibility rule, evaluated on the client side over what the simulator loaded.

    ``viewers`` are the simulated users (with their ``show_roles`` and
    blocks), ``targets`` everyone who may appear on their maps. ``grid_m`` is
    the privacy grid cell size in metres (``MAP_GRID_M``).
    """

    def __init__(self, viewers: dict[str, Persona], targets: dict[str, TargetFacts], grid_m: float):
        self.viewers = viewers
        self.targets = targets
        self.grid_m = float(grid_m)

    def judge(self, viewer_id: str, target_id: str, lat: float, lng: float) -> tuple[list[str], bool]:
        """Return ``(reasons, known)`` for one item ``viewer_id`` received about ``target_id``.

        ``reasons`` lists every clause of :data:`VIOLATION_REASONS` the item
        breaks (empty: allowed). ``known`` is false when the simulator has no
        facts about the target (then only self, blocks and the grid are
        checked). Position in degrees.
        """
        reasons: list[str] = []
        viewer = self.viewers.get(viewer_id)
        if target_id == viewer_id:
            reasons.append("self")
        target = self.targets.get(target_id)
        if target is not None:
            if not target.sharing:
                reasons.append("not_sharing")
            if target.visible_roles and viewer is not None and not (target.visible_roles & viewer.roles):
                reasons.append("visible_roles")
            if viewer is not None and viewer.show_roles and not (viewer.show_roles & target.roles):
                reasons.append("show_roles")
        if viewer is not None and target_id in viewer.blocked:
            reasons.append("blocked")
        if not self.is_cell_centre(lat, lng):
            reasons.append("not_cell_centre")
        return reasons, target is not None

    def is_cell_centre(self, lat, lng) -> bool:
        """Whether ``(lat, lng)`` (degrees) is the centre of its privacy-grid cell within 1e-6 degrees."""
        if not isinstance(lat, (int, float)) or not isinstance(lng, (int, float)):
            return False
        if not (math.isfinite(lat) and math.isfinite(lng)):
            return False
        cell = cell_for(lat, lng, self.grid_m)
        return abs(cell.lat - lat) <= CENTRE_TOLERANCE_DEG and abs(cell.lng - lng) <= CENTRE_TOLERANCE_DEG

    def may_see(self, viewer_id: str, target_id: str) -> bool:
        """Clauses 1 and 3-6 of the rule for two known users (freshness and radius are not judged)."""
        target = self.targets.get(target_id)
        viewer = self.viewers.get(viewer_id)
        if target is None or viewer is None or target_id == viewer_id or not target.sharing:
            return False
        if target.visible_roles and not (target.visible_roles & viewer.roles):
            return False
        if viewer.show_roles and not (viewer.show_roles & target.roles):
            return False
        return target_id not in viewer.blocked


def _demo_users_queryset():
    from accounts.models import User

    field_names = {f.name for f in User._meta.get_fields()}
    if "is_demo" in field_names:
        return User.objects.filter(is_demo=True, is_active=True)
    return User.objects.filter(email__endswith=DEMO_EMAIL_SUFFIX, is_active=True)


def personas_load(count: int | None = None, *, user_ids=None) -> list[Persona]:
    """Load up to ``count`` demo users (ordered by email) as :class:`Persona` (ORM, sync).

    Demo users are ``User.is_demo`` when that field exists, else users whose
    email ends with :data:`DEMO_EMAIL_SUFFIX`. ``user_ids`` restricts the
    selection to those users (demo or not). Each persona carries its
    settings, roles, blocks (either way) and latest fix as its start.
    """
    from django.db.models import Q

    from accounts.models import Block, User, UserSettings
    from geo.models import LocationFix

    qs = User.objects.filter(pk__in=list(user_ids)) if user_ids is not None else _demo_users_queryset()
    users = list(qs.order_by("email").values("id", "email", "roles")[: count if count else None])
    ids = [u["id"] for u in users]
    prefs = {
        row["user_id"]: row
        for row in UserSettings.objects.filter(user_id__in=ids).values(
            "user_id", "location_sharing", "visible_roles", "filters"
        )
    }
    fixes = {fix.user_id: fix.location for fix in LocationFix.objects.filter(user_id__in=ids).only("location")}
    blocked: dict = defaultdict(set)
    for blocker, target in Block.objects.filter(Q(blocker_id__in=ids) | Q(blocked_id__in=ids)).values_list(
        "blocker_id", "blocked_id"
    ):
        blocked[blocker].add(str(target))
        blocked[target].add(str(blocker))
    personas = []
    for u in users:
        pref = prefs.get(u["id"]) or {}
        point = fixes.get(u["id"])
        personas.append(
            Persona(
                user_id=str(u["id"]),
                email=u["email"],
                lat=point.y if point is not None else None,
                lng=point.x if point is not None else None,
                sharing=bool(pref.get("location_sharing")),
                roles=frozenset(u["roles"] or []),
                visible_roles=frozenset(pref.get("visible_roles") or []),
                show_roles=frozenset((pref.get("filters") or {}).get("show_roles") or []),
                blocked=frozenset(blocked.get(u["id"], ())),
            )
        )
    return personas


def privacy_book_load(personas: list[Persona], radius_m: float, max_targets: int = 200_000) -> PrivacyBook:
    """Load the facts about every user who may appear on the personas' maps (ORM, sync).

    Targets are the personas plus every user with a fix inside the bounding
    box of the personas' starts widened by ``radius_m`` + 2 km (metres), at
    most ``max_targets`` of them. Blocks come from the personas' side.
    """
    from django.conf import settings
    from django.contrib.gis.geos import Polygon

    from accounts.models import UserSettings

    targets = {
        p.user_id: TargetFacts(sharing=p.sharing, roles=p.roles, visible_roles=p.visible_roles) for p in personas
    }
    starts = [(p.lat, p.lng) for p in personas if p.lat is not None]
    if starts:
        margin_m = radius_m + 2000.0
        lats = [s[0] for s in starts]
        lngs = [s[1] for s in starts]
        dlat = margin_m / 111_195.0
        dlng = margin_m / (111_195.0 * max(0.05, math.cos(math.radians(max(abs(min(lats)), abs(max(lats)))))))
        box = Polygon.from_bbox((min(lngs) - dlng, min(lats) - dlat, max(lngs) + dlng, max(lats) + dlat))
        box.srid = 4326
        rows = (
            UserSettings.objects.filter(user__location_fix__location__intersects=box)
            .exclude(user_id__in=[p.user_id for p in personas])
            .values_list("user_id", "location_sharing", "visible_roles", "user__roles", "user__is_active")[:max_targets]
        )
        for uid, sharing, visible_roles, roles, active in rows:
            targets[str(uid)] = TargetFacts(
                sharing=bool(sharing and active),
                roles=frozenset(roles or []),
                visible_roles=frozenset(visible_roles or []),
            )
    return PrivacyBook({p.user_id: p for p in personas}, targets, float(settings.MAP_GRID_M))


def tokens_mint(personas: list[Persona]) -> dict[str, str]:
    """JWT access tokens for the personas, minted locally with the server's key (ORM, sync).

    For large benchmark runs where logging in thousands of users would
    measure the password hasher; needs the same ``DJANGO_SECRET_KEY`` as the
    server. Returns ``{user_id: access token}``.
    """
    from rest_framework_simplejwt.tokens import AccessToken

    from accounts.models import User

    users = User.objects.filter(pk__in=[p.user_id for p in personas])
    return {str(u.pk): str(AccessToken.for_user(u)) for u in users}


def demo_password() -> str:
    """The password of every demo user (``settings.DEMO_USER_PASSWORD``)."""
    from django.conf import settings

    return getattr(settings, "DEMO_USER_PASSWORD", DEFAULT_DEMO_PASSWORD)


# --------------------------------------------------------------------------- streets


@dataclass
class Network:
    """A walking network: ``nodes`` id -> (lat, lng) degrees, ``adjacency`` id -> neighbour ids."""

    nodes: dict[int, tuple[float, float]]
    adjacency: dict[int, list[int]]
    source: str = "grid"

    def __post_init__(self):
        self._buckets: dict[tuple[int, int], list[int]] = defaultdict(list)
        for nid, (lat, lng) in self.nodes.items():
            if self.adjacency.get(nid):
                self._buckets[self._bucket(lat, lng)].append(nid)
        self._walkable = [nid for nid in self.nodes if self.adjacency.get(nid)]

    @staticmethod
    def _bucket(lat: float, lng: float) -> tuple[int, int]:
        return math.floor(lat / 0.002), math.floor(lng / 0.004)

    def nearest(self, lat: float, lng: float) -> int:
        """Id of the walkable node nearest to ``(lat, lng)`` (degrees); searches outwards ring by ring."""
        if not self._walkable:
            raise ValueError("the walking network has no edges")
        bi, bj = self._bucket(lat, lng)
        for ring in range(0, 64):
            found = [
                nid
                for i in range(bi - ring, bi + ring + 1)
                for j in range(bj - ring, bj + ring + 1)
                if max(abs(i - bi), abs(j - bj)) == ring
                for nid in self._buckets.get((i, j), ())
            ]
            if found:
                return min(found, key=lambda nid: haversine_m(lat, lng, *self.nodes[nid]))
        return min(self._walkable, key=lambda nid: haversine_m(lat, lng, *self.nodes[nid]))

    def random_node(self, rng: random.Random) -> int:
        """A random walkable node id."""
        return rng.choice(self._walkable)


def lattice_network(centre: tuple[float, float], half_size_m: float = 2000.0, spacing_m: float = 80.0) -> Network:
    """A square street lattice around ``centre`` (degrees): ``spacing_m`` between crossings, metres.

    The stand-in for the OSM walking network when ``places.osm`` is missing.
    """
    lat0, lng0 = centre
    n = max(2, min(400, int(2 * half_size_m / spacing_m) + 1))
    dlat = spacing_m / 111_195.0
    dlng = spacing_m / (111_195.0 * math.cos(math.radians(lat0)))
    south, west = lat0 - (n - 1) / 2 * dlat, lng0 - (n - 1) / 2 * dlng
    nodes, adjacency = {}, {}
    for i in range(n):
        for j in range(n):
            nid = i * n + j
            nodes[nid] = (south + i * dlat, west + j * dlng)
            adjacency[nid] = [
                a * n + b for a, b in ((i - 1, j), (i + 1, j), (i, j - 1), (i, j + 1)) if 0 <= a < n and 0 <= b < n
            ]
    return Network(nodes, adjacency, source="grid")


def walk_network_get(personas: list[Persona]) -> Network:
    """The OSM walking network (``places.osm.walk_network_load``) or, without it, a lattice around the personas."""
    try:
        from places import osm  # provided by the OSM import (issue 3); optional here

        net = osm.walk_network_load()
        network = Network(dict(net.nodes), {k: list(v) for k, v in net.adjacency.items()}, source="osm")
        if network._walkable:
            return network
    except Exception:  # noqa: S110 - no OSM module or data: fall back to the lattice
        pass
    starts = [(p.lat, p.lng) for p in personas if p.lat is not None]
    if not starts:
        return lattice_network(HELSINKI)
    lat_c = sum(s[0] for s in starts) / len(starts)
    lng_c = sum(s[1] for s in starts) / len(starts)
    half = max(haversine_m(lat_c, lng_c, lat, lng) for lat, lng in starts) + 500.0
    return lattice_network((lat_c, lng_c), half_size_m=min(half, 16_000.0))


class Walker:
    """A pedestrian on a :class:`Network`: walks edge to edge at ``speed_mps``, never turning back unless stuck."""

    def __init__(self, network: Network, start_node: int, speed_mps: float, rng: random.Random):
        self.network = network
        self.rng = rng
        self.speed_mps = speed_mps
        self.prev = None
        self.node = start_node
        self.next = self._choose()
        self.along_m = 0.0

    def _choose(self) -> int:
        options = self.network.adjacency.get(self.node) or [self.node]
        forward = [n for n in options if n != self.prev] or options
        return self.rng.choice(forward)

    def position(self) -> tuple[float, float]:
        """Current ``(lat, lng)`` in degrees."""
        lat1, lng1 = self.network.nodes[self.node]
        lat2, lng2 = self.network.nodes[self.next]
        length = haversine_m(lat1, lng1, lat2, lng2)
        f = 0.0 if length <= 0 else min(1.0, self.along_m / length)
        return lat1 + (lat2 - lat1) * f, lng1 + (lng2 - lng1) * f

    def heading_deg(self) -> float:
        """Bearing of the current edge, degrees clockwise from north in [0, 360)."""
        lat1, lng1 = self.network.nodes[self.node]
        lat2, lng2 = self.network.nodes[self.next]
        y = math.sin(math.radians(lng2 - lng1)) * math.cos(math.radians(lat2))
        x = math.cos(math.radians(lat1)) * math.sin(math.radians(lat2)) - math.sin(math.radians(lat1)) * math.cos(
            math.radians(lat2)
        ) * math.cos(math.radians(lng2 - lng1))
        return math.degrees(math.atan2(y, x)) % 360.0

    def advance(self, dt_s: float) -> tuple[float, float]:
        """Walk for ``dt_s`` seconds; returns the new ``(lat, lng)`` in degrees."""
        remaining = max(0.0, dt_s) * self.speed_mps
        for _ in range(10_000):  # bounded: an edge of length 0 must not loop forever
            length = haversine_m(*self.network.nodes[self.node], *self.network.nodes[self.next])
            if self.along_m + remaining < length:
                self.along_m += remaining
                break
            remaining -= max(0.0, length - self.along_m)
            self.prev, self.node, self.along_m = self.node, self.next, 0.0
            self.next = self._choose()
            if self.next == self.node:
                break
        return self.position()


# --------------------------------------------------------------------------- measurement


def ticks_slowest(by_tick: dict[float, list[float]], n: int = 3) -> list[dict]:
    """The ``n`` ticks with the latest median delivery: ``{"published_at", "items", "p50_ms", "max_ms"}``.

    Tells a tail made by a few slow ticks (a pause of the server or the
    load generator) from one spread over every tick.
    """
    rows = []
    for published_at, delays in by_tick.items():
        ordered = sorted(delays)
        rows.append(
            {
                "published_at": round(published_at, 3),
                "items": len(ordered),
                "p50_ms": round(ordered[len(ordered) // 2] * 1000, 1),
                "max_ms": round(ordered[-1] * 1000, 1),
            }
        )
    rows.sort(key=lambda row: row["p50_ms"], reverse=True)
    return rows[:n]


def percentiles_ms(values_s: list[float]) -> dict:
    """``{n, p50, p95, p99, max, mean}`` in milliseconds of durations given in seconds (nearest rank)."""
    if not values_s:
        return {"n": 0, "p50": None, "p95": None, "p99": None, "max": None, "mean": None}
    ordered = sorted(values_s)

    def rank(p: float) -> float:
        return ordered[min(len(ordered) - 1, max(0, math.ceil(p / 100.0 * len(ordered)) - 1))]

    return {
        "n": len(ordered),
        "p50": round(rank(50) * 1000, 2),
        "p95": round(rank(95) * 1000, 2),
        "p99": round(rank(99) * 1000, 2),
        "max": round(ordered[-1] * 1000, 2),
        "mean": round(sum(ordered) / len(ordered) * 1000, 2),
    }


@dataclass
class CityMetrics:
    """Everything the clients measure (seconds for durations, epoch seconds for instants)."""

    book: PrivacyBook
    logins_ok: int = 0
    logins_failed: Counter = field(default_factory=Counter)
    login_s: list[float] = field(default_factory=list)
    connections_attempted: int = 0
    connections_made: int = 0
    connections_failed: Counter = field(default_factory=Counter)
    connect_s: list[float] = field(default_factory=list)
    subscribed: int = 0
    dropped: Counter = field(default_factory=Counter)
    fixes_sent: int = 0
    fixes_acked: int = 0
    acks_by_user: Counter = field(default_factory=Counter)
    fix_status: Counter = field(default_factory=Counter)
    ack_s: list[float] = field(default_factory=list)
    subscribe_ack_s: list[float] = field(default_factory=list)
    events: Counter = field(default_factory=Counter)
    snapshot_items: int = 0
    delivery_s: list[float] = field(default_factory=list)
    #: published_at (epoch s) -> delivery latencies (s) of that tick's items
    delivery_by_tick: dict[float, list[float]] = field(default_factory=dict)
    fix_age_s: list[float] = field(default_factory=list)
    errors: Counter = field(default_factory=Counter)
    violations: Counter = field(default_factory=Counter)
    violation_samples: list[dict] = field(default_factory=list)
    unknown_targets: int = 0
    outside_radius: int = 0
    seen: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    loop_lag_s: list[float] = field(default_factory=list)
    #: mover id -> [(cell id, epoch s of the first fix sent in that cell)]
    cell_entries: dict[str, list[tuple[str, float]]] = field(default_factory=lambda: defaultdict(list))
    #: live items received, judged after the run (:meth:`items_judge`): (viewer, centre, data, epoch s)
    received: list[tuple] = field(default_factory=list)

    #: items received that the rule forbids (one item breaking several clauses counts once)
    violation_count: int = 0

    def item_received(
        self, viewer_id: str, item: dict, kind: str, centre: tuple[float, float] | None, radius_m: float
    ) -> None:
        """Judge one received map item (``user:location`` data or a snapshot node) of ``viewer_id``."""
        target = str(item.get("user_id"))
        lat, lng = item.get("lat"), item.get("lng")
        reasons, known = self.book.judge(viewer_id, target, lat, lng)
        if not known:
            self.unknown_targets += 1
        if reasons:
            self.violation_count += 1
            for reason in reasons:
                self.violations[reason] += 1
            if len(self.violation_samples) < MAX_SAMPLES:
                self.violation_samples.append(
                    {"kind": kind, "viewer": viewer_id, "target": target, "lat": lat, "lng": lng, "reasons": reasons}
                )
        if (
            centre is not None
            and isinstance(lat, (int, float))
            and isinstance(lng, (int, float))
            and haversine_m(centre[0], centre[1], lat, lng) > radius_m + 1.0
        ):
            self.outside_radius += 1

    def items_judge(self, radius_m: float) -> None:
        """Judge the live items recorded during the run (privacy, radius, delivery latency, fix age).

        Done after the clients closed, so the load generator's event loop
        spends ~1 us per received item during the run instead of the judging:
        receive times are taken when frames arrive, not after the judging of
        the frames before them (the judge is the same).
        """
        for viewer_id, centre, data, received_at in self.received:
            target = str(data.get("user_id"))
            self.item_received(viewer_id, data, "user:location", centre, radius_m)
            self.seen[viewer_id].add(target)
            published_at = data.get("published_at")
            if isinstance(published_at, (int, float)):
                self.delivery_s.append(received_at - published_at)
                self.delivery_by_tick.setdefault(published_at, []).append(received_at - published_at)
            lat, lng = data.get("lat"), data.get("lng")
            if isinstance(lat, (int, float)) and isinstance(lng, (int, float)):
                age = self.fix_age(target, lat, lng, received_at)
                if age is not None:
                    self.fix_age_s.append(age)
        self.received.clear()

    def fix_sent_in_cell(self, mover_id: str, lat: float, lng: float, sent_at: float) -> None:
        """Record that ``mover_id`` sent a fix at ``sent_at`` (epoch s) at ``(lat, lng)`` (degrees)."""
        cell = cell_for(lat, lng, self.book.grid_m).id
        entries = self.cell_entries[mover_id]
        if not entries or entries[-1][0] != cell:
            entries.append((cell, sent_at))

    def fix_age(self, mover_id: str, lat: float, lng: float, received_at: float) -> float | None:
        """Seconds since ``mover_id`` sent the fix that moved it into the cell at ``(lat, lng)``, if known."""
        cell = cell_for(lat, lng, self.book.grid_m).id
        for entered_cell, sent_at in reversed(self.cell_entries.get(mover_id, ())):
            if entered_cell == cell and sent_at <= received_at:
                return received_at - sent_at
        return None


# --------------------------------------------------------------------------- the city


@dataclass
class CityConfig:
    """How to run the city.

    ``url``: server base URL (``http://127.0.0.1:8000``); ``duration_s``: the
    walking phase, seconds; ``interval_s``: seconds between fixes of one
    client; ``radius_m``: map subscription radius, metres; ``login``:
    ``"http"`` (``POST /api/auth/login``) or ``"mint"`` (tokens given to
    :func:`city_run`); ``setup_timeout_s``: bound of the login and connect
    phases together; ``connect_concurrency``: simultaneous logins/handshakes.
    """

    url: str = "http://127.0.0.1:8000"
    duration_s: float = 60.0
    interval_s: float = 2.0
    radius_m: float = 500.0
    seed: int = 1
    password: str = DEFAULT_DEMO_PASSWORD
    login: str = "http"
    setup_timeout_s: float = 600.0
    connect_concurrency: int = 50
    login_concurrency: int = 8
    drain_s: float = 3.0
    server_pid: int | None = None
    batch: bool = True


@dataclass
class CityReport:
    """The result of :func:`city_run`; :meth:`as_dict` is the JSON report."""

    config: CityConfig
    metrics: CityMetrics
    network_source: str
    network_nodes: int
    started_at: str
    walk_s: float
    setup_s: float
    server: dict = field(default_factory=dict)
    client: dict = field(default_factory=dict)

    @property
    def violations(self) -> int:
        """Items received that the rule forbids."""
        return self.metrics.violation_count

    def as_dict(self) -> dict:
        """The JSON-ready report (latencies in ms, rates per second)."""
        m, c = self.metrics, self.config
        walk = max(self.walk_s, 1e-9)
        return {
            "kind": "simulate_city",
            "started_at": self.started_at,
            "config": {
                "url": c.url,
                "users": m.connections_attempted,
                "duration_s": c.duration_s,
                "interval_s": c.interval_s,
                "radius_m": c.radius_m,
                "batch": c.batch,
                "seed": c.seed,
                "login": c.login,
            },
            "network": {"source": self.network_source, "nodes": self.network_nodes},
            "phases_s": {"setup": round(self.setup_s, 2), "walk": round(self.walk_s, 2)},
            "logins": {"ok": m.logins_ok, "failed": dict(m.logins_failed), "latency_ms": percentiles_ms(m.login_s)},
            "connections": {
                "attempted": m.connections_attempted,
                "made": m.connections_made,
                "failed": sum(m.connections_failed.values()),
                "failed_by_reason": dict(m.connections_failed),
                "subscribed": m.subscribed,
                "dropped": sum(m.dropped.values()),
                "dropped_by_code": {str(k): v for k, v in m.dropped.items()},
                "handshake_ms": percentiles_ms(m.connect_s),
                "subscribe_ack_ms": percentiles_ms(m.subscribe_ack_s),
            },
            "fixes": {
                "sent": m.fixes_sent,
                "acked": m.fixes_acked,
                "unanswered": max(0, m.fixes_sent - m.fixes_acked - m.errors.get("_fix_errors", 0)),
                "status": dict(m.fix_status),
                "per_s": round(m.fixes_acked / walk, 1),
                "ack_ms": percentiles_ms(m.ack_s),
            },
            "events": {
                "map_snapshot": m.events["map:snapshot"],
                "snapshot_items": m.snapshot_items,
                "user_location": m.events["user:location"],
                "user_gone": m.events["user:gone"],
                "map_changes_frames": m.events["map:changes"],
                "other": {
                    k: v
                    for k, v in m.events.items()
                    if k not in ("map:snapshot", "user:location", "user:gone", "map:changes")
                },
                "deliveries_per_s": round(m.events["user:location"] / walk, 1),
                "viewers_with_user_location": sum(1 for v in m.seen.values() if v),
            },
            "delivery_ms": percentiles_ms(m.delivery_s),
            "slowest_ticks": ticks_slowest(m.delivery_by_tick),
            "fix_age_ms": percentiles_ms(m.fix_age_s),
            "errors": {k: v for k, v in m.errors.items() if not k.startswith("_")},
            "privacy": {
                "violations": m.violation_count,
                "by_reason": dict(m.violations),
                "samples": m.violation_samples,
                "unjudged_unknown_targets": m.unknown_targets,
                "outside_radius": m.outside_radius,
            },
            "client_loop_lag_ms": percentiles_ms(m.loop_lag_s),
            "server": self.server,
            "client": self.client,
        }


class _Client:
    """One simulated user: login, socket, subscription, walk, receive."""

    def __init__(self, persona: Persona, walker: Walker, cfg: CityConfig, metrics: CityMetrics, rng: random.Random):
        self.persona = persona
        self.walker = walker
        self.cfg = cfg
        self.m = metrics
        self.rng = rng
        self.token: str | None = None
        self.ws = None
        self.pending: dict[str, float] = {}
        self.sub_pending: dict[str, float] = {}
        self.centre: tuple[float, float] | None = None
        self.seq = 0
        self.closing = False
        self.alive = False
        self.reader: asyncio.Task | None = None

    @property
    def uid(self) -> str:
        return self.persona.user_id

    async def login(self, http: httpx.AsyncClient, deadline: float) -> bool:
        body = {"email": self.persona.email, "password": self.cfg.password}
        while time.monotonic() < deadline:
            t0 = time.perf_counter()
            try:
                response = await http.post("/api/auth/login", json=body)
            except httpx.HTTPError as exc:
                self.m.logins_failed[type(exc).__name__] += 1
                return False
            if response.status_code == 200:
                self.m.login_s.append(time.perf_counter() - t0)
                self.m.logins_ok += 1
                self.token = response.json()["access"]
                return True
            if response.status_code == 429:  # every client shares one IP: wait as told, within the deadline
                wait = float(response.headers.get("Retry-After") or 1)
                if time.monotonic() + wait >= deadline:
                    break
                await asyncio.sleep(min(wait, 60.0))
                continue
            self.m.logins_failed[f"http_{response.status_code}"] += 1
            return False
        self.m.logins_failed["rate_limited"] += 1
        return False

    def _ws_url(self) -> str:
        base = self.cfg.url.rstrip("/").replace("http://", "ws://", 1).replace("https://", "wss://", 1)
        return f"{base}/ws/?token={self.token}"

    async def connect(self, timeout_s: float) -> bool:
        self.m.connections_attempted += 1
        if not self.token:
            self.m.connections_failed["no_token"] += 1
            return False
        t0 = time.perf_counter()
        try:
            self.ws = await websockets.connect(
                self._ws_url(), open_timeout=timeout_s, ping_interval=None, max_size=2**22, close_timeout=2
            )
        except websockets.InvalidStatus as exc:
            self.m.connections_failed[f"http_{exc.response.status_code}"] += 1
            return False
        except (OSError, TimeoutError, websockets.WebSocketException) as exc:
            self.m.connections_failed[type(exc).__name__] += 1
            return False
        self.m.connect_s.append(time.perf_counter() - t0)
        self.m.connections_made += 1
        self.alive = True
        self.reader = asyncio.ensure_future(self._read())
        return True

    async def subscribe(self) -> None:
        lat, lng = self.walker.position()
        self.centre = (lat, lng)
        self.seq += 1
        frame_id = f"s{self.seq}"
        self.sub_pending[frame_id] = time.perf_counter()
        await self._send(
            {
                "event": "map:subscribe",
                "id": frame_id,
                "data": {"lat": lat, "lng": lng, "radius": self.cfg.radius_m, "batch": self.cfg.batch},
            }
        )

    async def _send(self, frame: dict) -> bool:
        if not self.alive:
            return False
        try:
            await self.ws.send(json.dumps(frame))
            return True
        except websockets.ConnectionClosed:
            return False

    async def send_fix(self, dt_s: float) -> None:
        lat, lng = self.walker.advance(dt_s)
        self.seq += 1
        frame_id = f"f{self.seq}"
        now = time.time()
        data = {
            "lat": round(lat, 7),
            "lng": round(lng, 7),
            "timestamp": int(now * 1000),
            "accuracy_m": 8,
            "speed_mps": round(self.walker.speed_mps, 2),
            "heading_deg": round(self.walker.heading_deg(), 1),
        }
        self.pending[frame_id] = time.perf_counter()
        if await self._send({"event": "location:update", "id": frame_id, "data": data}):
            self.m.fixes_sent += 1
            if self.persona.sharing:
                self.m.fix_sent_in_cell(self.uid, data["lat"], data["lng"], now)
        else:
            self.pending.pop(frame_id, None)
        if self.centre and haversine_m(*self.centre, lat, lng) > self.cfg.radius_m / 2:
            await self.subscribe()  # the viewport follows the walker

    async def walk(self, until: float, start_delay_s: float) -> None:
        await asyncio.sleep(start_delay_s)
        last = time.monotonic()
        next_at = last
        while self.alive and time.monotonic() < until:
            now = time.monotonic()
            await self.send_fix(now - last)
            last = now
            next_at += self.cfg.interval_s
            delay = next_at - time.monotonic()
            if delay < 0:  # fell behind (overloaded loop): skip rather than burst
                next_at = time.monotonic()
                delay = 0
            await asyncio.sleep(min(delay, max(0.0, until - time.monotonic())))

    async def _read(self) -> None:
        try:
            async for raw in self.ws:
                self._frame(raw, time.time(), time.perf_counter())
        except websockets.ConnectionClosed:
            pass
        finally:
            self.alive = False
            if not self.closing:
                code = self.ws.close_code if self.ws.close_code is not None else "none"
                self.m.dropped[code] += 1

    def _frame(self, raw, received_at: float, received_perf: float) -> None:
        try:
            frame = json.loads(raw)
            event = frame.get("event")
            data = frame.get("data") or {}
        except (ValueError, AttributeError):
            self.m.errors["client_unparseable_frame"] += 1
            return
        frame_id = frame.get("id")
        if event == "ack":
            if frame_id in self.pending:
                self.m.ack_s.append(received_perf - self.pending.pop(frame_id))
                self.m.fixes_acked += 1
                self.m.acks_by_user[self.uid] += 1
                self.m.fix_status[data.get("status", "?")] += 1
            elif frame_id in self.sub_pending:
                self.m.subscribe_ack_s.append(received_perf - self.sub_pending.pop(frame_id))
                self.m.subscribed += 1
            return
        if event == "error":
            self.m.errors[str(data.get("code", "?"))] += 1
            if frame_id in self.pending:
                self.pending.pop(frame_id)
                self.m.errors["_fix_errors"] += 1
            self.sub_pending.pop(frame_id, None)
            return
        self.m.events[event] += 1
        if event == "map:snapshot":
            for item in data.get("results") or []:
                self.m.snapshot_items += 1
                self.m.item_received(self.uid, item, "snapshot", self.centre, self.cfg.radius_m)
        elif event == "user:location":
            self._location_item(data, received_at)
        elif event == "map:changes":
            for item in data.get("locations") or []:
                self.m.events["user:location"] += 1
                self._location_item(item, received_at)
            self.m.events["user:gone"] += len(data.get("gone") or [])

    def _location_item(self, data: dict, received_at: float) -> None:
        self.m.received.append((self.uid, self.centre, data, received_at))

    async def wait_subscribed(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while self.alive and self.sub_pending and time.monotonic() < deadline:
            await asyncio.sleep(0.05)

    async def drain(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while self.alive and self.pending and time.monotonic() < deadline:
            await asyncio.sleep(0.05)

    async def close(self) -> None:
        self.closing = True
        if self.ws is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.ws.close(), 5)
        if self.reader is not None:
            self.reader.cancel()
            with contextlib.suppress(BaseException):
                await self.reader


async def _loop_lag(metrics: CityMetrics, stop: asyncio.Event, period_s: float = 0.1) -> None:
    while not stop.is_set():
        t0 = time.perf_counter()
        await asyncio.sleep(period_s)
        metrics.loop_lag_s.append(max(0.0, time.perf_counter() - t0 - period_s))


class _ProcessSampler:
    """Samples CPU (% of one core) and RSS (bytes) of a process every ``period_s`` seconds (psutil)."""

    def __init__(self, pid: int | None, period_s: float = 1.0):
        self.pid = pid
        self.period_s = period_s
        self.cpu: list[float] = []
        self.rss: list[int] = []
        self.task: asyncio.Task | None = None

    def start(self) -> None:
        try:
            import psutil

            self.proc = psutil.Process(self.pid)
            self.proc.cpu_percent(None)
        except Exception:
            self.proc = None
            return
        self.task = asyncio.ensure_future(self._run())

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.period_s)
            try:
                self.cpu.append(self.proc.cpu_percent(None))
                self.rss.append(self.proc.memory_info().rss)
            except Exception:
                return

    async def stop(self) -> dict:
        if self.task:
            self.task.cancel()
            with contextlib.suppress(BaseException):
                await self.task
        if not self.cpu:
            return {}
        return {
            "pid": self.pid,
            "cpu_pct_mean": round(sum(self.cpu) / len(self.cpu), 1),
            "cpu_pct_max": round(max(self.cpu), 1),
            "rss_mib_max": round(max(self.rss) / 2**20, 1),
            "rss_mib_end": round(self.rss[-1] / 2**20, 1),
        }


async def city_run(
    cfg: CityConfig,
    personas: list[Persona],
    book: PrivacyBook,
    network: Network,
    tokens: dict[str, str] | None = None,
) -> CityReport:
    """Run the simulated city and return what the clients measured.

    One client per persona in this event loop. Phases: login (HTTP, or
    ``tokens`` when ``cfg.login == "mint"``), connect and subscribe (all
    sockets subscribed before anyone walks), walk for ``cfg.duration_s``
    seconds sending a fix every ``cfg.interval_s`` seconds, then drain
    outstanding acks for at most ``cfg.drain_s`` seconds and close.
    """
    rng = random.Random(cfg.seed)
    metrics = CityMetrics(book=book)
    started_at = datetime.now(UTC).isoformat(timespec="seconds")
    clients = []
    for persona in personas:
        start = network.nearest(persona.lat, persona.lng) if persona.lat is not None else network.random_node(rng)
        walker = Walker(network, start, rng.uniform(*WALK_SPEED_MPS), random.Random(rng.random()))
        walker.advance(rng.uniform(0, 30))  # spread the walkers along their first edges
        clients.append(_Client(persona, walker, cfg, metrics, random.Random(rng.random())))

    server = _ProcessSampler(cfg.server_pid)
    me = _ProcessSampler(None)
    stop = asyncio.Event()
    lag = asyncio.ensure_future(_loop_lag(metrics, stop))
    t_setup = time.monotonic()
    deadline = t_setup + cfg.setup_timeout_s
    try:
        # 1. login
        if cfg.login == "mint":
            for client in clients:
                client.token = (tokens or {}).get(client.uid)
        else:
            limits = httpx.Limits(max_connections=cfg.login_concurrency)
            async with httpx.AsyncClient(base_url=cfg.url, timeout=60, limits=limits) as http:
                sem = asyncio.Semaphore(cfg.login_concurrency)

                async def login(client):
                    async with sem:
                        await client.login(http, deadline)

                await asyncio.gather(*(login(c) for c in clients))
        # 2. connect and subscribe
        sem = asyncio.Semaphore(cfg.connect_concurrency)

        async def open_one(client):
            async with sem:
                remaining = max(1.0, deadline - time.monotonic())
                if await client.connect(min(60.0, remaining)):
                    await client.subscribe()
                    await client.wait_subscribed(min(60.0, remaining))

        await asyncio.gather(*(open_one(c) for c in clients))
        setup_s = time.monotonic() - t_setup
        # 3. walk. The load generator keeps every received item for judging after the run; its
        # collector's full passes over them paused its loop up to ~200 ms (late receive times that
        # looked like slow ticks), so it does not collect while it measures (bounded run).
        server.start()
        me.start()
        gc.collect()
        gc.freeze()
        gc.disable()
        t_walk = time.monotonic()
        until = t_walk + cfg.duration_s
        await asyncio.gather(
            *(c.walk(until, rng.uniform(0, cfg.interval_s)) for c in clients if c.alive),
        )
        walk_s = time.monotonic() - t_walk
        # 4. drain
        await asyncio.gather(*(c.drain(cfg.drain_s) for c in clients))
    finally:
        gc.enable()
        gc.unfreeze()
        await asyncio.gather(*(c.close() for c in clients), return_exceptions=True)
        stop.set()
        with contextlib.suppress(BaseException):
            await lag
    server_stats = await server.stop()
    client_stats = await me.stop()
    metrics.items_judge(cfg.radius_m)
    if "setup_s" not in locals():
        setup_s = time.monotonic() - t_setup
    return CityReport(
        config=cfg,
        metrics=metrics,
        network_source=network.source,
        network_nodes=len(network.nodes),
        started_at=started_at,
        walk_s=locals().get("walk_s", 0.0),
        setup_s=setup_s,
        server=server_stats,
        client=client_stats,
    )


def run_policy_install() -> None:
    """Use uvloop for the client loop when it is installed (it comes with ``uvicorn[standard]``)."""
    try:
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    except ImportError:
        pass


# --------------------------------------------------------------------------- output


def _fmt(value) -> str:
    return "-" if value is None else f"{value}"


def summary_table(report: dict) -> str:
    """A fixed-width text table of a report made by :meth:`CityReport.as_dict`."""
    c, f, e, p = report["connections"], report["fixes"], report["events"], report["privacy"]
    rows = [
        (
            "users / network",
            f"{report['config']['users']} on {report['network']['source']} ({report['network']['nodes']} nodes)",
        ),
        ("phases (s)", f"setup {report['phases_s']['setup']}, walk {report['phases_s']['walk']}"),
        (
            "logins ok / failed",
            f"{report['logins']['ok']} / {sum(report['logins']['failed'].values())} {report['logins']['failed'] or ''}",
        ),
        ("connections made / failed", f"{c['made']} / {c['failed']} {c['failed_by_reason'] or ''}"),
        ("subscribed", c["subscribed"]),
        ("dropped connections", f"{c['dropped']} {c['dropped_by_code'] or ''}"),
        ("fixes sent / acked", f"{f['sent']} / {f['acked']} ({f['per_s']}/s) {f['status']}"),
        ("fixes unanswered", f["unanswered"]),
    ]
    for name, key in (("ack latency ms", "ack_ms"),):
        d = f[key]
        rows.append((name, f"p50 {_fmt(d['p50'])}  p95 {_fmt(d['p95'])}  p99 {_fmt(d['p99'])}  max {_fmt(d['max'])}"))
    rows += [
        ("map:snapshot (items)", f"{e['map_snapshot']} ({e['snapshot_items']})"),
        ("user:location / user:gone", f"{e['user_location']} / {e['user_gone']} ({e['deliveries_per_s']}/s)"),
        ("viewers with user:location", e["viewers_with_user_location"]),
    ]
    for name, key in (("delivery latency ms", "delivery_ms"), ("fix age at viewer ms", "fix_age_ms")):
        d = report[key]
        rows.append((name, f"p50 {_fmt(d['p50'])}  p95 {_fmt(d['p95'])}  p99 {_fmt(d['p99'])}  max {_fmt(d['max'])}"))
        if key == "delivery_ms" and report.get("slowest_ticks"):
            slow = ", ".join(f"{t['p50_ms']} ms ({t['items']} items)" for t in report["slowest_ticks"])
            rows.append(("slowest ticks (p50)", slow))
    rows += [
        ("errors", report["errors"] or 0),
        ("PRIVACY VIOLATIONS", f"{p['violations']} {p['by_reason'] or ''}"),
        ("unjudged / outside radius", f"{p['unjudged_unknown_targets']} / {p['outside_radius']}"),
        (
            "client loop lag ms",
            f"p99 {_fmt(report['client_loop_lag_ms']['p99'])}  max {_fmt(report['client_loop_lag_ms']['max'])}",
        ),
    ]
    if report.get("server"):
        s = report["server"]
        rows.append(
            ("server cpu % / rss MiB", f"mean {s['cpu_pct_mean']} max {s['cpu_pct_max']} / max {s['rss_mib_max']}")
        )
    if report.get("client"):
        s = report["client"]
        rows.append(
            ("simulator cpu % / rss MiB", f"mean {s['cpu_pct_mean']} max {s['cpu_pct_max']} / max {s['rss_mib_max']}")
        )
    width = max(len(r[0]) for r in rows)
    lines = ["simulate_city summary", "-" * (width + 40)]
    lines += [f"{name.ljust(width)}  {value}" for name, value in rows]
    return "\n".join(lines)


def report_path_default(root: Path, kind: str = "simulate_city") -> Path:
    """``<root>/bench/results/<kind>-<UTC timestamp>.json``."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return root / "bench" / "results" / f"{kind}-{stamp}.json"


def report_write(report: dict, path: Path) -> Path:
    """Write ``report`` as indented JSON to ``path`` (parents created); returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2, sort_keys=False, default=str) + "\n")
    return path
