"""Push devices: registration (Web Push subscription or FCM token), listing and deleting only one's own."""

from __future__ import annotations

import base64
import os

import pytest

from notifications.models import Device

from ..conftest import assert_error
from .webpush_receiver import WebPushReceiver, b64url

pytestmark = pytest.mark.django_db


def subscription(endpoint="https://push.example.com/v1/abc"):
    sub = WebPushReceiver.__new__(WebPushReceiver)  # keys only, no server
    sub.subscriptions, sub.base_url = {}, "http://unused"
    body = sub.subscription("x")
    body["endpoint"] = endpoint
    return body


def test_register_webpush_list_and_reregister(make_user, client_for):
    me = make_user()
    c = client_for(me)
    sub = subscription()
    r = c.post("/api/devices", sub, format="json")
    assert r.status_code == 201, r.content
    device = r.json()
    assert device["kind"] == "webpush" and device["endpoint"] == sub["endpoint"]
    assert "p256dh" not in device and "auth" not in device
    # Same endpoint again (new keys): updated, not duplicated.
    sub2 = subscription()
    r = c.post("/api/devices/", sub2, format="json")
    assert r.status_code == 200 and r.json()["id"] == device["id"]
    assert Device.objects.get(pk=device["id"]).p256dh == sub2["keys"]["p256dh"]
    listed = c.get("/api/devices").json()
    assert [d["id"] for d in listed] == [device["id"]]


def test_register_fcm(make_user, client_for):
    c = client_for(make_user())
    r = c.post("/api/devices", {"fcm_token": "fcm-token-abcdefgh:APA91b"}, format="json")
    assert r.status_code == 201 and r.json()["kind"] == "fcm" and r.json()["token_prefix"] == "fcm-toke"
    assert c.post("/api/devices", {"fcm_token": "fcm-token-abcdefgh:APA91b"}, format="json").status_code == 200


def test_same_endpoint_moves_to_the_new_user(make_user, client_for):
    a, b = make_user(), make_user()
    sub = subscription()
    client_for(a).post("/api/devices", sub, format="json")
    client_for(b).post("/api/devices", sub, format="json")
    assert client_for(a).get("/api/devices").json() == []
    assert len(client_for(b).get("/api/devices").json()) == 1


def _bad_bodies():
    good = subscription()
    keys = good["keys"]
    compressed = b64url(b"\x02" + os.urandom(32))
    return [
        {},
        {"endpoint": good["endpoint"]},
        {"keys": keys},
        {"endpoint": "http://push.example.com/v1/abc", "keys": keys},  # not https
        {"endpoint": "http://127.0.0.1:9/push", "keys": keys},  # loopback http only with the test switch (off here)
        {"endpoint": "ftp://push.example.com/x", "keys": keys},
        {"endpoint": "not a url", "keys": keys},
        {"endpoint": good["endpoint"], "keys": {"p256dh": keys["p256dh"]}},
        {"endpoint": good["endpoint"], "keys": {"p256dh": compressed + "AAAA", "auth": keys["auth"]}},
        {"endpoint": good["endpoint"], "keys": {"p256dh": b64url(b"\x04" + os.urandom(63)), "auth": keys["auth"]}},
        {"endpoint": good["endpoint"], "keys": {"p256dh": keys["p256dh"], "auth": b64url(os.urandom(15))}},
        {"endpoint": good["endpoint"], "keys": {"p256dh": keys["p256dh"], "auth": "!!!!not base64!!!!"}},
        {
            "endpoint": good["endpoint"],
            "keys": {"p256dh": base64.b64encode(b"\x04" + b"\xff" * 64).decode(), "auth": keys["auth"]},
        },  # standard base64 with + and /
        {"endpoint": good["endpoint"], "keys": "p256dh"},
        {**good, "fcm_token": "abc"},
        {"fcm_token": ""},
        {"fcm_token": "has space"},
        {"fcm_token": 12345678},
        {"fcm_token": "x" * 5000},
        {"endpoint": "https://push.example.com/" + "a" * 3000, "keys": keys},
    ]


@pytest.mark.parametrize("index", range(len(_bad_bodies())))
def test_register_bad_input(make_user, client_for, settings, index):
    settings.PUSH_ALLOW_INSECURE_ENDPOINTS = False
    me = make_user()
    body = _bad_bodies()[index]
    assert_error(client_for(me).post("/api/devices", body, format="json"), 400, "invalid")
    assert not Device.objects.filter(user=me).exists()


def test_loopback_http_only_with_the_switch(make_user, client_for, settings):
    c = client_for(make_user())
    body = subscription("http://127.0.0.1:8999/push/x")
    settings.PUSH_ALLOW_INSECURE_ENDPOINTS = False
    assert_error(c.post("/api/devices", body, format="json"), 400, "invalid")
    settings.PUSH_ALLOW_INSECURE_ENDPOINTS = True
    assert c.post("/api/devices", body, format="json").status_code == 201
    # The switch never allows plain http to another host.
    assert_error(c.post("/api/devices", subscription("http://10.0.0.1/push/x"), format="json"), 400, "invalid")


def test_delete_mine_only(make_user, client_for):
    me, other = make_user(), make_user()
    mine = client_for(me).post("/api/devices", subscription("https://push.example.com/mine"), format="json").json()
    theirs = (
        client_for(other).post("/api/devices", subscription("https://push.example.com/theirs"), format="json").json()
    )
    # Someone else's id: 404, exactly like an id that does not exist.
    assert_error(client_for(me).delete(f"/api/devices/{theirs['id']}"), 404, "not_found")
    assert_error(client_for(me).delete("/api/devices/999999999"), 404, "not_found")
    assert Device.objects.filter(pk=theirs["id"]).exists()
    assert [d["id"] for d in client_for(me).get("/api/devices").json()] == [mine["id"]]
    assert client_for(me).delete(f"/api/devices/{mine['id']}").status_code == 204
    assert_error(client_for(me).delete(f"/api/devices/{mine['id']}"), 404, "not_found")
    assert_error(client_for(me).delete("/api/devices/abc"), 404)


def test_devices_need_auth(anon):
    assert_error(anon.get("/api/devices"), 401)
    assert_error(anon.post("/api/devices", {"fcm_token": "abc"}, format="json"), 401)
    assert_error(anon.delete("/api/devices/1"), 401)


def test_register_rate_limited(make_user, client_for, settings):
    settings.THROTTLE_DEVICE_REGISTER = "2/hour"
    c = client_for(make_user())
    for n in range(2):
        assert c.post("/api/devices", {"fcm_token": f"token-{n}"}, format="json").status_code == 201
    assert_error(c.post("/api/devices", {"fcm_token": "token-3"}, format="json"), 429, "rate_limited")


def test_device_cap_drops_the_oldest(make_user, client_for, settings):
    settings.PUSH_MAX_DEVICES_PER_USER = 2
    me = make_user()
    c = client_for(me)
    ids = [c.post("/api/devices", {"fcm_token": f"token-{n}"}, format="json").json()["id"] for n in range(3)]
    assert sorted(d["id"] for d in c.get("/api/devices").json()) == sorted(ids[1:])
