"""The one visibility rule: its SQL face (map nodes) and its Python face (live fan-out) agree.

A matrix of viewers and targets covering sharing, visible_roles, show_roles,
blocks either way, stale fixes and self is built in the database; for every
pair the Python rule (``visibility_allows`` over the target's DB state), the
SQL rule (``map_nodes_list``), the REST answer and the rule as the spec
states it must all agree.
"""

from __future__ import annotations

import itertools
import random
from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import Block, User, UserSettings
from geo.fanout import map_publish_tick
from geo.models import LocationFix
from geo.selectors import TargetState, map_nodes_list, viewer_context_get, visibility_allows

from .conftest import HOME
from .geoutil import offset

pytestmark = pytest.mark.django_db

VIEWERS = [
    # (roles, show_roles)
    (["walker"], []),
    (["driver"], ["runner"]),
    ([], []),
    (["walker", "runner"], ["walker", "driver"]),
    (["rider"], ["rider"]),
]
SHARING = [True, False]
TARGET_ROLES = [[], ["runner"], ["walker", "driver"], ["rider"]]
VISIBLE_ROLES = [[], ["walker"], ["driver", "rider"]]
STALE = [False, True]


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
    )


def spec_allows(viewer, target, blocked_pairs, stale_ids) -> bool:
    """The rule as issue 2 states it (clauses 1-6), computed from the test's own bookkeeping."""
    vs, ts = UserSettings.objects.get(user=viewer), UserSettings.objects.get(user=target)
    return (
        target.pk != viewer.pk
        and ts.location_sharing
        and target.pk not in stale_ids
        and (not ts.visible_roles or bool(set(ts.visible_roles) & set(viewer.roles)))
        and (not vs.show_roles or bool(set(vs.show_roles) & set(target.roles)))
        and (viewer.pk, target.pk) not in blocked_pairs
        and (target.pk, viewer.pk) not in blocked_pairs
    )


@pytest.fixture
def matrix(make_user, place, settings):
    rng = random.Random(20240501)
    stale_at = (timezone.now() - timedelta(seconds=settings.LOCATION_TTL_S + 30)).isoformat()
    viewers = []
    for i, (roles, show_roles) in enumerate(VIEWERS):
        viewer = make_user(roles=roles, show_roles=show_roles, sharing=True, visible_roles=[])
        place(viewer, *offset(*HOME, north_m=-20 * i, east_m=-30), tick=False)
        viewers.append(viewer)
    targets = []
    stale_ids = set()
    combos = list(itertools.product(SHARING, TARGET_ROLES, VISIBLE_ROLES, STALE))
    for i, (sharing, roles, visible_roles, stale) in enumerate(combos):
        target = make_user(roles=roles, sharing=sharing, visible_roles=visible_roles)
        point = offset(*HOME, north_m=35 * (i % 12) - 200, east_m=45 * (i // 12))
        if stale:
            place(target, *point, tick=False, timestamp=stale_at)
            stale_ids.add(target.pk)
        else:
            place(target, *point, tick=False)
        targets.append(target)
    everyone = viewers + targets
    blocked_pairs = set()
    for viewer in viewers:
        for other in everyone:
            if other.pk == viewer.pk:
                continue
            draw = rng.random()
            pair = (viewer.pk, other.pk) if draw < 0.12 else (other.pk, viewer.pk) if draw < 0.24 else None
            if pair and pair not in blocked_pairs and pair[::-1] not in blocked_pairs:
                Block.objects.create(blocker_id=pair[0], blocked_id=pair[1])
                blocked_pairs.add(pair)
    map_publish_tick()
    return viewers, everyone, blocked_pairs, stale_ids


def test_sql_and_python_rules_agree_over_the_matrix(matrix, client_for):
    viewers, everyone, blocked_pairs, stale_ids = matrix
    states = {user.pk: target_state(user) for user in everyone}
    now = timezone.now()
    outcomes = {True: 0, False: 0}
    reasons_seen = set()
    for viewer in viewers:
        ctx = viewer_context_get(viewer)
        sql_ids = {item["user_id"] for item in map_nodes_list(ctx, lat=HOME[0], lng=HOME[1], radius_m=5000, now=now)}
        rest = client_for(viewer).get("/api/map_nodes", {"lat": HOME[0], "lng": HOME[1], "radius": 5000})
        assert rest.status_code == 200
        assert {item["user_id"] for item in rest.json()["results"]} == {str(uid) for uid in sql_ids}
        for target in everyone:
            python = visibility_allows(ctx, states[target.pk], now=now)
            expected = spec_allows(viewer, target, blocked_pairs, stale_ids)
            where = (str(viewer.roles), ctx.show_roles, states[target.pk])
            assert python == expected, where
            assert (target.pk in sql_ids) == python, where
            outcomes[python] += 1
            if not python:
                reasons_seen.add(_reason(viewer, target, states[target.pk], ctx, blocked_pairs, stale_ids))
    # the matrix really exercises both answers and every clause
    assert outcomes[True] >= 20 and outcomes[False] >= 20, outcomes
    assert reasons_seen >= {
        "self",
        "sharing",
        "stale",
        "visible_roles",
        "show_roles",
        "blocked_by_viewer",
        "blocked_by_target",
    }


def _reason(viewer, target, state, ctx, blocked_pairs, stale_ids) -> str:
    if target.pk == viewer.pk:
        return "self"
    if not state.sharing:
        return "sharing"
    if target.pk in stale_ids:
        return "stale"
    if state.visible_roles and not state.visible_roles & ctx.roles:
        return "visible_roles"
    if ctx.show_roles and not ctx.show_roles & state.roles:
        return "show_roles"
    if (viewer.pk, target.pk) in blocked_pairs:
        return "blocked_by_viewer"
    if (target.pk, viewer.pk) in blocked_pairs:
        return "blocked_by_target"
    return "other"


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


def test_python_rule_ttl_boundary(make_user, settings):
    viewer = make_user()
    ctx = viewer_context_get(viewer)
    now = timezone.now()
    ttl = timedelta(seconds=settings.LOCATION_TTL_S)

    def state(recorded_at):
        return TargetState(make_user().pk, True, frozenset(), frozenset(), recorded_at)

    assert visibility_allows(ctx, state(now - ttl + timedelta(seconds=1)), now=now) is True
    assert visibility_allows(ctx, state(now - ttl), now=now) is False
    assert visibility_allows(ctx, state(None), now=now) is False


def test_sql_rule_ttl_boundary(make_user, place, settings):
    viewer = make_user()
    target = make_user(sharing=True)
    place(target, *offset(*HOME, north_m=50))
    recorded = LocationFix.objects.get(user=target).recorded_at
    ttl = timedelta(seconds=settings.LOCATION_TTL_S)
    ctx = viewer_context_get(viewer)

    def listed(now):
        return [i["user_id"] for i in map_nodes_list(ctx, lat=HOME[0], lng=HOME[1], radius_m=1000, now=now)]

    assert listed(recorded + ttl - timedelta(milliseconds=1)) == [target.pk]
    assert listed(recorded + ttl) == []
    state = target_state(target)
    assert visibility_allows(ctx, state, now=recorded + ttl - timedelta(milliseconds=1)) is True
    assert visibility_allows(ctx, state, now=recorded + ttl) is False
