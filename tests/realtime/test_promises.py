"""Promises of docs/privacy.md, docs/realtime.md and docs/security.md that had no test (issue 7).

Every "nothing arrives" check has a positive control on the same socket: the
forbidden change is made first, then an allowed one, and the frames received
before the allowed event must not mention the forbidden one. Frames on one
socket are ordered, so this does not depend on how long we wait.
"""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.utils import timezone

from accounts import services as account_services
from accounts.models import User
from config.asgi import router, websocket_urlpatterns
from core.validation import validated
from geo.fanout import map_publish_tick
from geo.serializers import LocationFixInputSerializer
from geo.services import location_record
from realtime.auth import JWTAuthMiddleware, TokenSocketOriginValidator

from ..conftest import access_token, assert_error
from .conftest import drain, recv, recv_until, send, ws_connect

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]

HEL = (60.1699, 24.9384)
NEXT_CELL = (60.1699 + 0.0020, 24.9384)  # ~220 m north: another grid cell
WAIT = 10.0  # generous: the machine is shared


@pytest.fixture
async def people(rt_db, make_user):
    mk = database_sync_to_async(make_user)
    return {
        "viewer": await mk(username="viewer", email="v@example.test", roles=["walker"], sharing=True),
        "mover": await mk(username="mover", email="m@example.test", roles=["runner"], sharing=True),
    }


_clock = {"t": None, "seq": int(time.time()) * 100}


async def tick():
    """One map tick with a sequence number of its own.

    The ticker's ``seq`` is the wall-clock tick index (2 s); two ticks run
    back to back in a test would share it, and the consumer drops the second
    message of a user as a duplicate delivered through another tile.
    """
    _clock["seq"] += 1
    return await database_sync_to_async(map_publish_tick)(seq=_clock["seq"])


@pytest.fixture(autouse=True)
def _fresh_clock():
    _clock["t"] = None  # each test's fixes start 50 s in the past and stay well clear of the future limit


def _next_ts() -> str:
    """Strictly increasing client timestamps 2 s apart (past the minimum interval), never in the future."""
    now = timezone.now() - timedelta(seconds=50)
    t = _clock["t"]
    t = now if t is None or t < now - timedelta(seconds=60) else t + timedelta(seconds=2)
    _clock["t"] = t
    return t.isoformat()


async def fix(user, lat, lng):
    data = validated(LocationFixInputSerializer, {"lat": lat, "lng": lng, "timestamp": _next_ts()})
    return await database_sync_to_async(location_record)(user=user, fix=data)


async def subscribe(comm, radius=1000) -> set[str]:
    await send(comm, "map:subscribe", {"lat": HEL[0], "lng": HEL[1], "radius": radius}, frame_id="sub")
    snapshot, before = await recv_until(comm, "map:snapshot", timeout=WAIT)
    assert before == []
    ack = await recv(comm, timeout=WAIT)
    assert ack["event"] == "ack" and ack["id"] == "sub"
    return {n["user_id"] for n in snapshot["data"]["results"]}


async def expect(comm, event: str, user_id) -> tuple[dict, list[dict]]:
    """The next ``event`` frame, which must name ``user_id``; returns it and the frames before it."""
    frame, before = await recv_until(comm, event, timeout=WAIT)
    assert frame["data"]["user_id"] == str(user_id), frame
    return frame, before


def mentions(frames: list[dict], user) -> list[dict]:
    return [f for f in frames if f.get("data", {}).get("user_id") == str(user.pk)]


@database_sync_to_async
def settings_update(user, data):
    return account_services.user_settings_update(user=User.objects.get(pk=user.pk), data=data)


@database_sync_to_async
def self_roles(user, roles):
    """The user changes their own roles (``PATCH /api/users/me``), through the service."""
    return account_services.user_update(user=User.objects.get(pk=user.pk), data={"roles": roles})


