"""The one visibility rule: its SQL face (map nodes) and its Python face (live fan-out) agree.

A matrix of viewers and targets covering sharing, visible_roles (against
matured and freshly claimed viewer roles), show_roles, the ``contacts``
visibility level (with a contact provider registered by the test), blocks
either way, stale fixes and self is built in the database; for every pair the
Python rule (``visibility_allows`` over the target's DB state, and over the
map tick's own fan-out message), the SQL rule (``map_nodes_list``), the REST
answer and the rule as the spec states it must all agree.
"""

from __future__ import annotations

import itertools
import random
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from accounts.models import Block, User, UserSettings
from geo.fanout import _tick_apply, map_publish_tick
from geo.models import LocationFix
from geo.selectors import (
    CONTACT_PROVIDERS,
    TargetState,
    contact_ids_for,
    location_fresh_after,
    map_nodes_list,
    viewer_context_get,
    visibility_allows,
)

from .conftest import HOME
from .geoutil import offset

pytestmark = pytest.mark.django_db

VIEWERS = [
    # (roles, show_roles, roles claimed just now: do not count for visible_roles yet)
    (["walker"], [], []),
    (["driver"], ["runner"], []),
    ([], [], []),
    (["walker", "runner"], ["walker", "driver"], []),
    (["rider"], ["rider"], []),
    (["walker", "driver"], [], ["walker", "driver"]),  # claimed both a minute ago: counts for nothing
    (["walker", "rider"], [], ["rider"]),  # walker matured, rider fresh
]
SHARING = [True, False]
TARGET_ROLES = [[], ["runner"], ["walker", "driver"], ["rider"]]
VISIBLE_ROLES = [[], ["walker"], ["driver", "rider"]]
STALE = [False, True]
VISIBILITY = ["everyone", "contacts"]


def target_state(user: User) -> TargetState:
    """The target's state as the fan-out message carries it, read from the database."""
    user.refresh_from_db()
    prefs = UserSettings.objects.get(user=user)
    fix = LocationFix.objects.filter(user=user).first()
    return TargetState(
        user_id=user.pk,
        sharing=prefs.location_sharing,
        roles=frozenset(user.roles),
        visible_roles=frozenset(prefs.visible_roles),
        recorded_at=fix.recorded_at if fix else None,
        contacts_only=prefs.visibility == "contacts",
    )


def spec_allows(viewer, target, book) -> bool:
    """The rule as docs/privacy.md states it (clauses 1-6 and 8), computed from the test's own bookkeeping."""
    vs, ts = UserSettings.objects.get(user=viewer), UserSettings.objects.get(user=target)
    matured = set(viewer.roles) - book["fresh_roles"].get(viewer.pk, set())
    return (
        target.pk != viewer.pk
        and ts.location_sharing
        and target.pk not in book["stale_ids"]
        and (not ts.visible_roles or bool(set(ts.visible_roles) & matured))
        and (not vs.show_roles or bool(set(vs.show_roles) & set(target.roles)))
        and (ts.visibility == "everyone" or target.pk in book["contacts"].get(viewer.pk, set()))
        and (viewer.pk, target.pk) not in book["blocked_pairs"]
        and (target.pk, viewer.pk) not in book["blocked_pairs"]
    )


