"""GET /api/auth/me and GET/PUT/PATCH /api/users/me: profile fields, roles, photo uploads."""

from __future__ import annotations

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile

from accounts.models import User
from tests.conftest import assert_error

from .conftest import AUTH_ME, DEFAULT_ROLES, USERS_ME, png_bytes

pytestmark = pytest.mark.django_db

PRIVATE_PROFILE_FIELDS = {
    "id",
    "email",
    "username",
    "full_name",
    "bio",
    "profile_photo",
    "birth_date",
    "gender",
    "roles",
    "vehicle_type",
    "created_at",
    "updated_at",
}


def photo(data: bytes, name: str = "me.png", content_type: str = "image/png") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type=content_type)


# --- reading --------------------------------------------------------------------


@pytest.mark.parametrize("path", [AUTH_ME, AUTH_ME + "/", USERS_ME, USERS_ME + "/"])
def test_me_returns_the_callers_profile(client_for, make_user, path):
    me = make_user(username="hopper", email="grace@example.test", full_name="Grace H", roles=["runner"])
    make_user(username="someone_else")

    response = client_for(me).get(path)

    assert response.status_code == 200
    data = response.json()
    assert set(data) == PRIVATE_PROFILE_FIELDS
    assert data["id"] == str(me.pk)
    assert data["username"] == "hopper"
    assert data["email"] == "grace@example.test"
    assert data["roles"] == ["runner"]
    assert data["profile_photo"] is None
    assert "password" not in data


@pytest.mark.parametrize(
    ("method", "path"), [("get", AUTH_ME), ("get", USERS_ME), ("put", USERS_ME), ("patch", USERS_ME)]
)
def test_me_unauthenticated_is_401(anon, method, path):
    assert_error(getattr(anon, method)(path, {"full_name": "x"}, format="json"), 401, "not_authenticated")


# --- updating -------------------------------------------------------------------


def test_patch_updates_only_given_fields(client_for, make_user):
    me = make_user(full_name="Before", bio="old bio", gender="female")
    response = client_for(me).patch(
        USERS_ME,
        {"full_name": "After", "birth_date": "1990-04-05", "vehicle_type": "bicycle", "roles": ["walker", "rider"]},
        format="json",
    )
    assert response.status_code == 200, response.content
    data = response.json()
    assert data["full_name"] == "After"
    assert data["bio"] == "old bio"
    assert data["gender"] == "female"
    me.refresh_from_db()
    assert me.full_name == "After"
    assert me.bio == "old bio"
    assert str(me.birth_date) == "1990-04-05"
    assert me.vehicle_type == "bicycle"
    assert me.roles == ["walker", "rider"]


def test_patch_roles_deduplicates_and_can_clear(api, user):
    assert api.patch(USERS_ME, {"roles": ["driver", "walker", "driver"]}, format="json").json()["roles"] == [
        "driver",
        "walker",
    ]
    assert api.patch(USERS_ME, {"roles": []}, format="json").json()["roles"] == []
    user.refresh_from_db()
    assert user.roles == []


SELF_ASSIGNABLE_ROLES = ["walker", "runner", "driver", "rider"]
STAFF_GRANTED_ROLES = ["organizer", "business"]


def test_every_default_role_is_accepted(api, user):
    """Every self-assignable default role is accepted; organizer and business are granted by staff."""
    assert sorted(SELF_ASSIGNABLE_ROLES + STAFF_GRANTED_ROLES) == sorted(DEFAULT_ROLES)
    response = api.patch(USERS_ME, {"roles": SELF_ASSIGNABLE_ROLES}, format="json")
    assert response.status_code == 200
    user.refresh_from_db()
    assert sorted(user.roles) == sorted(SELF_ASSIGNABLE_ROLES)
    for role in STAFF_GRANTED_ROLES:
        assert_error(
            api.patch(USERS_ME, {"roles": [*SELF_ASSIGNABLE_ROLES, role]}, format="json"),
            403,
            "role_not_self_assignable",
        )
    user.refresh_from_db()
    assert sorted(user.roles) == sorted(SELF_ASSIGNABLE_ROLES)


