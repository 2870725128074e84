"""Issue 7 item 6: a refresh token is usable once, atomically; reuse revokes its family.

Attack: 10 parallel ``POST /api/auth/refresh`` with one token over a real
uvicorn server (before the fix: 9 x 200 and all 9 new tokens lived on).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


def test_ten_parallel_refreshes_with_one_token_succeed_once_and_reuse_revokes_the_family(start_servers):
    (server,) = start_servers(1)
    user = UserFactory()
    with httpx.Client(base_url=server.url, timeout=20) as client:
        login = client.post("/api/auth/login", json={"email": user.email, "password": PASSWORD})
        assert login.status_code == 200, login.text
        stolen = login.json()["refresh"]

    def refresh(_):
        with httpx.Client(base_url=server.url, timeout=20) as c:
            return c.post("/api/auth/refresh", json={"refresh": stolen})

    with ThreadPoolExecutor(10) as pool:
        responses = list(pool.map(refresh, range(10)))

    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] + [401] * 9, statuses
    newest = next(r.json() for r in responses if r.status_code == 200)

    with httpx.Client(base_url=server.url, timeout=20) as client:
        # Reusing the rotated token is refused...
        reuse = client.post("/api/auth/refresh", json={"refresh": stolen})
        assert reuse.status_code == 401
        assert reuse.json()["error"]["code"] == "token_not_valid"
        # ...and the family's newest refresh token is revoked with it.
        after = client.post("/api/auth/refresh", json={"refresh": newest["refresh"]})
        assert after.status_code == 401, after.text
        # Another session (a second login) is a different family and lives on.
        other = client.post("/api/auth/login", json={"email": user.email, "password": PASSWORD}).json()
        assert client.post("/api/auth/refresh", json={"refresh": other["refresh"]}).status_code == 200


@pytest.mark.django_db
def test_reuse_after_a_sequential_rotation_revokes_the_newest_token(anon, make_user):
    user = make_user()
    pair = anon.post("/api/auth/login", {"email": user.email, "password": PASSWORD}, format="json").json()
    first = anon.post("/api/auth/refresh", {"refresh": pair["refresh"]}, format="json").json()
    second = anon.post("/api/auth/refresh", {"refresh": first["refresh"]}, format="json")
    assert second.status_code == 200
    newest = second.json()["refresh"]

    # The attacker replays the first (already rotated) token: 401, and the victim's newest is dead too.
    assert anon.post("/api/auth/refresh", {"refresh": pair["refresh"]}, format="json").status_code == 401
    assert anon.post("/api/auth/refresh", {"refresh": newest}, format="json").status_code == 401


@pytest.mark.django_db
def test_rotation_keeps_the_family_claim(anon, make_user):
    from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

    user = make_user()
    pair = anon.post("/api/auth/login", {"email": user.email, "password": PASSWORD}, format="json").json()
    fam = RefreshToken(pair["refresh"])["fam"]
    assert fam and AccessToken(pair["access"])["fam"] == fam
    rotated = anon.post("/api/auth/refresh", {"refresh": pair["refresh"]}, format="json").json()
    assert RefreshToken(rotated["refresh"])["fam"] == fam
