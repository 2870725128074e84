"""Presence in Redis and the ``online`` flag of map nodes."""

from __future__ import annotations

import time

import pytest

from core.redis import get_redis
from realtime.presence import _key, presence_leave, presence_online_ids, presence_touch

from .conftest import HOME
from .geoutil import offset

pytestmark = pytest.mark.django_db


@pytest.fixture
def target(make_user, place):
    user = make_user(sharing=True)
    place(user, *offset(*HOME, north_m=100))
    return user


@pytest.fixture
def online_of(make_user, client_for, map_nodes):
    client = client_for(make_user())

    def online(user):
        items = {item["user_id"]: item for item in map_nodes(client, *HOME)["results"]}
        return items[str(user.pk)]["online"]

    return online


def test_online_while_a_socket_is_connected(target, online_of):
    assert online_of(target) is False
    presence_touch(target.pk, "specific.chan-a")
    assert online_of(target) is True
    presence_leave(target.pk, "specific.chan-a")
    assert online_of(target) is False


def test_online_until_the_last_socket_leaves(target, online_of):
    presence_touch(target.pk, "specific.chan-a")
    presence_touch(target.pk, "specific.chan-b")
    presence_leave(target.pk, "specific.chan-a")
    assert online_of(target) is True
    presence_leave(target.pk, "specific.chan-b")
    assert online_of(target) is False


def test_leaving_an_unknown_socket_is_harmless(target, online_of):
    presence_touch(target.pk, "specific.chan-a")
    presence_leave(target.pk, "specific.never-seen")
    assert online_of(target) is True


def test_entry_older_than_the_ttl_does_not_count(target, online_of, settings):
    # a socket of a crashed process: its last heartbeat is older than PRESENCE_TTL_S
    get_redis().zadd(_key(target.pk), {"specific.dead": time.time() - settings.PRESENCE_TTL_S - 1})
    assert online_of(target) is False
    assert presence_online_ids([target.pk]) == set()
    presence_touch(target.pk, "specific.alive")
    assert online_of(target) is True


def test_heartbeat_revives_a_socket(target, online_of, settings):
    r = get_redis()
    r.zadd(_key(target.pk), {"specific.chan-a": time.time() - settings.PRESENCE_TTL_S - 5})  # missed heartbeats
    assert online_of(target) is False
    presence_touch(target.pk, "specific.chan-a")  # heartbeat on the same socket
    assert online_of(target) is True
    assert r.zcard(_key(target.pk)) == 1
    assert r.zscore(_key(target.pk), "specific.chan-a") == pytest.approx(time.time(), abs=5)


def test_presence_expires_without_heartbeat(target, online_of, settings):
    settings.PRESENCE_TTL_S = 1
    presence_touch(target.pk, "specific.chan-a")
    assert online_of(target) is True
    time.sleep(1.2)
    assert online_of(target) is False


def test_presence_is_per_user(make_user, place, online_of):
    a, b = make_user(sharing=True), make_user(sharing=True)
    place(a, *offset(*HOME, north_m=100))
    place(b, *offset(*HOME, north_m=-100))
    presence_touch(a.pk, "specific.chan-a")
    assert (online_of(a), online_of(b)) == (True, False)


def test_presence_online_ids_accepts_str_and_uuid(make_user):
    a, b, c = make_user(), make_user(), make_user()
    presence_touch(a.pk, "specific.x")
    presence_touch(str(b.pk), "specific.y")
    assert presence_online_ids([a.pk, b.pk, c.pk]) == {a.pk, b.pk}
    assert presence_online_ids([str(a.pk), str(c.pk)]) == {str(a.pk)}
    assert presence_online_ids([]) == set()


def test_presence_keys_expire(make_user, settings):
    user = make_user()
    presence_touch(user.pk, "specific.x")
    ttl = get_redis().ttl(_key(user.pk))
    assert 0 < ttl <= settings.PRESENCE_TTL_S * 2