@database_sync_to_async
def staff_roles(user, roles):
    """Staff change the user's roles in the admin: ``UserAdmin.save_model`` does exactly this."""
    obj = User.objects.get(pk=user.pk)
    old = list(obj.roles)
    obj.roles = roles
    obj.role_since = account_services.role_since_update(old, roles, obj.role_since, staff=True)
    obj.save()
    account_services.user_staff_saved(user=obj, changed={"roles"})


# --- 1. re-diff when the viewer's roles / show_roles or the target's visible_roles change ------------


async def test_viewer_show_roles_change_rediffs_at_once(people, make_user):
    viewer, mover = people["viewer"], people["mover"]  # mover holds "runner"
    walker = await database_sync_to_async(make_user)(username="wlk", roles=["walker"], sharing=True)
    await fix(mover, *HEL)
    await fix(walker, *NEXT_CELL)
    await tick()
    comm, ok, _ = await ws_connect(viewer)
    assert ok
    assert await subscribe(comm) == {str(mover.pk), str(walker.pk)}

    # No tick and no new subscribe from here on: the change alone re-diffs the map.
    await settings_update(viewer, {"filters": {"show_roles": ["walker"]}})
    _, before = await expect(comm, "user:gone", mover.pk)
    assert before == []
    await settings_update(viewer, {"filters": {"show_roles": []}})
    frame, before = await expect(comm, "user:location", mover.pk)
    assert before == [] and frame["data"]["timestamp"] is None  # a re-diff, not a tick
    assert mentions(await drain(comm, 0.5), walker) == []  # the walker never left, nothing about them
    await comm.disconnect()


@pytest.fixture
async def drivers_only(rt_db, make_user):
    """A sharing target shown only to drivers, at HEL, published."""
    target = await database_sync_to_async(make_user)(
        username="donly", roles=["runner"], sharing=True, visible_roles=["driver"]
    )
    await fix(target, *HEL)
    await tick()
    return target


async def test_viewer_staff_granted_role_rediffs_at_once(people, drivers_only):
    viewer = people["viewer"]  # holds "walker" only
    comm, _, _ = await ws_connect(viewer)
    assert await subscribe(comm) == set()
    try:
        await staff_roles(viewer, ["walker", "driver"])  # a staff grant counts at once
        frame, before = await expect(comm, "user:location", drivers_only.pk)
        assert before == [] and frame["data"]["timestamp"] is None
    finally:
        await comm.disconnect()


async def test_viewer_dropping_a_role_rediffs_at_once(people, drivers_only):
    viewer = people["viewer"]
    await staff_roles(viewer, ["walker", "driver"])  # granted before the socket opens
    comm, _, _ = await ws_connect(viewer)
    assert await subscribe(comm) == {str(drivers_only.pk)}
    try:
        await self_roles(viewer, ["walker"])  # the viewer drops it: the target must go at once
        _, before = await expect(comm, "user:gone", drivers_only.pk)
        assert before == []
    finally:
        await comm.disconnect()


async def test_viewer_self_claimed_role_opens_nothing_before_maturing(people, drivers_only):
    viewer, mover = people["viewer"], people["mover"]
    await fix(mover, *HEL)
    await tick()
    comm, _, _ = await ws_connect(viewer)
    assert await subscribe(comm) == {str(mover.pk)}

    # Claimed now, held less than ROLE_VISIBILITY_MIN_AGE_S (24 h): opens nothing.
    await self_roles(viewer, ["walker", "driver"])
    await fix(drivers_only, *NEXT_CELL)  # the hidden target moves ...
    await fix(mover, *NEXT_CELL)  # ... and so does a visible one (positive control)
    await tick()
    _, before = await expect(comm, "user:location", mover.pk)
    assert mentions(before, drivers_only) == []
    assert mentions(await drain(comm, 0.5), drivers_only) == []
    await comm.disconnect()


