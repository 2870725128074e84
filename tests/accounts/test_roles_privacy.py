"""Issue 7, item 3: ``visible_roles`` can no longer be bypassed by claiming the role.

The attack: a user hidden by ``visible_roles: ["walker"]`` appeared to anyone
who sent ``PATCH /api/users/me {"roles": ["walker"]}``. Now a self-claimed
role gates visibility only after ``ROLE_VISIBILITY_MIN_AGE_S`` (24 h), role
changes are rate-limited (``THROTTLE_ROLE_CHANGE``), ``organizer`` and
``business`` are granted by staff only, and a ``contacts`` visibility level
is a boundary no role opens. Every test runs the attack over REST against the
real PostGIS and Redis, with a positive control beside each "hidden" check.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from accounts.models import Block, Role, User, UserSettings
from accounts.services import role_since_update
from geo.selectors import CONTACT_PROVIDERS, map_nodes_list, viewer_context_get
from tests.conftest import assert_error

from .conftest import SEARCH, SETTINGS, USERS_ME

pytestmark = pytest.mark.django_db

#: Berlin, Alexanderplatz (as in the geo tests).
HOME = (52.5219, 13.4132)
NEAR = (52.5223, 13.4132)  # ~45 m north


def map_ids(client) -> set[str]:
    response = client.get("/api/map_nodes", {"lat": HOME[0], "lng": HOME[1], "radius": 1000})
    assert response.status_code == 200, response.content[:300]
    return {item["user_id"] for item in response.json()["results"]}


def nearby_ids(client) -> set[str]:
    response = client.get("/api/users/nearby")
    assert response.status_code == 200, response.content[:300]
    return {item["user_id"] for item in response.json()["results"]}


def search_ids(client, query: str) -> set[str]:
    response = client.get(SEARCH, {"query": query})
    assert response.status_code == 200, response.content[:300]
    return {item["id"] for item in response.json()["results"]}


def day_window_guard(seconds: float = 5.0) -> None:
    """Rate windows are aligned to the UTC day: don't start a count seconds before it rolls over."""
    left = 86400 - (time.time() % 86400)
    if left < seconds:
        time.sleep(left + 0.1)


@pytest.fixture
def walkers_only(make_user, place):
    """A sharing user, named 'Hidden Walkerfan', who shows themselves only to walkers; plus an open control."""
    hidden = make_user(sharing=True, visible_roles=["walker"], full_name="Hidden Walkerfan")
    control = make_user(sharing=True, full_name="Open Walkerfan")
    place(hidden, *NEAR)
    place(control, HOME[0] - 0.0004, HOME[1])
    return hidden, control


