"""GET/PUT/PATCH /api/settings and /api/users/preferences: one resource, validated, all-or-nothing."""

from __future__ import annotations

import pytest

from accounts.models import UserSettings
from tests.conftest import assert_error

from .conftest import PREFERENCES, SETTINGS

pytestmark = pytest.mark.django_db

SETTINGS_FIELDS = {
    "location_sharing",
    "visible_roles",
    "filters",
    "search_radius_m",
    "preferred_pace",
    "age_range_min",
    "age_range_max",
    "gender_preference",
    "keep_location_history",
    "visibility",
    "updated_at",
}


def row(user) -> UserSettings:
    return UserSettings.objects.get(user=user)


def snapshot(user) -> dict:
    settings_row = row(user)
    return {f: getattr(settings_row, f) for f in SETTINGS_FIELDS}


@pytest.mark.parametrize("path", [SETTINGS, SETTINGS + "/", PREFERENCES, PREFERENCES + "/"])
def test_defaults_for_a_new_user(anon, path):
    registered = anon.post(
        "/api/auth/register",
        {"email": "new@example.test", "username": "newbie", "password": "Plum-Lantern-8841"},
        format="json",
    ).json()
    response = anon.get(path, HTTP_AUTHORIZATION=f"Bearer {registered['access']}")

    assert response.status_code == 200
    data = response.json()
    assert set(data) == SETTINGS_FIELDS
    assert data["location_sharing"] is False
    assert data["search_radius_m"] == 1000
    assert data["keep_location_history"] is False
    assert data["filters"] == {"show_roles": []}
    assert data["visible_roles"] == []
    assert data["age_range_min"] is None and data["age_range_max"] is None
    assert "location_ttl_s" not in data


def test_settings_row_is_recreated_if_missing(api, user):
    UserSettings.objects.filter(user=user).delete()
    response = api.get(SETTINGS)
    assert response.status_code == 200
    assert response.json()["location_sharing"] is False
    assert UserSettings.objects.filter(user=user).count() == 1


@pytest.mark.parametrize(("write_path", "read_path"), [(SETTINGS, PREFERENCES), (PREFERENCES, SETTINGS)])
def test_settings_and_preferences_are_the_same_resource(api, user, write_path, read_path):
    changes = {
        "location_sharing": True,
        "visible_roles": ["walker", "runner"],
        "filters": {"show_roles": ["driver"]},
        "search_radius_m": 2500,
        "preferred_pace": "brisk",
        "age_range_min": 21,
        "age_range_max": 40,
        "gender_preference": "female",
        "keep_location_history": True,
    }
    written = api.patch(write_path, changes, format="json")
    assert written.status_code == 200, written.content

    read = api.get(read_path).json()
    for field, value in changes.items():
        assert read[field] == value, field
    saved = row(user)
    assert saved.location_sharing is True
    assert saved.visible_roles == ["walker", "runner"]
    assert saved.show_roles == ["driver"]
    assert saved.search_radius_m == 2500
    assert (saved.age_range_min, saved.age_range_max) == (21, 40)
    assert UserSettings.objects.filter(user=user).count() == 1


