"""REST of notifications: list, unread count, mark read (others' ids ignored), mark all read, preferences."""

from __future__ import annotations

import pytest

from notifications.models import Notification, NotificationPreference, NotificationSettings

from ..conftest import assert_error

pytestmark = pytest.mark.django_db


def notify(user, n=1, **fields):
    return [
        Notification.objects.create(
            user=user,
            type=fields.get("type", "system"),
            content=f"hello {i}",
            **{k: v for k, v in fields.items() if k != "type"},
        )
        for i in range(n)
    ]


def test_list_newest_first_paginated_and_unread_filter(make_user, client_for):
    me, other = make_user(), make_user()
    mine = notify(me, 3)
    notify(other, 2)
    mine[0].is_read = True
    mine[0].save()
    c = client_for(me)
    body = c.get("/api/notifications").json()
    assert body["count"] == 3
    assert [n["id"] for n in body["results"]] == [mine[2].pk, mine[1].pk, mine[0].pk]
    item = body["results"][0]
    assert set(item) == {"id", "type", "content", "related_kind", "related_id", "data", "is_read", "created_at"}
    unread = c.get("/api/notifications?unread=true").json()
    assert [n["id"] for n in unread["results"]] == [mine[2].pk, mine[1].pk]
    read = c.get("/api/notifications/?unread=false").json()
    assert [n["id"] for n in read["results"]] == [mine[0].pk]
    page = c.get("/api/notifications?limit=2&page=2").json()
    assert page["count"] == 3 and [n["id"] for n in page["results"]] == [mine[0].pk]


def test_list_bad_input_and_auth(make_user, client_for, anon):
    c = client_for(make_user())
    assert_error(c.get("/api/notifications?unread=maybe"), 400, "invalid")
    assert_error(c.get("/api/notifications?page=99"), 404)
    assert_error(anon.get("/api/notifications"), 401)
    assert_error(anon.get("/api/notifications/unread_count"), 401)
    assert_error(anon.post("/api/notifications/mark_read", {"notification_ids": [1]}, format="json"), 401)
    assert_error(anon.post("/api/notifications/mark_all_read"), 401)
    assert_error(anon.get("/api/notifications/preferences"), 401)


def test_unread_count(make_user, client_for):
    me, other = make_user(), make_user()
    notify(me, 2)
    notify(other, 5)
    assert client_for(me).get("/api/notifications/unread_count").json() == {"count": 2}


def test_mark_read_ignores_other_users_ids(make_user, client_for):
    me, other = make_user(), make_user()
    (a, b) = notify(me, 2)
    (theirs,) = notify(other, 1)
    c = client_for(me)
    r = c.post("/api/notifications/mark_read", {"notification_ids": [a.pk, theirs.pk, 999999999]}, format="json")
    assert r.status_code == 200 and r.json() == {"updated": 1}
    theirs.refresh_from_db()
    assert theirs.is_read is False
    a.refresh_from_db()
    assert a.is_read is True
    # Already read: nothing changes; the answer is the same whether or not the id exists.
    again = c.post("/api/notifications/mark_read", {"notification_ids": [a.pk]}, format="json").json()
    assert again == {"updated": 0}
    assert c.post("/api/notifications/mark_read", {"notification_ids": [theirs.pk]}, format="json").json() == {
        "updated": 0
    }
    assert c.get("/api/notifications/unread_count").json() == {"count": 1}


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"notification_ids": []},
        {"notification_ids": "1"},
        {"notification_ids": ["x"]},
        {"notification_ids": [0]},
        {"notification_ids": [-3]},
        {"notification_ids": [1.5]},
        {"notification_ids": [2**70]},
        {"notification_ids": [None]},
        {"notification_ids": list(range(1, 600))},
        [1, 2],
    ],
)
def test_mark_read_bad_ids(make_user, client_for, body):
    assert_error(client_for(make_user()).post("/api/notifications/mark_read", body, format="json"), 400, "invalid")


def test_mark_all_read_only_mine(make_user, client_for):
    me, other = make_user(), make_user()
    notify(me, 3)
    notify(other, 2)
    r = client_for(me).post("/api/notifications/mark_all_read")
    assert r.status_code == 200 and r.json() == {"updated": 3}
    assert Notification.objects.filter(user=other, is_read=False).count() == 2


def test_preferences_defaults_and_patch(make_user, client_for):
    me = make_user()
    c = client_for(me)
    body = c.get("/api/notifications/preferences").json()
    assert body["quiet_hours"] is None and body["time_zone"] == "UTC"
    assert body["types"]["message"] == {"in_app": True, "push": True}
    r = c.patch(
        "/api/notifications/preferences",
        {
            "types": {"message": {"push": False}},
            "quiet_hours": {"start": "22:00", "end": "07:30"},
            "time_zone": "Europe/Helsinki",
        },
        format="json",
    )
    assert r.status_code == 200, r.content
    body = r.json()
    assert body["types"]["message"] == {"in_app": True, "push": False}
    assert body["quiet_hours"] == {"start": "22:00", "end": "07:30"}
    assert body["time_zone"] == "Europe/Helsinki"
    # Partial: only in_app changes; the push flag stays off.
    body = c.patch("/api/notifications/preferences", {"types": {"message": {"in_app": False}}}, format="json").json()
    assert body["types"]["message"] == {"in_app": False, "push": False}
    assert body["quiet_hours"] == {"start": "22:00", "end": "07:30"}
    body = c.patch("/api/notifications/preferences", {"quiet_hours": None}, format="json").json()
    assert body["quiet_hours"] is None and body["time_zone"] == "Europe/Helsinki"
    # Another user's preferences are untouched.
    other = make_user()
    assert client_for(other).get("/api/notifications/preferences").json()["types"]["message"] == {
        "in_app": True,
        "push": True,
    }


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"types": {"nope": {"push": False}}},
        {"types": {"message": {"push": "sometimes"}}},
        {"types": ["message"]},
        {"time_zone": "Mars/Olympus"},
        {"time_zone": "../../etc/passwd"},
        {"time_zone": ""},
        {"quiet_hours": {"start": "25:00", "end": "07:00"}},
        {"quiet_hours": {"start": "22:00"}},
        {"quiet_hours": {"start": "22:00", "end": "22:00"}},
        {"quiet_hours": "22-07"},
    ],
)
def test_preferences_bad_input(make_user, client_for, body):
    me = make_user()
    assert_error(client_for(me).patch("/api/notifications/preferences", body, format="json"), 400, "invalid")
    assert not NotificationPreference.objects.filter(user=me).exists()
    assert not NotificationSettings.objects.filter(user=me).exists()