def test_claiming_a_role_does_not_reveal_users_who_show_themselves_only_to_it(
    walkers_only, make_user, place, client_for, settings
):
    hidden, control = walkers_only
    attacker = make_user(full_name="Eve")
    place(attacker, *HOME)
    api = client_for(attacker)
    assert map_ids(api) == {str(control.pk)}

    # the attack: claim the role, then look
    response = api.patch(USERS_ME, {"roles": ["walker"]}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["roles"] == ["walker"]
    assert map_ids(api) == {str(control.pk)}
    assert nearby_ids(api) == {str(control.pk)}
    assert search_ids(api, "Walkerfan") == {str(control.pk)}

    # a day later the role has matured and counts (simulated by moving its stamp back)
    attacker.refresh_from_db()
    stamp = datetime.fromisoformat(attacker.role_since["walker"])
    assert timezone.now() - stamp < timedelta(seconds=60)
    past = stamp - timedelta(seconds=settings.ROLE_VISIBILITY_MIN_AGE_S)
    User.objects.filter(pk=attacker.pk).update(role_since={"walker": past.isoformat()})
    api = client_for(User.objects.get(pk=attacker.pk))
    assert map_ids(api) == {str(control.pk), str(hidden.pk)}
    assert nearby_ids(api) == {str(control.pk), str(hidden.pk)}
    assert search_ids(api, "Walkerfan") == {str(control.pk), str(hidden.pk)}


def test_role_matures_exactly_after_the_configured_age(walkers_only, make_user, place, settings):
    hidden, control = walkers_only
    settings.ROLE_VISIBILITY_MIN_AGE_S = 3600
    claimed = timezone.now()
    viewer = make_user(roles=["walker"], role_since={"walker": claimed.isoformat()})

    def visible_at(now):
        ctx = viewer_context_get(viewer, now=now)
        return {i["user_id"] for i in map_nodes_list(ctx, lat=HOME[0], lng=HOME[1], radius_m=1000)}

    assert visible_at(claimed + timedelta(seconds=3599)) == {control.pk}
    assert visible_at(claimed + timedelta(seconds=3600)) == {control.pk, hidden.pk}


def test_role_since_is_stamped_kept_and_dropped(make_user, client_for):
    user = make_user()
    api = client_for(user)
    assert api.patch(USERS_ME, {"roles": ["walker"]}, format="json").status_code == 200
    user.refresh_from_db()
    walker_since = user.role_since["walker"]
    assert api.patch(USERS_ME, {"roles": ["walker", "runner"]}, format="json").status_code == 200
    user.refresh_from_db()
    assert user.role_since["walker"] == walker_since  # kept roles keep their time
    assert set(user.role_since) == {"walker", "runner"}
    assert api.patch(USERS_ME, {"roles": ["runner"]}, format="json").status_code == 200
    user.refresh_from_db()
    assert set(user.role_since) == {"runner"}
    # dropping and re-claiming starts the clock again
    assert api.patch(USERS_ME, {"roles": ["runner", "walker"]}, format="json").status_code == 200
    user.refresh_from_db()
    assert user.role_since["walker"] > walker_since


def test_role_since_update_is_pure():
    now = timezone.now()
    since = role_since_update(["walker"], ["walker", "rider"], {"walker": "w", "old": "o"}, now=now)
    assert since == {"walker": "w", "rider": now.isoformat()}
    assert role_since_update(["walker"], ["walker", "organizer"], {"walker": "w", "organizer": "x"}, staff=True) == {
        "walker": "w"
    }


def test_default_roles_self_assignable_flags():
    flags = dict(Role.objects.values_list("slug", "self_assignable"))
    assert flags["organizer"] is False and flags["business"] is False
    assert all(flags[slug] for slug in ("walker", "runner", "driver", "rider"))


@pytest.mark.parametrize("role", ["organizer", "business"])
def test_staff_granted_roles_cannot_be_self_assigned(make_user, client_for, role):
    user = make_user(roles=["walker"])
    response = client_for(user).patch(USERS_ME, {"roles": ["walker", role], "full_name": "Changed"}, format="json")
    error = assert_error(response, 403, "role_not_self_assignable")
    assert role in " ".join(error["fields"]["roles"])
    user.refresh_from_db()
    assert user.roles == ["walker"]
    assert user.full_name != "Changed"
    # positive control: a self-assignable role is accepted
    assert client_for(user).patch(USERS_ME, {"roles": ["walker", "rider"]}, format="json").status_code == 200


def test_staff_granted_role_can_be_kept_and_dropped(make_user, client_for):
    user = make_user(roles=["organizer"])  # granted by staff
    api = client_for(user)
    assert api.patch(USERS_ME, {"roles": ["organizer", "walker"]}, format="json").status_code == 200
    assert api.patch(USERS_ME, {"roles": ["walker"]}, format="json").status_code == 200
    assert_error(
        api.patch(USERS_ME, {"roles": ["walker", "organizer"]}, format="json"), 403, "role_not_self_assignable"
    )


def test_role_granted_in_the_admin_counts_at_once(client, superuser, make_user, place, client_for):
    hidden = make_user(sharing=True, visible_roles=["organizer"])
    place(hidden, *NEAR)
    person = make_user(username="granted")
    place(person, *HOME)
    assert map_ids(client_for(person)) == set()
    client.force_login(superuser)
    prefs = UserSettings.objects.get(user=person)
    form = {
        "email": person.email,
        "username": person.username,
        "full_name": person.full_name,
        "bio": "",
        "birth_date": "",
        "gender": "",
        "roles": "organizer",
        "vehicle_type": "",
        "is_active": "on",
        "settings-TOTAL_FORMS": "1",
        "settings-INITIAL_FORMS": "1",
        "settings-MIN_NUM_FORMS": "0",
        "settings-MAX_NUM_FORMS": "1",
        "settings-0-user": str(person.pk),
        "settings-0-location_sharing": "",
        "settings-0-visibility": prefs.visibility,
        "settings-0-visible_roles": "",
        "settings-0-filters": '{"show_roles": []}',
        "settings-0-search_radius_m": str(prefs.search_radius_m),
        "settings-0-preferred_pace": "",
        "settings-0-age_range_min": "",
        "settings-0-age_range_max": "",
        "settings-0-gender_preference": "any",
        "_save": "Save",
    }
    response = client.post(f"/admin/accounts/user/{person.pk}/change/", form)
    assert response.status_code == 302, response.content.decode()[:1500]
    person.refresh_from_db()
    assert person.roles == ["organizer"]
    assert "organizer" not in person.role_since
    assert map_ids(client_for(person)) == {str(hidden.pk)}


def test_role_changes_are_rate_limited(make_user, client_for, settings):
    settings.THROTTLE_ROLE_CHANGE = "3/day"
    day_window_guard()
    user = make_user()
    api = client_for(user)
    for roles in (["walker"], ["runner"], ["walker", "runner"]):
        assert api.patch(USERS_ME, {"roles": roles}, format="json").status_code == 200
    # reordering and resending the same set are not changes, and cost nothing
    assert api.patch(USERS_ME, {"roles": ["runner", "walker"]}, format="json").status_code == 200
    assert api.patch(USERS_ME, {"roles": ["runner", "walker"], "bio": "x"}, format="json").status_code == 200
    response = api.patch(USERS_ME, {"roles": ["driver"]}, format="json")
    assert_error(response, 429, "rate_limited")
    assert int(response["Retry-After"]) > 0
    user.refresh_from_db()
    assert set(user.roles) == {"walker", "runner"}
    # other profile fields still change
    assert api.patch(USERS_ME, {"bio": "still editable"}, format="json").status_code == 200


def test_role_rate_limit_is_per_user(make_user, client_for, settings):
    settings.THROTTLE_ROLE_CHANGE = "1/day"
    day_window_guard()
    a, b = make_user(), make_user()
    assert client_for(a).patch(USERS_ME, {"roles": ["walker"]}, format="json").status_code == 200
    assert_error(client_for(a).patch(USERS_ME, {"roles": []}, format="json"), 429, "rate_limited")
    assert client_for(b).patch(USERS_ME, {"roles": ["walker"]}, format="json").status_code == 200


# --- the contacts level ---------------------------------------------------------------


def test_visibility_setting_defaults_to_everyone_and_validates(make_user, client_for):
    api = client_for(make_user())
    assert api.get(SETTINGS).json()["visibility"] == "everyone"
    assert api.patch(SETTINGS, {"visibility": "contacts"}, format="json").json()["visibility"] == "contacts"
    assert_error(api.patch(SETTINGS, {"visibility": "friends"}, format="json"), 400)
    assert api.get(SETTINGS).json()["visibility"] == "contacts"


@pytest.mark.parametrize("providers", ["none", "registered"])
def test_contacts_only_user_is_visible_to_nobody_without_a_contact(
    make_user, place, client_for, monkeypatch, providers
):
    """No provider at all, or the apps' real providers (walks, ...) with no relation between these users."""
    if providers == "none":
        for name in list(CONTACT_PROVIDERS):
            monkeypatch.delitem(CONTACT_PROVIDERS, name)
    target = make_user(sharing=True, full_name="Contactsonly Person")
    control = make_user(sharing=True, full_name="Everyone Person")
    place(target, *NEAR)
    place(control, HOME[0] - 0.0004, HOME[1])
    assert client_for(target).patch(SETTINGS, {"visibility": "contacts"}, format="json").status_code == 200
    for viewer in (make_user(), make_user(roles=["walker", "driver"])):
        place(viewer, *HOME)
        api = client_for(viewer)
        assert map_ids(api) == {str(control.pk)}
        assert nearby_ids(api) == {str(control.pk)}
        assert search_ids(api, "Person") == {str(control.pk)}


def test_contacts_only_user_is_visible_to_contacts_from_a_provider(make_user, place, client_for, monkeypatch):
    target = make_user(sharing=True, full_name="Contactsonly Person", settings_fields={"visibility": "contacts"})
    friend, stranger = make_user(), make_user()
    place(target, *NEAR)
    pairs = {target.pk: {friend.pk}, friend.pk: {target.pk}}
    monkeypatch.setitem(CONTACT_PROVIDERS, "test-walks", lambda user_id: pairs.get(user_id, set()))
    for viewer in (friend, stranger):
        place(viewer, *HOME)
    assert map_ids(client_for(friend)) == {str(target.pk)}
    assert nearby_ids(client_for(friend)) == {str(target.pk)}
    assert search_ids(client_for(friend), "Contactsonly") == {str(target.pk)}
    assert map_ids(client_for(stranger)) == set()
    assert search_ids(client_for(stranger), "Contactsonly") == set()
    # a block still wins over a contact
    Block.objects.create(blocker=target, blocked=friend)
    assert map_ids(client_for(friend)) == set()


def test_contact_provider_registered_twice_is_an_error(monkeypatch):
    from geo.selectors import contact_provider

    monkeypatch.setattr("accounts.selectors.CONTACT_PROVIDERS", {})
    from accounts import selectors

    @contact_provider("once")
    def provider(user_id):
        return []

    assert selectors.CONTACT_PROVIDERS == {"once": provider}
    with pytest.raises(RuntimeError):
        contact_provider("once")(provider)