@pytest.mark.parametrize("path", [SETTINGS, PREFERENCES])
def test_put_updates_settings(api, user, path):
    response = api.put(path, {"location_sharing": True, "search_radius_m": 300}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["search_radius_m"] == 300
    assert row(user).location_sharing is True


def test_patch_keeps_other_fields(api, user):
    api.patch(SETTINGS, {"visible_roles": ["rider"], "search_radius_m": 5000}, format="json")
    assert api.patch(SETTINGS, {"location_sharing": True}, format="json").status_code == 200
    saved = row(user)
    assert saved.visible_roles == ["rider"]
    assert saved.search_radius_m == 5000


def test_settings_are_per_user(client_for, make_user):
    me, other = make_user(), make_user()
    assert client_for(me).patch(SETTINGS, {"search_radius_m": 42}, format="json").status_code == 200
    assert row(other).search_radius_m == 1000
    assert client_for(other).get(SETTINGS).json()["search_radius_m"] == 1000


def test_visible_roles_are_deduplicated_and_can_be_emptied(api, user):
    response = api.patch(SETTINGS, {"visible_roles": ["walker", "walker", "rider"]}, format="json")
    assert response.json()["visible_roles"] == ["walker", "rider"]
    assert api.patch(SETTINGS, {"visible_roles": []}, format="json").json()["visible_roles"] == []
    assert row(user).visible_roles == []


def test_empty_filters_object_means_no_role_filter(api, user):
    api.patch(SETTINGS, {"filters": {"show_roles": ["walker"]}}, format="json")
    assert api.patch(SETTINGS, {"filters": {}}, format="json").json()["filters"] == {"show_roles": []}
    assert row(user).show_roles == []


def test_location_ttl_is_not_a_user_setting(api, user):
    response = api.patch(SETTINGS, {"location_ttl_s": 5}, format="json")
    assert response.status_code == 200
    assert "location_ttl_s" not in response.json()


# --- rejected requests write nothing ----------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "code", "field"),
    [
        ({"visible_roles": ["walker", "wizard"]}, "unknown_role", "visible_roles"),
        ({"visible_roles": "walker"}, "invalid", "visible_roles"),
        ({"filters": {"show_roles": ["ghost"]}}, "unknown_role", "filters.show_roles"),
        ({"filters": {"show_roles": "walker"}}, "invalid", "filters"),
        ({"filters": {"colour": "blue"}}, "invalid", "filters"),
        ({"filters": {"show_roles": ["walker"], "min_age": 3}}, "invalid", "filters"),
        ({"filters": ["walker"]}, "invalid", "filters"),
        ({"filters": None}, "invalid", "filters"),
        ({"age_range_min": 50, "age_range_max": 20}, "invalid", "age_range_min"),
        ({"age_range_min": 12}, "invalid", "age_range_min"),
        ({"age_range_max": 121}, "invalid", "age_range_max"),
        ({"search_radius_m": 0}, "invalid", "search_radius_m"),
        ({"search_radius_m": -5}, "invalid", "search_radius_m"),
        ({"search_radius_m": 50_001}, "invalid", "search_radius_m"),
        ({"search_radius_m": "far"}, "invalid", "search_radius_m"),
        ({"preferred_pace": "warp"}, "invalid", "preferred_pace"),
        ({"gender_preference": "robots"}, "invalid", "gender_preference"),
        ({"keep_location_history": "maybe"}, "invalid", "keep_location_history"),
    ],
)
@pytest.mark.parametrize("path", [SETTINGS, PREFERENCES])
def test_invalid_settings_are_400_and_nothing_is_written(api, user, path, payload, code, field):
    before = snapshot(user)
    # A valid change rides along: it must not be saved either.
    response = api.patch(path, {"location_sharing": True, **payload}, format="json")

    error = assert_error(response, 400, code)
    assert field in error["fields"], error
    assert snapshot(user) == before


def test_age_range_is_checked_against_the_stored_value(api, user):
    assert api.patch(SETTINGS, {"age_range_max": 30}, format="json").status_code == 200
    assert_error(api.patch(SETTINGS, {"age_range_min": 31}, format="json"), 400)
    assert row(user).age_range_min is None
    assert api.patch(SETTINGS, {"age_range_min": 30}, format="json").status_code == 200
    assert row(user).age_range_min == 30


@pytest.mark.parametrize("radius", [1, 50_000])
def test_search_radius_bounds_are_inclusive(api, user, radius):
    assert api.patch(SETTINGS, {"search_radius_m": radius}, format="json").status_code == 200
    assert row(user).search_radius_m == radius


def test_malformed_json_is_400(api, user):
    before = snapshot(user)
    assert_error(api.patch(SETTINGS, data='{"location_sharing": tru', content_type="application/json"), 400)
    assert snapshot(user) == before


@pytest.mark.parametrize("path", [SETTINGS, PREFERENCES])
@pytest.mark.parametrize("method", ["get", "put", "patch"])
def test_settings_unauthenticated_is_401(anon, path, method):
    assert_error(getattr(anon, method)(path, {"location_sharing": True}, format="json"), 401, "not_authenticated")