async def test_viewer_self_claimed_role_counts_at_once_without_maturing_period(people, drivers_only, settings):
    settings.ROLE_VISIBILITY_MIN_AGE_S = 0
    viewer = people["viewer"]
    comm, _, _ = await ws_connect(viewer)
    assert await subscribe(comm) == set()
    try:
        await self_roles(viewer, ["walker", "driver"])
        frame, before = await expect(comm, "user:location", drivers_only.pk)
        assert before == [] and frame["data"]["timestamp"] is None
    finally:
        await comm.disconnect()


async def test_target_visible_roles_change_rediffs_live_viewer(people):
    viewer, mover = people["viewer"], people["mover"]  # viewer holds "walker" (no role_since: counts)
    await fix(mover, *HEL)
    await tick()
    comm, _, _ = await ws_connect(viewer)
    assert await subscribe(comm) == {str(mover.pk)}

    await settings_update(mover, {"visible_roles": ["driver"]})  # the viewer no longer qualifies
    await tick()  # docs/privacy.md: re-evaluated at the next tick, no new subscribe
    _, before = await expect(comm, "user:gone", mover.pk)
    assert before == []
    await settings_update(mover, {"visible_roles": ["driver", "walker"]})  # qualifies again
    await tick()
    frame, before = await expect(comm, "user:location", mover.pk)
    assert before == [] and frame["data"]["published_at"] > 0
    await comm.disconnect()


# --- 2. inactive users ----------------------------------------------------------------------------------


async def test_inactive_users_handshake_is_refused(people):
    viewer = people["viewer"]
    token = await database_sync_to_async(access_token)(viewer)
    comm, ok, _ = await ws_connect(token=token)
    assert ok  # positive control: the same token works while the account is active
    await comm.disconnect()
    await database_sync_to_async(User.objects.filter(pk=viewer.pk).update)(is_active=False)
    for via in ("header", "subprotocol", "query"):
        _, ok, _ = await ws_connect(token=token, via=via)
        assert ok is False, via


async def test_inactive_targets_moves_never_reach_a_socket(people, make_user):
    viewer, mover = people["viewer"], people["mover"]
    inactive = await database_sync_to_async(make_user)(username="gone", sharing=True, is_active=False)
    comm, _, _ = await ws_connect(viewer)
    assert await subscribe(comm) == set()

    await fix(inactive, *HEL)
    await fix(mover, *HEL)
    await tick()
    _, before = await expect(comm, "user:location", mover.pk)  # positive control
    await fix(inactive, *NEXT_CELL)
    await fix(mover, *NEXT_CELL)
    await tick()
    _, before2 = await expect(comm, "user:location", mover.pk)
    assert mentions(before + before2 + await drain(comm, 0.5), inactive) == []
    assert await subscribe(comm) == {str(mover.pk)}  # nor in the snapshot
    await comm.disconnect()


async def test_target_deactivated_by_staff_goes_and_stays_gone(people, make_user):
    viewer, mover = people["viewer"], people["mover"]
    target = await database_sync_to_async(make_user)(username="tgt", sharing=True)
    await fix(target, *HEL)
    await fix(mover, *HEL)
    await tick()
    comm, _, _ = await ws_connect(viewer)
    assert await subscribe(comm) == {str(target.pk), str(mover.pk)}

    def deactivate():
        obj = User.objects.get(pk=target.pk)
        obj.is_active = False
        obj.save(update_fields=["is_active"])
        account_services.user_staff_saved(user=obj, changed={"is_active"})

    await database_sync_to_async(deactivate)()
    await tick()
    await expect(comm, "user:gone", target.pk)
    await fix(target, *NEXT_CELL)
    await fix(mover, *NEXT_CELL)
    await tick()
    _, before = await expect(comm, "user:location", mover.pk)  # positive control
    assert mentions(before + await drain(comm, 0.5), target) == []
    await comm.disconnect()


# --- 3. the Origin rule for browser sockets ---------------------------------------------------------------