def test_put_replaces_profile(client_for, make_user):
    me = make_user(username="oldname", full_name="Old", bio="Old bio")
    response = client_for(me).put(USERS_ME, {"username": "newname", "full_name": "New", "bio": ""}, format="json")
    assert response.status_code == 200, response.content
    me.refresh_from_db()
    assert (me.username, me.full_name, me.bio) == ("newname", "New", "")


def test_put_without_username_is_400(api, user):
    error = assert_error(api.put(USERS_ME, {"full_name": "x"}, format="json"), 400, "invalid")
    assert "username" in error["fields"]


@pytest.mark.parametrize("roles", [["walker", "wizard"], ["WALKER"], ["wizard"]])
def test_unknown_role_is_400_and_nothing_changes(client_for, make_user, roles):
    me = make_user(roles=["runner"], full_name="Keep")
    response = client_for(me).patch(USERS_ME, {"roles": roles, "full_name": "Changed"}, format="json")
    error = assert_error(response, 400, "unknown_role")
    assert "roles" in error["fields"]
    me.refresh_from_db()
    assert me.roles == ["runner"]
    assert me.full_name == "Keep"


@pytest.mark.parametrize("roles", ["walker", {"walker": True}, [1, 2], None])
def test_roles_must_be_a_list_of_strings(api, user, roles):
    error = assert_error(api.patch(USERS_ME, {"roles": roles}, format="json"), 400)
    assert "roles" in error["fields"]


def test_email_is_read_only(api, user):
    original = user.email
    response = api.patch(USERS_ME, {"email": "hijack@example.test", "full_name": "Still works"}, format="json")
    assert response.status_code == 200
    assert response.json()["email"] == original
    user.refresh_from_db()
    assert user.email == original
    assert user.full_name == "Still works"


@pytest.mark.parametrize("field", ["id", "created_at"])
def test_other_read_only_fields_are_ignored(api, user, field):
    before = getattr(user, field)
    value = "00000000-0000-0000-0000-000000000000" if field == "id" else "2000-01-01T00:00:00Z"
    assert api.patch(USERS_ME, {field: value}, format="json").status_code == 200
    user.refresh_from_db()
    assert getattr(user, field) == before


@pytest.mark.parametrize("taken", ["taken_name", "TAKEN_NAME"])
def test_username_taken_is_409(client_for, make_user, taken):
    make_user(username="taken_name")
    me = make_user(username="mine")
    error = assert_error(client_for(me).patch(USERS_ME, {"username": taken}, format="json"), 409)
    assert "username" in error["fields"]
    me.refresh_from_db()
    assert me.username == "mine"


def test_changing_case_of_own_username_is_allowed(client_for, make_user):
    me = make_user(username="mine")
    assert client_for(me).patch(USERS_ME, {"username": "Mine"}, format="json").status_code == 200
    me.refresh_from_db()
    assert me.username == "Mine"


@pytest.mark.parametrize("username", ["", "a b", "x", "slash/name", "n" * 33, "<script>"])
def test_username_must_have_the_registration_format(api, user, username):
    before = user.username
    error = assert_error(api.patch(USERS_ME, {"username": username}, format="json"), 400, "invalid")
    assert "username" in error["fields"]
    user.refresh_from_db()
    assert user.username == before


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("gender", "robot"),
        ("vehicle_type", "spaceship"),
        ("birth_date", "05/04/1990"),
        ("bio", "b" * 1001),
        ("full_name", "f" * 151),
    ],
)
def test_invalid_profile_field_is_400(api, user, field, value):
    before = getattr(user, field)
    error = assert_error(api.patch(USERS_ME, {field: value}, format="json"), 400, "invalid")
    assert field in error["fields"]
    user.refresh_from_db()
    assert getattr(user, field) == before


def test_malformed_json_is_400(api):
    assert_error(api.patch(USERS_ME, data='{"bio": ', content_type="application/json"), 400, "malformed_request")


# --- profile photo ----------------------------------------------------------------


