"""REST authentication (``accounts.authentication.JWTAuthentication``): the user read by one statement."""

from __future__ import annotations

import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken

from accounts.authentication import JWTAuthentication
from accounts.models import User

pytestmark = pytest.mark.django_db


def _bearer(token) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def test_the_user_is_the_same_as_the_orm_reads_it_in_one_query(make_user):
    user = make_user(roles=["walker"], full_name="Ada", birth_date="1990-05-01")
    token = AccessToken(str(AccessToken.for_user(user)))
    with CaptureQueriesContext(connection) as queries:
        loaded = JWTAuthentication().get_user(token)
    assert len(queries) == 1
    orm = User.objects.get(pk=user.pk)
    for field in User._meta.concrete_fields:
        ours, theirs = getattr(loaded, field.attname), getattr(orm, field.attname)
        assert ours == theirs and type(ours) is type(theirs), field.name
    assert loaded._state.adding is False and loaded._state.db == "default"
    loaded.full_name = "Ada L."
    loaded.save(update_fields=["full_name"])  # a normal model instance: it saves as an UPDATE
    assert User.objects.get(pk=user.pk).full_name == "Ada L." and User.objects.count() == 1


def test_me_works_and_inactive_deleted_and_unknown_users_are_401(make_user):
    user = make_user()
    token = str(AccessToken.for_user(user))
    assert _bearer(token).get("/api/auth/me").status_code == 200
    User.objects.filter(pk=user.pk).update(is_active=False)
    answer = _bearer(token).get("/api/auth/me")
    assert answer.status_code == 401 and answer.json()["error"]["code"] == "user_inactive"
    User.objects.filter(pk=user.pk).update(is_active=True)
    ghost = AccessToken.for_user(user)
    ghost["user_id"] = str(uuid.uuid4())
    answer = _bearer(str(ghost)).get("/api/auth/me")
    assert answer.status_code == 401 and answer.json()["error"]["code"] == "user_not_found"
    broken = AccessToken.for_user(user)
    broken["user_id"] = "not-a-uuid"
    answer = _bearer(str(broken)).get("/api/auth/me")
    assert answer.status_code == 401 and answer.json()["error"]["code"] == "user_not_found"
    del broken["user_id"]
    assert _bearer(str(broken)).get("/api/auth/me").status_code == 401


def test_batched_rate_limit_survives_a_script_flush_without_counting_twice(redis_clean):
    """After ``SCRIPT FLUSH`` (a Redis restart), the hit script is loaded again and each hit counts once."""
    from core.ratelimit import rate_limit_count_many
    from core.redis import get_redis

    first = rate_limit_count_many("authtest", ["a", "b"], "3/min")
    assert [ok for ok, _ in first] == [True, True]
    get_redis().script_flush()
    second = rate_limit_count_many("authtest", ["a", "a", "b"], "3/min")
    assert [ok for ok, _ in second] == [True, True, True]  # a: 2nd and 3rd hit, b: 2nd
    third = rate_limit_count_many("authtest", ["a", "b"], "3/min")
    assert [ok for ok, _ in third] == [False, True]  # a: 4th hit (over 3), b: 3rd
