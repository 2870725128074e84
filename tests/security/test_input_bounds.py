"""Issue 7 item 12: bounded birth dates and names without control or bidi characters."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from tests.conftest import assert_error

pytestmark = pytest.mark.django_db


def years_ago(years: int, days: int = 0) -> str:
    today = date.today()
    try:
        then = today.replace(year=today.year - years)
    except ValueError:
        then = today.replace(year=today.year - years, day=28)
    return (then + timedelta(days=days)).isoformat()


@pytest.mark.parametrize(
    "value",
    ["0001-01-01", "1899-12-31", "2999-01-01", (date.today() + timedelta(days=1)).isoformat(), years_ago(13, 1)],
)
def test_out_of_range_birth_date_is_400(client_for, make_user, value):
    error = assert_error(client_for(make_user()).patch("/api/users/me", {"birth_date": value}, format="json"), 400)
    assert "birth_date" in error["fields"]


@pytest.mark.parametrize("value", ["1900-01-01", years_ago(13), "1990-06-15", None])
def test_sane_birth_date_is_accepted(client_for, make_user, value):
    response = client_for(make_user()).patch("/api/users/me", {"birth_date": value}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["birth_date"] == value


BAD_NAMES = ["evil\u202egnp.exe", "a\u2066b", "left\u200eright", "x\u200fy", "bell\x07", "new\nline", "nul\x00"]


@pytest.mark.parametrize("name", BAD_NAMES)
def test_full_name_with_control_or_bidi_characters_is_400(client_for, make_user, name):
    error = assert_error(client_for(make_user()).patch("/api/users/me", {"full_name": name}, format="json"), 400)
    assert "full_name" in error["fields"]


@pytest.mark.parametrize("name", BAD_NAMES[:2])
def test_register_refuses_bidi_names(anon, name):
    body = {"email": "n@example.test", "username": "nameuser", "password": "a-Long-passw0rd!", "full_name": name}
    error = assert_error(anon.post("/api/auth/register", body, format="json"), 400)
    assert "full_name" in error["fields"]
    body = {**body, "full_name": "Fine", "username": "user\u202e"}
    assert "username" in assert_error(anon.post("/api/auth/register", body, format="json"), 400)["fields"]


@pytest.mark.parametrize("name", ["Zoë Ñúñez", "محمد علی", "می\u200cخواهم", "👩\u200d💻 Coder"])
def test_real_names_with_joiners_are_accepted(client_for, make_user, name):
    response = client_for(make_user()).patch("/api/users/me", {"full_name": name}, format="json")
    assert response.status_code == 200, response.content