async def _handshake(app, user, origin: str | None):
    headers = [(b"authorization", f"Bearer {access_token(user)}".encode())]
    if origin is not None:
        headers.append((b"origin", origin.encode()))
    comm = WebsocketCommunicator(app, "/ws/", headers=headers)
    ok, _ = await comm.connect(timeout=WAIT)
    if ok:
        await send(comm, "map:unsubscribe", {}, frame_id="o")
        assert (await recv(comm, timeout=WAIT))["event"] == "ack"
        await comm.disconnect()
    return ok


@pytest.mark.parametrize(
    ("origin", "allowed"),
    [
        (None, True),  # native clients send no Origin
        ("http://localhost:3000", True),  # a host in ALLOWED_HOSTS, any port
        ("http://127.0.0.1:8000", True),
        ("https://evil.example", False),
        ("http://localhost.evil.example", False),
        ("null", False),  # sandboxed iframes, file:// pages
    ],
)
async def test_origin_rule_for_browser_sockets(people, origin, allowed):
    assert await _handshake(router, people["viewer"], origin) is allowed


async def test_origin_from_cors_allowed_origins_is_accepted(people, settings):
    settings.CORS_ALLOWED_ORIGINS = ["https://app.rendezvous.example"]
    app = TokenSocketOriginValidator(JWTAuthMiddleware(URLRouter(websocket_urlpatterns)))  # reads the settings
    assert await _handshake(app, people["viewer"], "https://app.rendezvous.example") is True
    assert await _handshake(app, people["viewer"], "https://other.rendezvous.example") is False
    assert await _handshake(app, people["viewer"], "http://app.rendezvous.example") is False  # scheme counts


# --- 4. the location rate limit is one budget for HTTP and socket --------------------------------------------


async def window_guard(period_s: int = 60, needed_s: float = 10.0) -> None:
    """Sleep into the next fixed window (aligned to the epoch, like ``core.ratelimit``) when it is nearly over."""
    left = period_s - (time.time() % period_s)
    if left < needed_s:
        await asyncio.sleep(left + 0.1)


def _http_fix(user, lat):
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access_token(user)}")
    return client.post("/api/location", {"lat": lat, "lng": 1, "timestamp": _next_ts()}, format="json")


async def _socket_fix(comm, lat, frame_id):
    await send(comm, "location:update", {"lat": lat, "lng": 1, "timestamp": _next_ts()}, frame_id=frame_id)
    frame = await recv(comm, timeout=WAIT)
    assert frame.get("id") == frame_id, frame
    return frame


async def test_location_budget_spent_over_socket_refuses_http(people, settings):
    settings.THROTTLE_LOCATION = "3/min"
    await window_guard()
    viewer, other = people["viewer"], people["mover"]
    comm, _, _ = await ws_connect(viewer)
    for i in range(3):
        assert (await _socket_fix(comm, 1 + i / 100, i))["event"] == "ack"
    response = await database_sync_to_async(_http_fix)(viewer, 2)
    assert_error(response, 429, "rate_limited")
    assert 1 <= int(response["Retry-After"]) <= 60
    assert (await database_sync_to_async(_http_fix)(other, 2)).status_code == 200  # per user (control)
    await comm.disconnect()


async def test_location_budget_spent_over_http_refuses_socket(people, settings):
    settings.THROTTLE_LOCATION = "3/min"
    await window_guard()
    viewer = people["viewer"]
    for i in range(3):
        response = await database_sync_to_async(_http_fix)(viewer, 1 + i / 100)
        assert response.status_code == 200, response.content
    comm, _, _ = await ws_connect(viewer)
    frame = await _socket_fix(comm, 2, "x")
    assert frame["event"] == "error" and frame["data"]["code"] == "rate_limited"
    assert 0 < frame["data"]["retry_after"] <= 60
    # positive control: the socket still answers another user's-budget-free request
    await send(comm, "map:unsubscribe", {}, frame_id="p")
    assert (await recv(comm, timeout=WAIT)) == {"event": "ack", "id": "p", "data": {"subscribed": False}}
    await comm.disconnect()
