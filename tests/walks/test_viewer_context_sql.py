"""``geo.selectors.viewer_context_get`` in one statement agrees with the providers called through the ORM."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.gis.geos import Point
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import Block, UserSettings
from accounts.selectors import block_blocked_ids, contact_ids_for
from geo.selectors import CONTACT_PROVIDERS, EXACT_POSITION_PROVIDERS, exact_user_ids_for, viewer_context_get
from tests.walks.test_fix_listeners_batch import world  # noqa: F401  (the fixture)
from walks.models import Meetup, MeetupParticipant, MeetupStatus, Walk, WalkStatus

pytestmark = pytest.mark.django_db


@pytest.fixture
def richer_world(world):  # noqa: F811
    """``world`` plus a two-person ended meetup, a second completed walk, blocks and a role filter."""
    users, _ = world
    now = timezone.now()
    m = Meetup.objects.create(
        organizer=users["meetup_ended_guest"], status=MeetupStatus.ENDED, time=now, location=Point(13.4, 52.5)
    )
    MeetupParticipant.objects.create(meetup=m, user=users["meetup_ended_guest"])
    MeetupParticipant.objects.create(meetup=m, user=users["nobody"], left_at=now)
    Walk.objects.create(
        initiator=users["nobody"], partner=users["walk_done_a"], status=WalkStatus.COMPLETED, end_time=now
    )
    # a block inside a live walk: the exact grant is gone both ways, the contact stays (clause 5 applies it)
    Block.objects.create(blocker=users["walk_accepted_b"], blocked=users["walk_accepted_a"])
    Block.objects.create(blocker=users["alert_to"], blocked=users["walk_done_b"])
    UserSettings.objects.filter(user=users["meetup_guest"]).update(
        filters={"show_roles": ["walker"]}, search_radius_m=750
    )
    return users


def test_every_user_gets_the_same_context_from_one_statement_as_from_the_orm(richer_world):
    assert EXACT_POSITION_PROVIDERS and all(getattr(p, "sql", None) for p in EXACT_POSITION_PROVIDERS.values())
    assert CONTACT_PROVIDERS and all(getattr(p, "sql", None) for p in CONTACT_PROVIDERS.values())
    seen_exact = seen_contacts = seen_blocks = 0
    for name, user in richer_world.items():
        with CaptureQueriesContext(connection) as queries:
            ctx = viewer_context_get(user)
        assert len(queries) == 1, name
        assert ctx.exact_user_ids == exact_user_ids_for(user.pk), name
        assert ctx.contact_ids == contact_ids_for(user.pk), name
        assert ctx.blocked_ids == frozenset(block_blocked_ids(user.pk)), name
        row = UserSettings.objects.get(user=user)
        assert ctx.show_roles == frozenset(row.show_roles) and ctx.search_radius_m == row.search_radius_m, name
        seen_exact += bool(ctx.exact_user_ids)
        seen_contacts += bool(ctx.contact_ids)
        seen_blocks += bool(ctx.blocked_ids)
    assert seen_exact >= 4 and seen_contacts >= 4 and seen_blocks >= 4  # the world exercises every part
    u = richer_world
    assert viewer_context_get(u["walk_accepted_a"]).exact_user_ids == frozenset()  # the block wins
    assert viewer_context_get(u["meetup_guest"]).exact_user_ids == {u["meetup_organizer"].pk}
    assert viewer_context_get(u["meetup_guest"]).show_roles == {"walker"}
    assert viewer_context_get(u["nobody"]).contact_ids == {u["meetup_ended_guest"].pk, u["walk_done_a"].pk}


def test_the_time_windows_follow_now(richer_world):
    u = richer_world
    later = timezone.now() + timedelta(days=1)
    for name in ("walk_started_b", "walk_started_a", "meetup_guest"):
        assert viewer_context_get(u[name]).exact_user_ids, name
        assert viewer_context_get(u[name], now=later).exact_user_ids == frozenset(), name


def test_a_provider_without_an_sql_form_is_still_called(richer_world, monkeypatch):
    u = richer_world
    monkeypatch.setitem(CONTACT_PROVIDERS, "test-python", lambda user_id: {u["alert_from"].pk, user_id})
    ctx = viewer_context_get(u["nobody"])
    assert ctx.contact_ids == {u["meetup_ended_guest"].pk, u["walk_done_a"].pk, u["alert_from"].pk}


def test_a_viewer_without_settings_gets_the_defaults(make_user, settings):
    user = make_user()
    UserSettings.objects.filter(user=user).delete()
    ctx = viewer_context_get(user)
    assert ctx.show_roles == frozenset() and ctx.search_radius_m == settings.MAP_DEFAULT_RADIUS_M
