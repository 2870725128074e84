"""The Django admin for users and roles, as staff use it."""

from __future__ import annotations

import pytest

from accounts.models import Role, User, UserSettings
from tests.factories import PASSWORD

from .conftest import DEFAULT_ROLES, LOGIN

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client_(client, superuser):
    client.force_login(superuser)
    return client


def test_data_migration_created_the_default_roles():
    assert set(DEFAULT_ROLES) <= set(Role.objects.values_list("slug", flat=True))


def test_user_changelist_lists_users(admin_client_, make_user):
    make_user(username="listed_person", email="listed@example.test")
    response = admin_client_.get("/admin/accounts/user/")
    assert response.status_code == 200
    content = response.content.decode()
    assert "listed@example.test" in content
    assert "listed_person" in content


def test_user_changelist_search(admin_client_, make_user):
    make_user(username="findable", email="findable@example.test")
    make_user(username="hidden", email="hidden@example.test")
    response = admin_client_.get("/admin/accounts/user/", {"q": "findable"})
    assert response.status_code == 200
    content = response.content.decode()
    assert "findable@example.test" in content
    assert "hidden@example.test" not in content


def test_user_change_page_loads_with_settings_inline(admin_client_, make_user):
    person = make_user(username="editable")
    response = admin_client_.get(f"/admin/accounts/user/{person.pk}/change/")
    assert response.status_code == 200
    content = response.content.decode()
    assert "editable" in content
    assert "location_sharing" in content


def test_user_add_page_loads(admin_client_):
    response = admin_client_.get("/admin/accounts/user/add/")
    assert response.status_code == 200
    content = response.content.decode()
    for field in ("email", "username", "password1", "password2"):
        assert f'name="{field}"' in content


def test_user_added_in_the_admin_can_log_in(admin_client_, anon):
    page = admin_client_.get("/admin/accounts/user/add/")
    assert page.status_code == 200
    form = {
        "email": "Staff.Made@Example.Test",
        "username": "staffmade",
        "password1": PASSWORD,
        "password2": PASSWORD,
        "usable_password": "true",
        "_save": "Save",
    }
    # The settings inline's management form, as the page renders it (no extra rows filled in).
    for key in ("TOTAL_FORMS", "INITIAL_FORMS", "MIN_NUM_FORMS", "MAX_NUM_FORMS"):
        form[f"settings-{key}"] = {"TOTAL_FORMS": "0", "INITIAL_FORMS": "0", "MIN_NUM_FORMS": "0"}.get(key, "1")
    response = admin_client_.post("/admin/accounts/user/add/", form)
    assert response.status_code == 302, response.content.decode()[:3000]

    created = User.objects.get(username="staffmade")
    assert created.email == "staff.made@example.test"
    assert UserSettings.objects.filter(user=created).count() == 1
    login = anon.post(LOGIN, {"email": "staff.made@example.test", "password": PASSWORD}, format="json")
    assert login.status_code == 200, login.content


def test_role_admin_lists_the_six_default_roles(admin_client_):
    response = admin_client_.get("/admin/accounts/role/")
    assert response.status_code == 200
    content = response.content.decode()
    for slug in DEFAULT_ROLES:
        assert f">{slug}<" in content, slug


def test_role_added_in_the_admin_becomes_usable(admin_client_, client_for, make_user):
    response = admin_client_.post(
        "/admin/accounts/role/add/",
        {"slug": "skater", "name": "Skater", "description": "", "self_assignable": "on", "_save": "Save"},
    )
    assert response.status_code == 302
    user = make_user()
    api = client_for(user)
    assert api.patch("/api/users/me", {"roles": ["skater"]}, format="json").status_code == 200
    assert api.get("/api/search", {"role": "skater"}).status_code == 200


def test_admin_requires_staff(client, make_user):
    client.force_login(make_user())
    response = client.get("/admin/accounts/user/")
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


def change_form(person, **overrides) -> dict:
    """The POST body of the user change page with the settings inline, as a browser submits it."""
    settings_row = UserSettings.objects.get(user=person)
    data = {
        "email": person.email,
        "username": person.username,
        "full_name": person.full_name,
        "bio": person.bio,
        "birth_date": "",
        "gender": person.gender,
        "roles": ",".join(person.roles),
        "vehicle_type": person.vehicle_type,
        "is_active": "on",
        "settings-TOTAL_FORMS": "1",
        "settings-INITIAL_FORMS": "1",
        "settings-MIN_NUM_FORMS": "0",
        "settings-MAX_NUM_FORMS": "1",
        "settings-0-user": str(person.pk),
        "settings-0-visible_roles": ",".join(settings_row.visible_roles),
        "settings-0-filters": '{"show_roles": []}',
        "settings-0-search_radius_m": str(settings_row.search_radius_m),
        "settings-0-preferred_pace": "",
        "settings-0-age_range_min": "",
        "settings-0-age_range_max": "",
        "settings-0-gender_preference": "any",
        "settings-0-visibility": settings_row.visibility,
        "_save": "Save",
    }
    data.update(overrides)
    return data


def test_admin_can_edit_roles_and_settings(admin_client_, make_user):
    person = make_user(username="editme")
    response = admin_client_.post(
        f"/admin/accounts/user/{person.pk}/change/",
        change_form(
            person,
            roles="walker,rider",
            **{"settings-0-visible_roles": "driver", "settings-0-filters": '{"show_roles": ["runner"]}'},
        ),
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    person.refresh_from_db()
    assert person.roles == ["walker", "rider"]
    saved = UserSettings.objects.get(user=person)
    assert saved.visible_roles == ["driver"]
    assert saved.show_roles == ["runner"]


@pytest.mark.parametrize(
    "overrides",
    [
        {"roles": "walker,wizard"},
        {"settings-0-visible_roles": "ghost"},
        {"settings-0-filters": '{"show_roles": ["ghost"]}'},
        {"settings-0-filters": '{"colour": "blue"}'},
        {"settings-0-filters": '["walker"]'},
        {"settings-0-age_range_min": "50", "settings-0-age_range_max": "20"},
    ],
)
def test_admin_refuses_what_the_api_refuses(admin_client_, make_user, overrides):
    """Unknown role slugs are refused everywhere, the admin included; nothing is saved."""
    person = make_user(username="editme", full_name="Before", roles=["walker"])
    before = UserSettings.objects.get(user=person)

    response = admin_client_.post(
        f"/admin/accounts/user/{person.pk}/change/", change_form(person, full_name="After", **overrides)
    )

    assert response.status_code == 200  # the form is shown again with its errors
    assert "errornote" in response.content.decode()
    person.refresh_from_db()
    assert person.full_name == "Before"
    assert person.roles == ["walker"]
    after = UserSettings.objects.get(user=person)
    assert (after.visible_roles, after.filters, after.age_range_min) == (
        before.visible_roles,
        before.filters,
        before.age_range_min,
    )
