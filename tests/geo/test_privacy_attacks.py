"""Issue 7, item 10: attributes hidden from profiles no longer leak through filters and timing.

Each test runs the attack from the report over REST (or over the rule with a
controlled clock) against the real PostGIS and Redis:

* binary-searching one's own ``age_range_min`` against ``/api/users/nearby``
  revealed another user's exact age in 7 requests; now it yields the 5-year
  band only;
* cycling ``gender_preference`` revealed their gender; now preference changes
  are rate-limited (``THROTTLE_PREFERENCE_CHANGE``);
* the moment a user dropped off the map revealed their last fix time to
  0.1 s; now freshness ends at a whole minute, the same for every fix
  recorded within that minute, over REST and on the map tick alike.
"""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta

import pytest
from django.utils import timezone

from geo.fanout import map_publish_tick
from geo.models import LocationFix
from geo.selectors import TargetState, map_nodes_list, viewer_context_get, visibility_allows
from tests.conftest import assert_error

from .conftest import HOME
from .geoutil import offset

pytestmark = pytest.mark.django_db

SETTINGS = "/api/settings"
NEARBY = "/api/users/nearby"


def born_years_ago(years: int) -> date:
    """A birth date that makes someone exactly ``years`` old today (well clear of the birthday)."""
    today = timezone.now().date() - timedelta(days=100)
    try:
        return today.replace(year=today.year - years)
    except ValueError:  # 29 February
        return today.replace(year=today.year - years, day=28)


def listed(client, user) -> bool:
    response = client.get(NEARBY)
    assert response.status_code == 200, response.content[:300]
    return str(user.pk) in {item["user_id"] for item in response.json()["results"]}


def day_window_guard(seconds: float = 5.0) -> None:
    """Rate windows are aligned to the UTC day: don't start a count seconds before it rolls over."""
    left = 86400 - (time.time() % 86400)
    if left < seconds:
        time.sleep(left + 0.1)


def age_by_binary_search(client, target) -> tuple[int, int]:
    """The attack: the largest ``age_range_min`` that still lists ``target`` (``low``), and the request count."""
    low, high, requests = 13, 120, 0  # invariant: listed at low, not listed above high
    while low < high:
        mid = (low + high + 1) // 2
        response = client.patch(SETTINGS, {"age_range_min": mid, "age_range_max": 120}, format="json")
        assert response.status_code == 200, response.content[:300]
        requests += 1
        if listed(client, target):
            low = mid
        else:
            high = mid - 1
    return low, requests


def test_age_binary_search_yields_only_the_band(make_user, place, client_for, settings):
    settings.THROTTLE_PREFERENCE_CHANGE = "10000/day"  # isolate the band from the rate limit
    attacker = make_user()
    place(attacker, *HOME)
    client = client_for(attacker)
    found = {}
    for age in (25, 27, 29, 30, 34):
        target = make_user(sharing=True, birth_date=born_years_ago(age))
        place(target, *offset(*HOME, north_m=60))
        found[age], requests = age_by_binary_search(client, target)
        assert requests <= 7
        target.delete()
    # before the fix the search returned the exact age; now every age of a band gives the same answer
    assert found[25] == found[27] == found[29] == 29
    assert found[30] == found[34] == 34
    assert found[29] != found[30]  # positive control: the filter does work, at band granularity


def test_age_range_max_search_yields_only_the_band(make_user, place, client_for, settings):
    settings.THROTTLE_PREFERENCE_CHANGE = "10000/day"
    attacker = make_user()
    place(attacker, *HOME)
    client = client_for(attacker)
    smallest_max = {}
    for age in (40, 42, 44, 45):
        target = make_user(sharing=True, birth_date=born_years_ago(age))
        place(target, *offset(*HOME, north_m=60))
        smallest_max[age] = next(
            m
            for m in range(13, 121)
            if client.patch(SETTINGS, {"age_range_min": 13, "age_range_max": m}, format="json").status_code == 200
            and listed(client, target)
        )
        target.delete()
    assert smallest_max[40] == smallest_max[42] == smallest_max[44] == 40
    assert smallest_max[45] == 45


