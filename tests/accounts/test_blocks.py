"""POST/DELETE /api/users/{id}/block and GET /api/users/blocked."""

from __future__ import annotations

import uuid

import pytest

from accounts.models import Block
from tests.conftest import assert_error

from .conftest import BLOCKED, block_url

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("slash", ["", "/"])
def test_block_is_201_then_200_idempotent(client_for, make_user, slash):
    me, target = make_user(), make_user(username="target", full_name="Tar Get", roles=["rider"])
    api = client_for(me)

    first = api.post(block_url(target.pk) + slash)
    assert first.status_code == 201, first.content
    body = first.json()
    assert set(body) == {"user", "created_at"}
    assert body["user"]["id"] == str(target.pk)
    assert body["user"]["username"] == "target"
    assert body["user"]["roles"] == ["rider"]
    assert "email" not in body["user"]

    second = api.post(block_url(target.pk) + slash)
    assert second.status_code == 200
    assert second.json() == body
    assert Block.objects.filter(blocker=me, blocked=target).count() == 1


def test_block_is_one_directional_in_storage(client_for, make_user):
    me, target = make_user(), make_user()
    client_for(me).post(block_url(target.pk))
    assert Block.objects.filter(blocker=me, blocked=target).exists()
    assert not Block.objects.filter(blocker=target, blocked=me).exists()
    # The other side can block back; both rows coexist.
    assert client_for(target).post(block_url(me.pk)).status_code == 201
    assert Block.objects.count() == 2


def test_blocking_yourself_is_400(api, user):
    assert_error(api.post(block_url(user.pk)), 400, "cannot_block_self")
    assert not Block.objects.exists()


@pytest.mark.parametrize("user_id", [str(uuid.uuid4()), "not-a-uuid", "12345", "'; DROP TABLE x;--"])
def test_blocking_an_unknown_or_malformed_id_is_404(api, user_id):
    assert_error(api.post(block_url(user_id)), 404, "not_found")
    assert not Block.objects.exists()


@pytest.mark.parametrize("user_id", [str(uuid.uuid4()), "not-a-uuid", "12345", "'; DROP TABLE x;--"])
def test_unblocking_an_unknown_or_malformed_id_is_404_not_blocked(api, user_id):
    assert_error(api.delete(block_url(user_id)), 404, "not_blocked")
    assert not Block.objects.exists()


def test_unblock_does_not_tell_whether_an_account_exists(client_for, make_user):
    """Issue 7, item 12: DELETE answered ``not_blocked`` for a real user and ``not_found`` for a random id.

    The attack: probe ids with DELETE and read the code. Now a real user,
    an inactive one, a random id and a malformed id get byte-identical answers.
    """
    me, real = make_user(), make_user()
    ghost = make_user(is_active=False)
    api = client_for(me)
    answers = []
    for user_id in (real.pk, ghost.pk, uuid.uuid4(), "not-a-uuid"):
        response = api.delete(block_url(user_id))
        assert_error(response, 404, "not_blocked")
        answers.append((response.status_code, response.content))
    assert len(set(answers)) == 1, answers
    # positive control: a real block is removed with 204
    api.post(block_url(real.pk))
    assert api.delete(block_url(real.pk)).status_code == 204


def test_inactive_user_cannot_be_blocked(api, make_user):
    ghost = make_user(is_active=False)
    assert_error(api.post(block_url(ghost.pk)), 404, "not_found")


def test_unblock_is_204_then_404(client_for, make_user):
    me, target = make_user(), make_user()
    api = client_for(me)
    api.post(block_url(target.pk))

    response = api.delete(block_url(target.pk))
    assert response.status_code == 204
    assert response.content == b""
    assert not Block.objects.exists()
    assert_error(api.delete(block_url(target.pk)), 404, "not_blocked")


def test_unblock_only_removes_my_block(client_for, make_user):
    me, target = make_user(), make_user()
    client_for(target).post(block_url(me.pk))
    # I never blocked them: nothing to remove, and their block on me stays.
    assert_error(client_for(me).delete(block_url(target.pk)), 404, "not_blocked")
    assert Block.objects.filter(blocker=target, blocked=me).exists()


@pytest.mark.parametrize("slash", ["", "/"])
def test_blocked_list_shows_only_my_blocks_newest_first(client_for, make_user, slash):
    me, a, b, c = make_user(), make_user(), make_user(), make_user()
    api = client_for(me)
    api.post(block_url(a.pk))
    api.post(block_url(b.pk))
    client_for(c).post(block_url(a.pk))  # someone else's block
    client_for(c).post(block_url(me.pk))  # a block on me is not mine to list

    response = api.get(BLOCKED + slash)

    assert response.status_code == 200
    data = response.json()
    assert set(data) == {"count", "next", "previous", "results"}
    assert data["count"] == 2
    assert [item["user"]["id"] for item in data["results"]] == [str(b.pk), str(a.pk)]
    assert all("email" not in item["user"] for item in data["results"])


def test_blocked_list_is_paginated(client_for, make_user):
    me = make_user()
    targets = [make_user() for _ in range(23)]
    Block.objects.bulk_create([Block(blocker=me, blocked=t) for t in targets])
    api = client_for(me)

    first = api.get(BLOCKED).json()
    assert first["count"] == 23
    assert len(first["results"]) == 20
    assert first["previous"] is None
    assert "page=2" in first["next"]
    second = api.get(BLOCKED, {"page": 2}).json()
    assert len(second["results"]) == 3
    assert second["next"] is None and second["previous"] is not None
    seen = {item["user"]["id"] for item in first["results"] + second["results"]}
    assert seen == {str(t.pk) for t in targets}
    assert_error(api.get(BLOCKED, {"page": 3}), 404)


def test_blocked_list_empty(api):
    assert api.get(BLOCKED).json() == {"count": 0, "next": None, "previous": None, "results": []}


@pytest.mark.parametrize(("method", "path"), [("post", "block"), ("delete", "block"), ("get", "blocked")])
def test_blocks_unauthenticated_is_401(anon, make_user, method, path):
    target = make_user()
    url = block_url(target.pk) if path == "block" else BLOCKED
    assert_error(getattr(anon, method)(url), 401, "not_authenticated")
    assert not Block.objects.exists()