def test_photo_upload_stores_the_image(api, user, media_root):
    data = png_bytes((16, 16))
    response = api.patch(USERS_ME, {"profile_photo": photo(data), "bio": "with photo"}, format="multipart")

    assert response.status_code == 200, response.content
    user.refresh_from_db()
    name = user.profile_photo.name
    assert name.startswith(f"profile_photos/{user.pk}/")
    assert name.endswith(".png")
    assert user.bio == "with photo"
    with default_storage.open(name) as stored:
        assert stored.read() == data
    assert (media_root / name).is_file()
    assert response.json()["profile_photo"].endswith(name)


def test_replacing_the_photo_deletes_the_old_file(api, user, media_root):
    assert api.patch(USERS_ME, {"profile_photo": photo(png_bytes())}, format="multipart").status_code == 200
    user.refresh_from_db()
    first = user.profile_photo.name
    second_data = png_bytes((12, 12), noise=True)
    assert api.patch(USERS_ME, {"profile_photo": photo(second_data, "new.png")}, format="multipart").status_code == 200
    user.refresh_from_db()
    assert user.profile_photo.name != first
    assert not default_storage.exists(first)
    with default_storage.open(user.profile_photo.name) as stored:
        assert stored.read() == second_data


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("notes.png", b"this is plain text, not an image"),
        ("notes.txt", b"this is plain text, not an image"),
        ("empty.png", b""),
        ("truncated.png", png_bytes((16, 16))[:40]),
    ],
)
def test_non_image_upload_is_400_and_nothing_is_stored(api, user, media_root, name, data):
    error = assert_error(api.patch(USERS_ME, {"profile_photo": photo(data, name)}, format="multipart"), 400)
    assert "profile_photo" in error["fields"]
    user.refresh_from_db()
    assert not user.profile_photo
    assert not (media_root / "profile_photos").exists()


@pytest.mark.parametrize("name", ["page.html", "script.js", "image.svg", "doc.pdf"])
def test_image_with_a_non_image_extension_is_400(api, user, media_root, name):
    response = api.patch(USERS_ME, {"profile_photo": photo(png_bytes(), name)}, format="multipart")
    error = assert_error(response, 400)
    assert "profile_photo" in error["fields"]
    user.refresh_from_db()
    assert not user.profile_photo


def test_photo_over_upload_limit_is_413(api, user, media_root, settings):
    data = png_bytes((48, 48), noise=True)
    settings.UPLOAD_MAX_BYTES = len(data) - 1
    response = api.patch(USERS_ME, {"profile_photo": photo(data), "bio": "not saved"}, format="multipart")
    assert_error(response, 413, "payload_too_large")
    user.refresh_from_db()
    assert not user.profile_photo
    assert user.bio != "not saved"


def test_photo_exactly_at_upload_limit_is_accepted(api, user, media_root, settings):
    data = png_bytes((48, 48), noise=True)
    settings.UPLOAD_MAX_BYTES = len(data)
    assert api.patch(USERS_ME, {"profile_photo": photo(data)}, format="multipart").status_code == 200
    user.refresh_from_db()
    assert user.profile_photo


def test_multipart_body_far_over_upload_limit_is_413_before_parsing(api, user, media_root, settings):
    data = png_bytes((200, 200), noise=True)  # ~120 KB, over the 64 KiB multipart allowance
    settings.UPLOAD_MAX_BYTES = 1000
    assert_error(api.patch(USERS_ME, {"profile_photo": photo(data)}, format="multipart"), 413, "payload_too_large")
    user.refresh_from_db()
    assert not user.profile_photo


def test_photo_upload_unauthenticated_is_401(anon, media_root):
    assert_error(anon.patch(USERS_ME, {"profile_photo": photo(png_bytes())}, format="multipart"), 401)
    assert not (media_root / "profile_photos").exists()


def test_profile_update_does_not_touch_other_users(client_for, make_user):
    me, other = make_user(full_name="Me"), make_user(full_name="Other")
    assert client_for(me).patch(USERS_ME, {"full_name": "Renamed"}, format="json").status_code == 200
    assert User.objects.get(pk=other.pk).full_name == "Other"
