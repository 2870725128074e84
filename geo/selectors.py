"""Who may see whom, and where: the one visibility rule.

A *target* is visible to a *viewer* when all of these hold (DESIGN.md,
"Location and privacy"; seed 000 "Privacy & Permissions"):

1. the target shares its location (``UserSettings.location_sharing``) and is active;
2. its latest fix is fresh: ``recorded_at`` (client time) is after
   :func:`location_fresh_after`, i.e. ``now - LOCATION_TTL_S`` rounded down
   to the whole minute, so a fix expires at a whole minute and the moment
   it drops off the map tells no more than the minute of the fix;
3. the target's ``visible_roles`` is empty or shares a role with the viewer's
   *matured* roles (held ``ROLE_VISIBILITY_MIN_AGE_S``, ``User.roles_matured``);
4. the viewer's ``filters.show_roles`` is empty or shares a role with the target;
5. there is no block between them, either way;
6. the target is not the viewer;
7. the target's shown position is within the radius of the query centre;
8. the target's ``visibility`` is ``everyone``, or the viewer is one of the
   target's contacts (:func:`contact_ids_for`, from registered providers).

Precision: strangers are shown the centre of their ~100 m grid cell as last
published by the map tick (``LocationFix.public_location``); distance and
radius use that snapped point, so repeated queries cannot trilaterate anyone.
``exact_user_ids`` come from the exact-position providers that walks,
parties and meetups register (:func:`exact_position_provider`).

The rule has two faces over one definition: :func:`map_nodes_list` runs it
in SQL for REST and snapshots, :func:`visibility_allows` evaluates the same
clauses in Python for the live fan-out, where the target's state arrives in
the published message. Tests run both over the same privacy matrix.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection
from django.utils import timezone

from accounts.models import GenderPreference, UserSettings, Visibility
from accounts.selectors import CONTACT_PROVIDERS as CONTACT_PROVIDERS
from accounts.selectors import block_blocked_ids
from accounts.selectors import contact_ids_for as contact_ids_for
from accounts.selectors import contact_provider as contact_provider
from realtime.presence import presence_online_ids

#: Width of the age bands ``age_range`` filters match targets on (years; issue 7, item 10).
AGE_BAND_YEARS = 5
#: Staleness is judged at whole multiples of this (seconds): the drop-off time reveals only the minute.
FRESHNESS_QUANTUM_S = 60


@dataclass(frozen=True)
class ViewerContext:
    """What the rule needs to know about a viewer.

    ``roles``: every role the viewer holds (informational).
    ``matured_roles``: the roles that count for targets' ``visible_roles``
    (clause 3): held at least ``ROLE_VISIBILITY_MIN_AGE_S``. Defaults to
    none, so a context built without it grants nothing.
    ``blocked_ids``: users in a block with the viewer either way.
    ``exact_user_ids``: users whose exact position the viewer may see.
    ``contact_ids``: the viewer's contacts (clause 8), from the contact providers.
    """

    user_id: uuid.UUID
    roles: frozenset[str]
    show_roles: frozenset[str]
    blocked_ids: frozenset[uuid.UUID]
    search_radius_m: int = 1000
    exact_user_ids: frozenset[uuid.UUID] = field(default_factory=frozenset)
    matured_roles: frozenset[str] = field(default_factory=frozenset)
    contact_ids: frozenset[uuid.UUID] = field(default_factory=frozenset)


@dataclass(frozen=True)
class TargetState:
    """What the rule needs to know about a target, as carried by a map fan-out message.

    ``contacts_only``: the target's ``visibility`` is ``contacts`` (clause 8).
    """

    user_id: uuid.UUID
    sharing: bool
    roles: frozenset[str]
    visible_roles: frozenset[str]
    recorded_at: datetime | None
    contacts_only: bool = False

    @classmethod
    def from_message(cls, message: dict[str, Any]) -> TargetState:
        """Build the state from a ``map.cell`` fan-out message (``geo.fanout._tick_apply``).

        Reads ``user_id`` (UUID string), ``visible`` (sharing, active and
        fresh at the tick), ``roles``, ``visible_roles`` (lists of slugs),
        ``recorded_at`` (epoch seconds or ``None``) and ``contacts_only``
        (bool; a message without it is treated as ``False``, as published
        before the field existed). Raises ``ValueError`` for a malformed id.
        """
        return cls(
            user_id=uuid.UUID(str(message["user_id"])),
            sharing=bool(message.get("visible")),
            roles=frozenset(message.get("roles") or []),
            visible_roles=frozenset(message.get("visible_roles") or []),
            recorded_at=epoch_to_datetime(message.get("recorded_at")),
            contacts_only=bool(message.get("contacts_only")),
        )


#: Exact-position providers: ``name -> provider(viewer_id) -> iterable of user ids``.
EXACT_POSITION_PROVIDERS: dict[str, Callable[[object], Iterable]] = {}


def exact_position_provider(name: str):
    """Register ``provider(viewer_id) -> iterable of user ids`` whose exact fix ``viewer_id`` may see.

    Walks, meetups and parties each register one in their ``AppConfig.ready()``
    (an accepted or running walk, a shared active meetup or party): the
    grant lasts exactly as long as the provider returns the pair, so ending
    the walk, leaving the party or ending the meetup ends it (docs/privacy.md,
    "Exact positions"). geo never imports those apps. A provider must only
    return users the relationship trusts both ways, and should be one indexed
    query. A provider may also carry its SQL form (``provider.sql``, a
    ``SELECT`` of user ids with ``%(viewer)s``, and ``provider.sql_params(now)``
    for its own parameters, named after the app): :func:`viewer_context_get`
    then reads it inside its one statement. Registering the same ``name``
    twice raises ``RuntimeError``.
    """

    def register(func):
        if name in EXACT_POSITION_PROVIDERS:
            raise RuntimeError(f"exact-position provider {name!r} registered twice")
        EXACT_POSITION_PROVIDERS[name] = func
        return func

    return register


#: Filters of ``GET /api/users/nearby``: ``name -> filter(user, nodes) -> nodes`` (``available``: walks).
NEARBY_FILTERS: dict[str, Callable[[object, list[dict]], list[dict]]] = {}


def nearby_filter(name: str):
    """Register ``filter(user, nodes) -> nodes`` for ``/api/users/nearby?<name>=true``.

    ``nodes`` are the visible, snapped map nodes around the caller; a filter
    may only drop items (it never adds one, so it cannot widen visibility).
    The walks app registers ``available`` (seed 001 walking buddies).
    Registering a name twice raises ``RuntimeError``.
    """

    def register(func):
        if name in NEARBY_FILTERS:
            raise RuntimeError(f"nearby filter {name!r} registered twice")
        NEARBY_FILTERS[name] = func
        return func

    return register


def nearby_filter_apply(name: str, user, nodes: list[dict]) -> list[dict]:
    """Apply filter ``name`` to ``nodes``; an unregistered filter keeps nobody. Items never added."""
    func = NEARBY_FILTERS.get(name)
    if func is None:
        return []
    allowed = {id(n) for n in nodes}
    return [n for n in func(user, nodes) if id(n) in allowed]


def exact_user_ids_for(viewer_id) -> frozenset:
    """Users whose exact position ``viewer_id`` may see: the union of every registered provider's answer.

    A block in either direction always wins: blocked users are removed here,
    whatever a provider says.
    """
    ids: set = set()
    for provider in EXACT_POSITION_PROVIDERS.values():
        ids.update(provider(viewer_id))
    ids.discard(viewer_id)
    if ids:
        ids -= set(block_blocked_ids(viewer_id))
    return frozenset(ids)


#: One statement for the viewer context: settings, blocks (both ways) and the providers that
#: have an SQL form (``provider.sql``), each an ``ARRAY(...)`` column. Built per set of providers.
_CONTEXT_SQL_CACHE: dict[tuple, str] = {}


def _provider_sql_parts(providers: dict) -> tuple[list[str], list]:
    """``(SQL forms, providers without one)`` of a provider registry."""
    parts, python = [], []
    for provider in providers.values():
        sql = getattr(provider, "sql", None)
        (parts if sql else python).append(sql or provider)
    return parts, python


def viewer_context_get(user, now: datetime | None = None) -> ViewerContext:
    """Build the :class:`ViewerContext` of ``user`` in one SQL statement.

    The statement reads the viewer's settings (``show_roles``,
    ``search_radius_m``), the users in a block with the viewer either way,
    and the answers of every exact-position and contact provider that has an
    SQL form (``provider.sql``: a ``SELECT`` of user ids using
    ``%(viewer)s`` and the parameters ``provider.sql_params(now)`` gives,
    named after the provider). Providers without one are called in Python.
    ``exact_user_ids`` drops the viewer and blocked users, as
    :func:`exact_user_ids_for` does; ``contact_ids`` drops the viewer, as
    :func:`contact_ids_for` does. ``matured_roles`` are the roles ``user`` has
    held for ``ROLE_VISIBILITY_MIN_AGE_S`` at ``now`` (default: the current
    time), read from ``user.roles``/``user.role_since`` as loaded. Six ORM
    queries cost ~4 ms of CPU per call (docs/bench.md, issue 8); this is one
    round trip. ``tests/geo/test_viewer_context.py`` checks both forms agree.
    """
    exact_sql, exact_python = _provider_sql_parts(EXACT_POSITION_PROVIDERS)
    contact_sql, contact_python = _provider_sql_parts(CONTACT_PROVIDERS)
    cache_key = (tuple(exact_sql), tuple(contact_sql))
    sql = _CONTEXT_SQL_CACHE.get(cache_key)
    if sql is None:
        exact = " UNION ".join(f"({part})" for part in exact_sql) or "SELECT NULL::uuid WHERE false"
        contacts = " UNION ".join(f"({part})" for part in contact_sql) or "SELECT NULL::uuid WHERE false"
        sql = _CONTEXT_SQL_CACHE[cache_key] = f"""
            SELECT s.filters, s.search_radius_m,
                   ARRAY(SELECT CASE WHEN b.blocker_id = %(viewer)s THEN b.blocked_id ELSE b.blocker_id END
                         FROM accounts_block b WHERE b.blocker_id = %(viewer)s OR b.blocked_id = %(viewer)s),
                   ARRAY({exact}),
                   ARRAY({contacts})
            FROM (SELECT 1) AS one LEFT JOIN accounts_usersettings s ON s.user_id = %(viewer)s
        """
    params: dict = {"viewer": user.pk}
    for provider in (*EXACT_POSITION_PROVIDERS.values(), *CONTACT_PROVIDERS.values()):
        if getattr(provider, "sql", None) and getattr(provider, "sql_params", None):
            params.update(provider.sql_params(now))
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        filters, radius, blocked, exact_ids, contact_ids = cursor.fetchone()
    if isinstance(filters, str):
        filters = json.loads(filters)
    blocked_ids = frozenset(blocked or ())
    exact_set = set(exact_ids or ())
    for provider in exact_python:
        exact_set.update(provider(user.pk))
    exact_set.discard(user.pk)
    exact_set -= blocked_ids
    contact_set = set(contact_ids or ())
    for provider in contact_python:
        contact_set.update(provider(user.pk))
    contact_set.discard(user.pk)
    return ViewerContext(
        user_id=user.pk,
        roles=frozenset(user.roles or []),
        show_roles=frozenset((filters or {}).get("show_roles") or []),
        blocked_ids=blocked_ids,
        search_radius_m=radius if radius is not None else settings.MAP_DEFAULT_RADIUS_M,
        exact_user_ids=frozenset(exact_set),
        matured_roles=user.roles_matured(now),
        contact_ids=frozenset(contact_set),
    )


def location_fresh_after(now: datetime | None = None) -> datetime:
    """The freshness cut-off: a fix is fresh when its ``recorded_at`` is strictly after this (UTC datetime).

    ``now - LOCATION_TTL_S`` rounded down to a whole multiple of
    ``FRESHNESS_QUANTUM_S`` (60 s) since the epoch. A fix recorded at ``t``
    therefore stays fresh until ``ceil_minute(t) + LOCATION_TTL_S`` (between
    ``LOCATION_TTL_S`` and ``LOCATION_TTL_S + 60`` seconds) and expires at a
    whole minute, on the first map tick at or after it, so when someone
    drops off the map tells no more than the minute of their fix, the same
    as ``location_updated_at`` (issue 7, item 10). Used by REST, the socket
    snapshot, the live fan-out and the map tick alike.
    """
    cutoff = (now or timezone.now()) - timedelta(seconds=settings.LOCATION_TTL_S)
    epoch_s = cutoff.timestamp()
    return datetime.fromtimestamp(epoch_s - (epoch_s % FRESHNESS_QUANTUM_S), tz=UTC)


def visibility_allows(
    viewer: ViewerContext, target: TargetState, now: datetime | None = None, *, fresh_after: datetime | None = None
) -> bool:
    """Clauses 1-6 and 8 of the rule in Python (the radius, clause 7, is checked by the caller).

    Clause 3 uses ``viewer.matured_roles``; clause 8 ``target.contacts_only``
    against ``viewer.contact_ids``. ``now`` defaults to the current time;
    ``fresh_after``, when given, is ``location_fresh_after(now)`` computed
    once by a caller judging many pairs (the live fan-out).
    """
    if target.user_id == viewer.user_id or not target.sharing or target.recorded_at is None:
        return False
    if target.recorded_at <= (fresh_after or location_fresh_after(now)):
        return False
    if target.visible_roles and not (target.visible_roles & viewer.matured_roles):
        return False
    if viewer.show_roles and not (viewer.show_roles & target.roles):
        return False
    if target.contacts_only and target.user_id not in viewer.contact_ids:
        return False
    return target.user_id not in viewer.blocked_ids


def age_band_range(age_min: int | None, age_max: int | None) -> tuple[int | None, int | None]:
    """Widen an age range (years, inclusive) to whole ``AGE_BAND_YEARS`` (5-year) bands.

    A target's age is compared as its band ``[5k, 5k + 4]`` (``k = age // 5``):
    it matches when any age of its band lies in ``[age_min, age_max]``,
    which is the same as its exact age lying in
    ``[5 * (age_min // 5), 5 * (age_max // 5) + 4]``. So ``23..30`` matches
    ages 20 to 34, and moving ``age_min`` one year at a time only changes the
    answer at multiples of 5: a binary search learns the band, never the age.
    ``None`` bounds stay ``None``.
    """
    band = AGE_BAND_YEARS
    low = None if age_min is None else band * (age_min // band)
    high = None if age_max is None else band * (age_max // band) + band - 1
    return low, high


def _age_bounds(age_min: int | None, age_max: int | None, today: date) -> tuple[date | None, date | None]:
    """Birth-date bounds for an age range in whole years."""
    born_before = born_after = None
    if age_min is not None:
        born_before = _years_ago(today, age_min)
    if age_max is not None:
        born_after = _years_ago(today, age_max + 1) + timedelta(days=1)
    return born_after, born_before


def _years_ago(today: date, years: int) -> date:
    try:
        return today.replace(year=today.year - years)
    except ValueError:  # 29 February
        return today.replace(year=today.year - years, day=28)


def _map_nodes_query(
    viewer: ViewerContext,
    *,
    lat: float,
    lng: float,
    radius_m: float,
    role: str | None,
    age_range: tuple[int | None, int | None] | None,
    gender: str | None,
    limit: int | None,
    now: datetime,
) -> tuple[str, dict]:
    """The one visibility query of :func:`map_nodes_list` and :func:`map_nodes_json`: ``(sql, params)``.

    Selects ``id, full_name, username, roles, lat, lng, distance_m,
    recorded_at, accuracy_m, exact`` of the nearest ``limit`` visible
    targets (KNN on the GiST index), unordered by distance within the limit.
    """
    limit = limit or settings.MAP_MAX_RESULTS
    params: dict = {
        "viewer": viewer.user_id,
        "lat": lat,
        "lng": lng,
        "radius": radius_m,
        "fresh_after": location_fresh_after(now),
        "viewer_roles": sorted(viewer.matured_roles),
        "contacts": list(viewer.contact_ids),
        "everyone": Visibility.EVERYONE.value,
        "show_roles": sorted(viewer.show_roles),
        "blocked": list(viewer.blocked_ids),
        "exact": list(viewer.exact_user_ids),
        "limit": limit,
    }
    centre = "ST_SetSRID(ST_MakePoint(%(lng)s, %(lat)s), 4326)::geography"
    if viewer.exact_user_ids:
        shown = "(CASE WHEN u.id = ANY(%(exact)s::uuid[]) THEN f.location ELSE f.public_location END)"
        within = (
            f"((u.id = ANY(%(exact)s::uuid[]) AND ST_DWithin(f.location, {centre}, %(radius)s))"
            f" OR (NOT u.id = ANY(%(exact)s::uuid[]) AND ST_DWithin(f.public_location, {centre}, %(radius)s)))"
        )
    else:
        shown = "f.public_location"
        within = f"ST_DWithin(f.public_location, {centre}, %(radius)s)"
    where = [
        "s.location_sharing",
        "u.is_active",
        "(u.id = ANY(%(exact)s::uuid[]) OR f.public_location IS NOT NULL)",
        "f.recorded_at > %(fresh_after)s",
        "u.id <> %(viewer)s",
        "(cardinality(s.visible_roles) = 0 OR s.visible_roles && %(viewer_roles)s::varchar[])",
        "(s.visibility = %(everyone)s OR u.id = ANY(%(contacts)s::uuid[]))",
        within,
    ]
    if viewer.show_roles:
        where.append("u.roles && %(show_roles)s::varchar[]")
    if viewer.blocked_ids:
        where.append("NOT (u.id = ANY(%(blocked)s::uuid[]))")
    if role:
        params["role"] = [role]
        where.append("u.roles @> %(role)s::varchar[]")
    if age_range and (age_range[0] is not None or age_range[1] is not None):
        born_after, born_before = _age_bounds(*age_band_range(age_range[0], age_range[1]), now.date())
        where.append("u.birth_date IS NOT NULL")
        if born_before:
            params["born_before"] = born_before
            where.append("u.birth_date <= %(born_before)s")
        if born_after:
            params["born_after"] = born_after
            where.append("u.birth_date >= %(born_after)s")
    if gender and gender != GenderPreference.ANY:
        params["gender"] = gender
        where.append("u.gender = %(gender)s")
    sql = f"""
        SELECT u.id, u.full_name, u.username, u.roles,
               ST_Y({shown}::geometry) AS lat, ST_X({shown}::geometry) AS lng,
               ST_Distance({shown}, {centre}) AS distance_m,
               f.recorded_at, f.accuracy_m, u.id = ANY(%(exact)s::uuid[]) AS exact
        FROM geo_locationfix f
        JOIN accounts_user u ON u.id = f.user_id
        JOIN accounts_usersettings s ON s.user_id = f.user_id
        WHERE {" AND ".join(where)}
        ORDER BY {shown} <-> {centre}
        LIMIT %(limit)s
    """
    return sql, params


def _map_nodes_fetch(sql: str, params: dict) -> list[tuple]:
    """Run a map nodes query with bitmap scans off for that statement only; its rows.

    PostGIS underestimates how many fixes a dense box holds (2 544 rows
    estimated for a 2 km box that held 56 425, 1M-user bench population), so
    the planner read the whole box by a bitmap scan and sorted it (78-91 ms)
    instead of walking the GiST index in ``<->`` order and stopping at the
    ``limit``-th visible row (5 ms). The box condition still bounds the walk,
    so a sparse area costs no more. ``SET LOCAL`` in the same query string
    lives in that string's implicit transaction; the ``RESET`` ends it inside
    an enclosing ``atomic`` block too (docs/bench.md, issue 8).
    """
    with connection.cursor() as cursor:
        cursor.execute(f"SET LOCAL enable_bitmapscan = off; {sql}; RESET enable_bitmapscan", params)
        while cursor.description is None:
            if not cursor.nextset():
                raise RuntimeError("map nodes query returned no rows set")  # pragma: no cover
        return cursor.fetchall()


def map_nodes_list(
    viewer: ViewerContext,
    *,
    lat: float,
    lng: float,
    radius_m: float,
    role: str | None = None,
    age_range: tuple[int | None, int | None] | None = None,
    gender: str | None = None,
    limit: int | None = None,
    now: datetime | None = None,
) -> list[dict]:
    """Users visible to ``viewer`` within ``radius_m`` metres of (``lat``, ``lng``), nearest first.

    Optional filters: ``role`` (target holds that slug), ``age_range``
    (years, inclusive, matched on 5-year bands by :func:`age_band_range`;
    targets without a birth date are excluded when set), ``gender``. At
    most ``limit`` (default ``MAP_MAX_RESULTS``) items, each
    ``{"user_id", "name", "roles", "lat", "lng", "distance_m", "precision_m",
    "location_updated_at", "online"}``. One SQL query on the GiST index, plus
    one Redis round trip for presence. :func:`map_nodes_json` is the same
    query answering the JSON text REST sends.
    """
    now = now or timezone.now()
    sql, params = _map_nodes_query(
        viewer,
        lat=lat,
        lng=lng,
        radius_m=radius_m,
        role=role,
        age_range=age_range,
        gender=gender,
        limit=limit,
        now=now,
    )
    # KNN (<->, the GiST index, sphere distance) picks the nearest
    # ``limit`` rows; order them by the reported spheroid distance.
    rows = sorted(_map_nodes_fetch(sql, params), key=lambda row: (row[6], str(row[0])))
    online = presence_online_ids([row[0] for row in rows])
    grid = float(settings.MAP_GRID_M)
    return [
        {
            "user_id": uid,
            "name": full_name or username,
            "roles": list(roles),
            "lat": round(y, 7),
            "lng": round(x, 7),
            "distance_m": round(distance, 1),
            "precision_m": (accuracy or 0.0) if exact else grid,
            "location_updated_at": recorded_at if exact else recorded_at.replace(second=0, microsecond=0),
            "online": uid in online,
        }
        for uid, full_name, username, roles, y, x, distance, recorded_at, accuracy, exact in rows
    ]


#: UTC timestamps as DRF's JSON encoder writes them: ISO 8601, ``Z``, microseconds only when non-zero.
_JSON_TIME = """(to_char({t} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS')
    || CASE WHEN date_trunc('second', {t}) = {t} THEN '' ELSE to_char({t} AT TIME ZONE 'UTC', '.US') END || 'Z')"""


def map_nodes_json(
    viewer: ViewerContext,
    *,
    lat: float,
    lng: float,
    radius_m: float,
    role: str | None = None,
    limit: int | None = None,
    now: datetime | None = None,
) -> tuple[int, str]:
    """``(count, JSON text of the items)``: :func:`map_nodes_list` encoded by PostgreSQL, for REST.

    The same query and the same items (keys, order, values: degrees rounded
    to 1e-7, metres to 0.1, times as ISO 8601 UTC with ``Z``), but each row
    leaves the database as its JSON text, so no row is decoded into Python
    objects and re-encoded (issue 8: decoding, dict building and JSON
    encoding were ~45 % of a dense ``GET /api/map_nodes``). Presence is one
    Redis call over the ids, spliced in as ``"online"``.
    """
    now = now or timezone.now()
    sql, params = _map_nodes_query(
        viewer,
        lat=lat,
        lng=lng,
        radius_m=radius_m,
        role=role,
        age_range=None,
        gender=None,
        limit=limit,
        now=now,
    )
    params["grid"] = float(settings.MAP_GRID_M)
    shown_time = "(CASE WHEN n.exact THEN n.recorded_at ELSE date_trunc('minute', n.recorded_at) END)"
    wrapped = f"""
        SELECT n.id::text,
               '{{"user_id":"' || n.id::text
               || '","name":' || to_json(COALESCE(NULLIF(n.full_name, ''), n.username))::text
               || ',"roles":' || to_json(n.roles)::text
               || ',"lat":' || round(n.lat::numeric, 7)::float8::text
               || ',"lng":' || round(n.lng::numeric, 7)::float8::text
               || ',"distance_m":' || round(n.distance_m::numeric, 1)::float8::text
               || ',"precision_m":'
               || (CASE WHEN n.exact THEN COALESCE(n.accuracy_m, 0) ELSE %(grid)s END)::float8::text
               || ',"location_updated_at":"' || {_JSON_TIME.format(t=shown_time)} || '"'
        FROM ({sql}) n
        ORDER BY n.distance_m, n.id::text
    """
    rows = _map_nodes_fetch(wrapped, params)
    online = presence_online_ids([uid for uid, _ in rows])
    items = ",".join([text + (',"online":true}' if uid in online else ',"online":false}') for uid, text in rows])
    return len(rows), f"[{items}]"


def nearby_users_list(user, viewer: ViewerContext | None = None, *, role: str | None = None) -> list[dict] | None:
    """Map nodes around ``user``'s own latest fix (seed 001 ``/api/users/nearby``).

    Uses the user's ``search_radius_m``, age range and gender preference.
    Returns ``None`` when the user has no fix yet.
    """
    from .models import LocationFix

    fix = LocationFix.objects.filter(user_id=user.pk).only("location").first()
    if fix is None:
        return None
    viewer = viewer or viewer_context_get(user)
    prefs = UserSettings.objects.get(user_id=user.pk)
    return map_nodes_list(
        viewer,
        lat=fix.location.y,
        lng=fix.location.x,
        radius_m=prefs.search_radius_m,
        role=role,
        age_range=(prefs.age_range_min, prefs.age_range_max),
        gender=prefs.gender_preference,
    )


def epoch_to_datetime(seconds: float | None) -> datetime | None:
    """UTC datetime from epoch seconds (``None`` stays ``None``)."""
    return None if seconds is None else datetime.fromtimestamp(seconds, tz=UTC)