@pytest.fixture
def matrix(make_user, place, settings, monkeypatch):
    rng = random.Random(20240501)
    # Freshness ends at a whole minute, up to 60 s after the TTL: 90 s past it is stale whatever the clock.
    stale_at = (timezone.now() - timedelta(seconds=settings.LOCATION_TTL_S + 90)).isoformat()
    claimed_now = timezone.now().isoformat()
    held_long = (timezone.now() - timedelta(seconds=settings.ROLE_VISIBILITY_MIN_AGE_S + 60)).isoformat()
    viewers = []
    fresh_roles: dict = {}
    for i, (roles, show_roles, fresh) in enumerate(VIEWERS):
        role_since = {slug: (claimed_now if slug in fresh else held_long) for slug in roles}
        viewer = make_user(roles=roles, show_roles=show_roles, sharing=True, visible_roles=[], role_since=role_since)
        place(viewer, *offset(*HOME, north_m=-20 * i, east_m=-30), tick=False)
        viewers.append(viewer)
        fresh_roles[viewer.pk] = set(fresh)
    targets = []
    stale_ids = set()
    combos = list(itertools.product(SHARING, TARGET_ROLES, VISIBLE_ROLES, STALE, VISIBILITY))
    for i, (sharing, roles, visible_roles, stale, visibility) in enumerate(combos):
        target = make_user(
            roles=roles, sharing=sharing, visible_roles=visible_roles, settings_fields={"visibility": visibility}
        )
        point = offset(*HOME, north_m=35 * (i % 12) - 200, east_m=45 * (i // 12))
        if stale:
            place(target, *point, tick=False, timestamp=stale_at)
            stale_ids.add(target.pk)
        else:
            place(target, *point, tick=False)
        targets.append(target)
    everyone = viewers + targets
    blocked_pairs = set()
    contacts: dict = {}
    for viewer in viewers:
        for other in everyone:
            if other.pk == viewer.pk:
                continue
            draw = rng.random()
            pair = (viewer.pk, other.pk) if draw < 0.12 else (other.pk, viewer.pk) if draw < 0.24 else None
            if pair and pair not in blocked_pairs and pair[::-1] not in blocked_pairs:
                Block.objects.create(blocker_id=pair[0], blocked_id=pair[1])
                blocked_pairs.add(pair)
            if rng.random() < 0.5:  # a contact (both ways, as providers must return)
                contacts.setdefault(viewer.pk, set()).add(other.pk)
                contacts.setdefault(other.pk, set()).add(viewer.pk)
    monkeypatch.setitem(CONTACT_PROVIDERS, "test-matrix", lambda user_id: contacts.get(user_id, set()))
    map_publish_tick()
    book = {"blocked_pairs": blocked_pairs, "stale_ids": stale_ids, "contacts": contacts, "fresh_roles": fresh_roles}
    return viewers, everyone, book


def fanout_states(users) -> dict:
    """TargetState per user built from the map tick's own ``map.cell`` message (what live viewers receive)."""
    now = timezone.now()
    messages, _, _ = _tick_apply([str(u.pk) for u in users], now, location_fresh_after(now), seq=1)
    return {uuid.UUID(message["user_id"]): TargetState.from_message(message) for _, message in messages}


def test_sql_and_python_rules_agree_over_the_matrix(matrix, client_for):
    viewers, everyone, book = matrix
    states = {user.pk: target_state(user) for user in everyone}
    published = fanout_states(everyone)
    assert len(published) >= 30  # every sharing, fresh user (24 targets, 7 viewers) has a message
    now = timezone.now()
    outcomes = {True: 0, False: 0}
    reasons_seen = set()
    for viewer in viewers:
        ctx = viewer_context_get(viewer)
        assert ctx.contact_ids == book["contacts"].get(viewer.pk, set())
        sql_ids = {item["user_id"] for item in map_nodes_list(ctx, lat=HOME[0], lng=HOME[1], radius_m=5000, now=now)}
        rest = client_for(viewer).get("/api/map_nodes", {"lat": HOME[0], "lng": HOME[1], "radius": 5000})
        assert rest.status_code == 200
        assert {item["user_id"] for item in rest.json()["results"]} == {str(uid) for uid in sql_ids}
        for target in everyone:
            python = visibility_allows(ctx, states[target.pk], now=now)
            expected = spec_allows(viewer, target, book)
            where = (str(viewer.roles), ctx.matured_roles, ctx.show_roles, states[target.pk])
            assert python == expected, where
            assert (target.pk in sql_ids) == python, where
            if target.pk in published:
                # the live fan-out message carries everything the rule needs, including contacts_only
                assert visibility_allows(ctx, published[target.pk], now=now) == python, where
            outcomes[python] += 1
            if not python:
                reasons_seen.add(_reason(viewer, target, states[target.pk], ctx, book))
    # the matrix really exercises both answers and every clause
    assert outcomes[True] >= 20 and outcomes[False] >= 20, outcomes
    assert reasons_seen >= {
        "self",
        "sharing",
        "stale",
        "visible_roles",
        "immature_role",
        "show_roles",
        "contacts",
        "blocked_by_viewer",
        "blocked_by_target",
    }


def _reason(viewer, target, state, ctx, book) -> str:
    if target.pk == viewer.pk:
        return "self"
    if not state.sharing:
        return "sharing"
    if target.pk in book["stale_ids"]:
        return "stale"
    if state.visible_roles and not state.visible_roles & ctx.matured_roles:
        return "immature_role" if state.visible_roles & ctx.roles else "visible_roles"
    if ctx.show_roles and not ctx.show_roles & state.roles:
        return "show_roles"
    if state.contacts_only and target.pk not in ctx.contact_ids:
        return "contacts"
    if (viewer.pk, target.pk) in book["blocked_pairs"]:
        return "blocked_by_viewer"
    if (target.pk, viewer.pk) in book["blocked_pairs"]:
        return "blocked_by_target"
    return "other"


@pytest.mark.parametrize("providers", ["none", "registered"])
def test_without_a_contact_a_contacts_only_user_is_visible_to_nobody(
    make_user, place, client_for, monkeypatch, providers
):
    """With no provider at all, and with the apps' real providers but no walk/meetup/DM between them."""
    if providers == "none":
        for name in list(CONTACT_PROVIDERS):
            monkeypatch.delitem(CONTACT_PROVIDERS, name)
    target = make_user(sharing=True, settings_fields={"visibility": "contacts"})
    control = make_user(sharing=True)
    place(target, *offset(*HOME, north_m=50))
    place(control, *offset(*HOME, north_m=-50))
    assert (CONTACT_PROVIDERS == {}) == (providers == "none")
    for viewer in (make_user(), make_user(roles=["walker"])):
        ctx = viewer_context_get(viewer)
        assert contact_ids_for(viewer.pk) == frozenset()
        listed = {i["user_id"] for i in map_nodes_list(ctx, lat=HOME[0], lng=HOME[1], radius_m=1000)}
        assert listed == {control.pk}  # positive control: the everyone-user is there
        assert visibility_allows(ctx, target_state(target)) is False
        assert visibility_allows(ctx, target_state(control)) is True


def test_viewer_context_reflects_the_database(make_user):
    viewer = make_user(roles=["walker", "runner"], show_roles=["driver"], settings_fields={"search_radius_m": 750})
    a, b, c = make_user(), make_user(), make_user()
    Block.objects.create(blocker=viewer, blocked=a)
    Block.objects.create(blocker=b, blocked=viewer)
    Block.objects.create(blocker=a, blocked=c)  # not involving the viewer
    ctx = viewer_context_get(viewer)
    assert ctx.user_id == viewer.pk
    assert ctx.roles == {"walker", "runner"}
    assert ctx.show_roles == {"driver"}
    assert ctx.blocked_ids == {a.pk, b.pk}
    assert ctx.search_radius_m == 750
    assert ctx.exact_user_ids == frozenset()
    assert ctx.matured_roles == {"walker", "runner"}  # no role_since entry: held before it existed
    assert ctx.contact_ids == frozenset()


def test_viewer_context_counts_only_matured_roles(make_user, settings):
    now = timezone.now()
    held = (now - timedelta(seconds=settings.ROLE_VISIBILITY_MIN_AGE_S)).isoformat()
    almost = (now - timedelta(seconds=settings.ROLE_VISIBILITY_MIN_AGE_S - 60)).isoformat()
    viewer = make_user(
        roles=["walker", "runner", "driver", "rider"],
        role_since={"walker": held, "runner": almost, "driver": "garbage"},
    )
    ctx = viewer_context_get(viewer, now=now)
    assert ctx.roles == {"walker", "runner", "driver", "rider"}
    assert ctx.matured_roles == {"walker", "rider"}  # runner too young, driver unreadable, rider unstamped
    later = viewer_context_get(viewer, now=now + timedelta(seconds=60))
    assert later.matured_roles == {"walker", "runner", "rider"}


def test_python_rule_ttl_boundary(make_user, settings):
    """Fresh means ``recorded_at`` after ``now - TTL`` rounded down to the minute."""
    viewer = make_user()
    ctx = viewer_context_get(viewer)
    now = datetime(2026, 5, 1, 12, 10, 30, 500_000, tzinfo=UTC)
    ttl = timedelta(seconds=settings.LOCATION_TTL_S)
    cutoff = (now - ttl).replace(second=0, microsecond=0)
    assert location_fresh_after(now) == cutoff

    def state(recorded_at):
        return TargetState(make_user().pk, True, frozenset(), frozenset(), recorded_at)

    assert visibility_allows(ctx, state(now - ttl + timedelta(seconds=1)), now=now) is True
    assert visibility_allows(ctx, state(now - ttl), now=now) is True  # TTL passed, but not the whole minute
    assert visibility_allows(ctx, state(cutoff + timedelta(microseconds=1)), now=now) is True
    assert visibility_allows(ctx, state(cutoff), now=now) is False
    assert visibility_allows(ctx, state(None), now=now) is False


def test_sql_rule_ttl_boundary(make_user, place, settings):
    """A fix recorded at ``t`` drops off at ``ceil_minute(t) + TTL``, in SQL and Python alike."""
    viewer = make_user()
    target = make_user(sharing=True)
    place(target, *offset(*HOME, north_m=50))
    recorded = LocationFix.objects.get(user=target).recorded_at
    ttl = timedelta(seconds=settings.LOCATION_TTL_S)
    floor = recorded.replace(second=0, microsecond=0)
    expires = floor + timedelta(minutes=1) if floor != recorded else recorded
    expires += ttl
    ctx = viewer_context_get(viewer)

    def listed(now):
        return [i["user_id"] for i in map_nodes_list(ctx, lat=HOME[0], lng=HOME[1], radius_m=1000, now=now)]

    assert listed(expires - timedelta(milliseconds=1)) == [target.pk]
    assert listed(expires) == []
    state = target_state(target)
    assert visibility_allows(ctx, state, now=expires - timedelta(milliseconds=1)) is True
    assert visibility_allows(ctx, state, now=expires) is False
