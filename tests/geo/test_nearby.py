"""GET /api/users/nearby: map nodes around the caller's own fix, with the caller's preferences."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.utils import timezone

from geo.grid import cell_for
from tests.conftest import assert_error

from .conftest import HOME
from .geoutil import offset, vincenty_m

pytestmark = pytest.mark.django_db

ITEM_KEYS = {"user_id", "name", "roles", "lat", "lng", "distance_m", "precision_m", "location_updated_at", "online"}


def ids(response):
    assert response.status_code == 200, response.content[:500]
    return {item["user_id"] for item in response.json()["results"]}


def years_ago(years: int, days: int = 0) -> date:
    today = timezone.now().date()
    try:
        born = today.replace(year=today.year - years)
    except ValueError:  # 29 February
        born = today.replace(year=today.year - years, day=28)
    return born + timedelta(days=days)


@pytest.mark.parametrize("path", ["/api/users/nearby", "/api/users/nearby/"])
def test_no_location_yet_is_404(make_user, client_for, path):
    me = make_user(sharing=True)
    assert_error(client_for(me).get(path), 404, "no_location")


def test_unauthenticated_is_401(anon, db):
    assert_error(anon.get("/api/users/nearby"), 401, "not_authenticated")


def test_around_the_callers_own_fix(make_user, place, client_for):
    me = make_user(sharing=False)  # seeing others does not require sharing
    place(me, *HOME)
    target = make_user(sharing=True, roles=["walker"])
    point = offset(*HOME, north_m=320, east_m=-40)
    place(target, *point)

    response = client_for(me).get("/api/users/nearby")
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 1
    item = body["results"][0]
    assert set(item) == ITEM_KEYS
    cell = cell_for(*point)
    assert item["user_id"] == str(target.pk)
    assert (item["lat"], item["lng"]) == pytest.approx((cell.lat, cell.lng), abs=1e-7)
    assert item["distance_m"] == pytest.approx(vincenty_m(*HOME, cell.lat, cell.lng), abs=1.0)
    assert item["precision_m"] == 100.0


def test_follows_the_callers_latest_fix(make_user, place, client_for):
    me = make_user()
    target = make_user(sharing=True)
    place(target, *offset(*HOME, north_m=5000))
    place(me, *HOME)
    client = client_for(me)
    assert ids(client.get("/api/users/nearby")) == set()
    place(me, *offset(*HOME, north_m=4800))
    assert ids(client.get("/api/users/nearby")) == {str(target.pk)}


def test_uses_the_callers_search_radius(make_user, place, client_for):
    me = make_user(settings_fields={"search_radius_m": 500})
    place(me, *HOME)
    close, far = make_user(sharing=True), make_user(sharing=True)
    place(close, *offset(*HOME, east_m=350))
    place(far, *offset(*HOME, east_m=800))
    client = client_for(me)
    assert ids(client.get("/api/users/nearby")) == {str(close.pk)}
    assert client.patch("/api/settings", {"search_radius_m": 1200}, format="json").status_code == 200
    assert ids(client.get("/api/users/nearby")) == {str(close.pk), str(far.pk)}


def test_applies_the_privacy_rule(make_user, place, client_for, django_capture_on_commit_callbacks):
    me = make_user(roles=["walker"], show_roles=["runner", "walker"])
    place(me, *HOME)
    ok = make_user(sharing=True, roles=["runner"])
    not_sharing = make_user(sharing=False, roles=["runner"])
    wrong_visible = make_user(sharing=True, roles=["runner"], visible_roles=["driver"])
    filtered_out = make_user(sharing=True, roles=["driver"])
    blocker = make_user(sharing=True, roles=["runner"])
    stale = make_user(sharing=True, roles=["runner"])
    for i, user in enumerate([ok, not_sharing, wrong_visible, filtered_out, blocker]):
        place(user, *offset(*HOME, north_m=50 + 60 * i))
    place(stale, *offset(*HOME, east_m=100), timestamp=(timezone.now() - timedelta(minutes=10)).isoformat())
    with django_capture_on_commit_callbacks(execute=True):
        assert client_for(blocker).post(f"/api/users/{me.pk}/block").status_code in (200, 201)
    assert ids(client_for(me).get("/api/users/nearby")) == {str(ok.pk)}


def test_self_is_not_listed(make_user, place, client_for):
    me = make_user(sharing=True)
    place(me, *HOME)
    assert ids(client_for(me).get("/api/users/nearby")) == set()


def test_age_range(make_user, place, client_for):
    """Ages match on 5-year bands: a range of 25..30 matches every age of the 25-29 and 30-34 bands."""
    me = make_user(settings_fields={"age_range_min": 25, "age_range_max": 30})
    place(me, *HOME)
    cases = {
        "24": years_ago(25, days=1),  # turns 25 tomorrow
        "25": years_ago(25),  # 25 today
        "30": years_ago(31, days=1),  # turns 31 tomorrow
        "31": years_ago(31),  # 31 today: band 30-34 overlaps the range
        "34": years_ago(35, days=1),  # turns 35 tomorrow
        "35": years_ago(35),  # 35 today: band 35-39 is out
        "60": years_ago(60),
        "unknown": None,
    }
    users = {}
    for i, (label, born) in enumerate(cases.items()):
        users[label] = make_user(sharing=True, birth_date=born)
        place(users[label], *offset(*HOME, north_m=40 * (i + 1)))
    expected = {str(users[label].pk) for label in ("25", "30", "31", "34")}
    assert ids(client_for(me).get("/api/users/nearby")) == expected


def test_age_range_min_only_and_max_only(make_user, place, client_for):
    young = make_user(sharing=True, birth_date=years_ago(20))
    old = make_user(sharing=True, birth_date=years_ago(50))
    place(young, *offset(*HOME, north_m=100))
    place(old, *offset(*HOME, north_m=200))
    min_only = make_user(settings_fields={"age_range_min": 40})
    max_only = make_user(settings_fields={"age_range_max": 40})
    no_range = make_user()
    for user in (min_only, max_only, no_range):
        place(user, *HOME)
    assert ids(client_for(min_only).get("/api/users/nearby")) == {str(old.pk)}
    assert ids(client_for(max_only).get("/api/users/nearby")) == {str(young.pk)}
    assert ids(client_for(no_range).get("/api/users/nearby")) == {str(young.pk), str(old.pk)}


def test_gender_preference(make_user, place, client_for):
    users = {}
    for i, gender in enumerate(["female", "male", "non_binary", ""]):
        users[gender] = make_user(sharing=True, gender=gender)
        place(users[gender], *offset(*HOME, north_m=50 * (i + 1)))
    me = make_user(settings_fields={"gender_preference": "female"})
    place(me, *HOME)
    client = client_for(me)
    assert ids(client.get("/api/users/nearby")) == {str(users["female"].pk)}
    assert client.patch("/api/settings", {"gender_preference": "non_binary"}, format="json").status_code == 200
    assert ids(client.get("/api/users/nearby")) == {str(users["non_binary"].pk)}
    assert client.patch("/api/settings", {"gender_preference": "any"}, format="json").status_code == 200
    assert ids(client.get("/api/users/nearby")) == {str(u.pk) for u in users.values()}


def test_preferences_do_not_apply_to_map_nodes(make_user, place, client_for):
    target = make_user(sharing=True, gender="male", birth_date=years_ago(70))
    place(target, *offset(*HOME, north_m=100))
    me = make_user(settings_fields={"gender_preference": "female", "age_range_min": 20, "age_range_max": 30})
    place(me, *HOME)
    client = client_for(me)
    assert ids(client.get("/api/users/nearby")) == set()
    assert ids(client.get("/api/map_nodes", {"lat": HOME[0], "lng": HOME[1]})) == {str(target.pk)}


def test_role_param(make_user, place, client_for):
    me = make_user()
    place(me, *HOME)
    runner = make_user(sharing=True, roles=["runner"])
    driver = make_user(sharing=True, roles=["driver"])
    place(runner, *offset(*HOME, north_m=100))
    place(driver, *offset(*HOME, north_m=200))
    client = client_for(me)
    assert ids(client.get("/api/users/nearby", {"role": "runner"})) == {str(runner.pk)}
    assert ids(client.get("/api/users/nearby", {"role": "driver"})) == {str(driver.pk)}
    assert ids(client.get("/api/users/nearby", {"role": ""})) == {str(runner.pk), str(driver.pk)}


@pytest.mark.parametrize("role", ["astronaut", "RUNNER", "y" * 40])
def test_unknown_role_is_400(make_user, place, client_for, role):
    me = make_user()
    place(me, *HOME)
    error = assert_error(client_for(me).get("/api/users/nearby", {"role": role}), 400)
    assert set(error["fields"]) == {"role"}


def test_nearest_first_and_capped(make_user, place, client_for, settings):
    me = make_user()
    place(me, *HOME)
    expected = []
    for metres in (700, 100, 400, 250):
        user = make_user(sharing=True)
        place(user, *offset(*HOME, east_m=metres))
        expected.append((metres, str(user.pk)))
    order = [uid for _, uid in sorted(expected)]
    client = client_for(me)
    results = client.get("/api/users/nearby").json()["results"]
    assert [item["user_id"] for item in results] == order
    settings.MAP_MAX_RESULTS = 2
    assert [item["user_id"] for item in client.get("/api/users/nearby").json()["results"]] == order[:2]


def test_available_filter_only_narrows_and_without_a_filter_keeps_nobody(make_user, place, client_for, monkeypatch):
    from geo.selectors import NEARBY_FILTERS

    me, a, b = make_user(sharing=True), make_user(sharing=True), make_user(sharing=True)
    hidden = make_user(sharing=False)
    for user, north in ((me, 0), (a, 40), (b, -40), (hidden, 20)):
        place(user, *offset(*HOME, north_m=north))
    client = client_for(me)
    everyone = {n["user_id"] for n in client.get("/api/users/nearby").json()["results"]}
    assert everyone == {str(a.pk), str(b.pk)}  # positive control

    monkeypatch.delitem(NEARBY_FILTERS, "available", raising=False)
    assert client.get("/api/users/nearby?available=true").json()["results"] == []

    def hostile(user, nodes):
        # keeps a, and tries to smuggle in the non-sharing user
        kept = [n for n in nodes if n["user_id"] == a.pk]
        return [*kept, {**kept[0], "user_id": hidden.pk}]

    monkeypatch.setitem(NEARBY_FILTERS, "available", hostile)
    body = client.get("/api/users/nearby?available=true").json()
    assert [n["user_id"] for n in body["results"]] == [str(a.pk)] and body["count"] == 1
    assert_error(client.get("/api/users/nearby?available=maybe"), 400, "invalid")
