"""manage.py seed_users / devtools.demo.demo_users_seed: determinism, idempotency, the mix, streets, logins."""

from __future__ import annotations

import io
import math

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from accounts.models import Block, User, UserSettings
from devtools import demo
from geo.fanout import map_publish_tick
from geo.grid import EARTH_RADIUS_M
from geo.models import LocationFix
from places import osm
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

LOGIN = "/api/auth/login"


@pytest.fixture
def seed(django_capture_on_commit_callbacks):
    """``seed(count, seed=0)``: run the service with its after-commit hooks (map queueing) executed."""

    def run(count, seed=0, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return demo.demo_users_seed(count, seed, **kwargs)

    return run


def snapshot():
    """What the seed decides, per demo user, ordered by email."""
    rows = []
    for user in User.objects.filter(is_demo=True).select_related("settings", "location_fix").order_by("email"):
        s = user.settings
        fix = user.location_fix
        rows.append(
            (
                user.email,
                user.username,
                user.full_name,
                user.bio,
                tuple(user.roles),
                user.birth_date,
                user.gender,
                user.vehicle_type,
                s.location_sharing,
                tuple(s.visible_roles),
                tuple(s.show_roles),
                s.search_radius_m,
                s.keep_location_history,
                fix.cell,
                (round(fix.location.y, 7), round(fix.location.x, 7)),
            )
        )
    return rows


def block_pairs():
    return sorted(Block.objects.filter(blocker__is_demo=True).values_list("blocker__email", "blocked__email"))


def wipe():
    User.objects.filter(is_demo=True).delete()


def test_creates_demo_users(seed):
    result = seed(20, 1)
    assert result["created"] == 20 and result["reused"] == 0 and result["skipped"] == 0
    assert result["fixes"] == 20
    users = User.objects.filter(is_demo=True)
    assert users.count() == 20
    assert set(users.values_list("email", flat=True)) == {f"demo{n}@demo.rendezvous.test" for n in range(1, 21)}
    assert UserSettings.objects.filter(user__is_demo=True).count() == 20
    assert LocationFix.objects.filter(user__is_demo=True).count() == 20
    for user in users:
        assert user.full_name and " " in user.full_name
        assert user.bio and user.roles
        assert user.is_active and not user.is_staff
        assert 3 <= len(user.username) <= 32


def test_deterministic_for_a_seed(seed):
    seed(40, 7)
    first, first_blocks = snapshot(), block_pairs()
    wipe()
    seed(40, 7)
    assert snapshot() == first
    assert block_pairs() == first_blocks
    wipe()
    seed(40, 8)
    other = snapshot()
    assert [row[2] for row in other] != [row[2] for row in first]  # other names


def test_growing_count_keeps_the_first_users(seed):
    seed(10, 3)
    first_ten = snapshot()
    result = seed(25, 3)
    assert (result["created"], result["reused"]) == (15, 10)
    grown = snapshot()
    assert [row for row in grown if row[0] in {r[0] for r in first_ten}] == first_ten
    grown_blocks = block_pairs()
    wipe()
    seed(25, 3)
    assert snapshot() == grown  # the same as seeding 25 at once
    assert block_pairs() == grown_blocks


def test_idempotent(seed):
    seed(30, 2)
    users, blocks = User.objects.count(), Block.objects.count()
    before = snapshot()
    result = seed(30, 2)
    assert result["created"] == 0 and result["reused"] == 30 and result["blocks"] == 0
    assert (User.objects.count(), Block.objects.count()) == (users, blocks)
    assert snapshot() == before


def test_reused_users_keep_their_profile(seed):
    seed(5, 1)
    User.objects.filter(email="demo1@demo.rendezvous.test").update(full_name="Changed By Hand")
    seed(5, 1)
    assert User.objects.get(email="demo1@demo.rendezvous.test").full_name == "Changed By Hand"


def test_realistic_mix(seed):
    seed(300, 0)
    prefs = UserSettings.objects.filter(user__is_demo=True)
    sharing = prefs.filter(location_sharing=True).count()
    assert 0.75 * 300 <= sharing <= 0.95 * 300  # ~85 % share, the rest does not
    assert prefs.filter(location_sharing=False).count() >= 15
    assert 20 <= prefs.exclude(visible_roles=[]).count() <= 70  # ~15 %
    assert 3 <= prefs.exclude(filters__show_roles=[]).count() <= 30  # ~5 %
    assert 2 <= len(block_pairs()) <= 25  # ~3 %
    default_roles = {"walker", "runner", "driver", "rider", "organizer", "business"}
    assert all(set(row.visible_roles) <= default_roles for row in prefs)
    roles = [r for u in User.objects.filter(is_demo=True) for r in u.roles]
    assert roles.count("walker") > roles.count("business") > 0
    assert len({u.gender for u in User.objects.filter(is_demo=True)}) >= 3


def test_roles_come_from_the_role_table(seed):
    from accounts.models import Role

    Role.objects.create(slug="skater", name="Skater")
    Role.objects.filter(slug="business").delete()
    seed(200, 5)
    used = {r for u in User.objects.filter(is_demo=True) for r in u.roles}
    for row in UserSettings.objects.filter(user__is_demo=True):
        used |= set(row.visible_roles) | set(row.show_roles)
    assert "business" not in used
    assert used <= set(Role.objects.values_list("slug", flat=True))


def _local_xy(lat0, lng0, lat, lng):
    """Metres east/north of (lat0, lng0) (equirectangular; exact enough over a few hundred metres)."""
    return (
        math.radians(lng - lng0) * EARTH_RADIUS_M * math.cos(math.radians(lat0)),
        math.radians(lat - lat0) * EARTH_RADIUS_M,
    )


def distance_to_network_m(network: osm.WalkNetwork, lat: float, lng: float) -> float:
    """Metres from a point to the nearest segment of the network."""
    best = math.inf
    for a, neighbours in network.adjacency.items():
        lat1, lng1 = network.nodes[a]
        if abs(lat1 - lat) > 0.01 or abs(lng1 - lng) > 0.02:
            continue  # longest Helsinki segments are well under 500 m
        for b in neighbours:
            lat2, lng2 = network.nodes[b]
            x1, y1 = _local_xy(lat, lng, lat1, lng1)
            x2, y2 = _local_xy(lat, lng, lat2, lng2)
            dx, dy = x2 - x1, y2 - y1
            length2 = dx * dx + dy * dy
            t = 0.0 if length2 == 0 else max(0.0, min(1.0, -(x1 * dx + y1 * dy) / length2))
            best = min(best, math.hypot(x1 + t * dx, y1 + t * dy))
    return best


def test_every_demo_user_stands_on_the_walking_network(seed):
    seed(60, 11)
    network = osm.walk_network_load()
    fixes = LocationFix.objects.filter(user__is_demo=True)
    assert fixes.count() == 60
    for fix in fixes:
        assert distance_to_network_m(network, fix.location.y, fix.location.x) < 2.0
    # Spread over the city, not piled up in one place.
    assert len({fix.cell for fix in fixes}) > 40


def test_other_extract(seed):
    seed(15, 1, path=osm.sample_pbf_path())
    network = osm.walk_network_load(osm.sample_pbf_path())
    for fix in LocationFix.objects.filter(user__is_demo=True):
        assert 60.5 < fix.location.y < 60.55
        assert distance_to_network_m(network, fix.location.y, fix.location.x) < 2.0


def test_fresh_fixes_are_visible_on_the_map(seed, make_user, client_for):
    seed(80, 4)
    map_publish_tick()  # in tests the after-commit hooks run after the seed's own tick
    viewer = make_user(roles=["walker", "runner", "driver", "rider", "organizer", "business"], sharing=True)
    body = client_for(viewer).get("/api/map_nodes", {"lat": 60.17, "lng": 24.94, "radius": 20_000}).json()
    visible = {item["user_id"] for item in body["results"]}
    sharing = {
        str(pk)
        for pk in UserSettings.objects.filter(user__is_demo=True, location_sharing=True).values_list(
            "user_id", flat=True
        )
    }
    not_sharing = {
        str(pk)
        for pk in UserSettings.objects.filter(user__is_demo=True, location_sharing=False).values_list(
            "user_id", flat=True
        )
    }
    assert visible and not (visible & not_sharing)
    assert visible == sharing  # the viewer holds every role, so visible_roles hide nobody from it


def test_fixes_are_refreshed_on_a_second_run(seed):
    seed(5, 1)
    before = dict(LocationFix.objects.values_list("user_id", "recorded_at"))
    seed(5, 1)
    after = dict(LocationFix.objects.values_list("user_id", "recorded_at"))
    assert all(after[k] > before[k] for k in before)


def test_demo_users_log_in_with_the_demo_password(seed, anon):
    seed(3, 1)
    response = anon.post(
        LOGIN, {"email": "demo2@demo.rendezvous.test", "password": settings.DEMO_USER_PASSWORD}, format="json"
    )
    assert response.status_code == 200, response.content
    assert response.json()["access"]
    wrong = anon.post(LOGIN, {"email": "demo2@demo.rendezvous.test", "password": "nope-nope"}, format="json")
    assert wrong.status_code == 401
    hashes = set(User.objects.filter(is_demo=True).values_list("password", flat=True))
    assert len(hashes) == 1  # hashed once


def test_non_demo_user_with_a_demo_email_is_left_alone(seed):
    squatter = UserFactory(email="demo2@demo.rendezvous.test", username="squatter", full_name="Real Person")
    result = seed(3, 1)
    assert (result["created"], result["skipped"]) == (2, 1)
    squatter.refresh_from_db()
    assert not squatter.is_demo and squatter.full_name == "Real Person"
    assert User.objects.filter(is_demo=True).count() == 2


def test_taken_username_falls_back(seed):
    wanted = demo.demo_profile(1, 1, ["walker"], osm.walk_network_load()).username
    UserFactory(username=wanted.upper())  # usernames compare case-insensitively
    seed(1, 1)
    user = User.objects.get(is_demo=True)
    assert user.username != wanted and user.username.startswith("demo1_")


@pytest.mark.parametrize("count", [-1, demo.MAX_DEMO_USERS + 1, 2.5, True, "3"])
def test_bad_count_is_refused(count):
    with pytest.raises(ValueError):
        demo.demo_users_seed(count)
    assert not User.objects.filter(is_demo=True).exists()


def test_zero_users(seed):
    assert seed(0)["created"] == 0


# --- the command -----------------------------------------------------------------


def test_command(django_capture_on_commit_callbacks):
    out, err = io.StringIO(), io.StringIO()
    with django_capture_on_commit_callbacks(execute=True):
        call_command("seed_users", "--count", "12", "--seed", "9", stdout=out, stderr=err)
    assert "created 12, reused 0" in out.getvalue()
    assert "placing demo users" in err.getvalue()
    out = io.StringIO()
    call_command("seed_users", "--count", "12", "--seed", "9", "--no-progress", stdout=out)
    assert "created 0, reused 12" in out.getvalue()


def test_command_bad_input():
    with pytest.raises(CommandError):
        call_command("seed_users", "--count", "-3")
    with pytest.raises(CommandError):
        call_command("seed_users", "--count", "3", "--osm", "/nonexistent.osm.pbf")
    assert not User.objects.filter(is_demo=True).exists()


@pytest.mark.django_db(transaction=True)
def test_real_commit_publishes_without_an_extra_tick(client_for, make_user):
    """Outside a test transaction the seed's own tick publishes the sharing users at once."""
    call_command("seed_users", "--count", "30", "--seed", "1", "--no-progress", stdout=io.StringIO())
    published = LocationFix.objects.filter(user__is_demo=True, public_location__isnull=False).count()
    sharing = UserSettings.objects.filter(user__is_demo=True, location_sharing=True).count()
    assert published == sharing > 0