def test_gender_inference_is_rate_limited(make_user, place, client_for, settings):
    settings.THROTTLE_PREFERENCE_CHANGE = "2/day"
    day_window_guard()
    target = make_user(sharing=True, gender="non_binary")
    place(target, *offset(*HOME, north_m=60))
    attacker = make_user()
    place(attacker, *HOME)
    client = client_for(attacker)
    assert listed(client, target)  # positive control: "any" lists them
    answers = {}
    for gender in ("female", "male", "non_binary", "other"):
        response = client.patch(SETTINGS, {"gender_preference": gender}, format="json")
        if response.status_code == 429:
            assert_error(response, 429, "rate_limited")
            assert int(response["Retry-After"]) > 0
            break
        answers[gender] = listed(client, target)
    # only two guesses got through, both wrong: the third (the right one) was refused and not saved
    assert answers == {"female": False, "male": False}
    assert client.get(SETTINGS).json()["gender_preference"] == "male"
    # age changes share the budget
    assert_error(client.patch(SETTINGS, {"age_range_min": 30}, format="json"), 429, "rate_limited")
    # unchanged values and other settings cost nothing and still save
    assert (
        client.patch(SETTINGS, {"gender_preference": "male", "search_radius_m": 900}, format="json").status_code == 200
    )
    assert client.get(SETTINGS).json()["search_radius_m"] == 900


def test_preference_rate_limit_default_is_set(settings):
    limit, _, period = settings.THROTTLE_PREFERENCE_CHANGE.partition("/")
    assert int(limit) >= 1 and period


def drop_off_instant(ctx, recorded_at: datetime) -> datetime:
    """The attack: poll the SQL rule every 0.1 s from TTL to TTL + 70 s after the fix; the first 'gone' time."""
    from django.conf import settings

    step = timedelta(milliseconds=100)
    now = recorded_at + timedelta(seconds=settings.LOCATION_TTL_S) - step
    end = now + timedelta(seconds=70)
    lo, hi = now, end
    # the answer is monotone in time: bisect to 0.1 s, as a poller would find it
    assert _visible(ctx, lo) and not _visible(ctx, hi)
    while hi - lo > step:
        mid = lo + (hi - lo) / 2
        if _visible(ctx, mid):
            lo = mid
        else:
            hi = mid
    return hi


def _visible(ctx, now) -> bool:
    return bool(map_nodes_list(ctx, lat=HOME[0], lng=HOME[1], radius_m=1000, now=now))


@pytest.mark.parametrize("second", [0.3, 17.4, 59.9])
def test_drop_off_time_reveals_only_the_minute(make_user, place, settings, second):
    fix_minute = (timezone.now() - timedelta(minutes=2)).replace(second=0, microsecond=0)
    recorded = fix_minute + timedelta(seconds=second)
    target = make_user(sharing=True)
    place(target, *offset(*HOME, north_m=60), timestamp=recorded.isoformat())
    assert LocationFix.objects.get(user=target).recorded_at == recorded
    viewer = make_user()
    ctx = viewer_context_get(viewer)
    gone = drop_off_instant(ctx, recorded)
    # the drop-off is at the next whole minute + TTL whatever the second of the fix
    expected = fix_minute + timedelta(minutes=1, seconds=settings.LOCATION_TTL_S)
    assert abs((gone - expected).total_seconds()) <= 0.1
    # and the Python face (live fan-out) expires at that same instant
    state = TargetState(target.pk, True, frozenset(), frozenset(), recorded)
    assert visibility_allows(ctx, state, now=expected - timedelta(milliseconds=1)) is True
    assert visibility_allows(ctx, state, now=expected) is False


def test_map_tick_expires_fixes_at_the_minute(make_user, place, settings, redis_clean):
    fix_minute = (timezone.now() - timedelta(minutes=2)).replace(second=0, microsecond=0)
    early = make_user(sharing=True)
    late = make_user(sharing=True)
    place(early, *offset(*HOME, north_m=60), timestamp=(fix_minute + timedelta(seconds=1.2)).isoformat())
    place(late, *offset(*HOME, north_m=-60), timestamp=(fix_minute + timedelta(seconds=58.7)).isoformat())
    expires = fix_minute + timedelta(minutes=1, seconds=settings.LOCATION_TTL_S)
    before = map_publish_tick(now=expires - timedelta(seconds=0.1))
    assert before["stale"] == 0
    assert LocationFix.objects.filter(public_location__isnull=False).count() == 2
    at = map_publish_tick(now=expires)
    assert at["stale"] == 2  # both fixes of that minute go at the same tick
    assert LocationFix.objects.filter(public_location__isnull=False).count() == 0


def test_location_updated_at_shown_to_strangers_is_the_minute(make_user, place, client_for):
    recorded = (timezone.now() - timedelta(seconds=30)).replace(microsecond=123_000)
    target = make_user(sharing=True)
    place(target, *offset(*HOME, north_m=60), timestamp=recorded.isoformat())
    viewer = make_user()
    response = client_for(viewer).get("/api/map_nodes", {"lat": HOME[0], "lng": HOME[1], "radius": 500})
    (item,) = response.json()["results"]
    shown = datetime.fromisoformat(item["location_updated_at"].replace("Z", "+00:00")).astimezone(UTC)
    assert shown == recorded.replace(second=0, microsecond=0)
