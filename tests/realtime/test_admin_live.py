"""Staff edits in the admin go through the services: live sockets follow roles, sharing, blocks and deactivation."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async
from django.test import Client

from accounts.models import Block

from .conftest import recv_until, send, tick, ws_connect

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]

HEL = (60.1699, 24.9384)


@pytest.fixture
async def setup(rt_db, make_user, place):
    mk = database_sync_to_async(make_user)
    staff = await mk(username="staff", email="staff@example.test", is_staff=True, is_superuser=True)
    viewer = await mk(username="viewer", sharing=True)
    target = await mk(username="target", sharing=True)
    await database_sync_to_async(place)(target, HEL[0] + 0.001, HEL[1], tick=False)
    await tick()
    return staff, viewer, target


def admin_client(staff) -> Client:
    client = Client()
    client.force_login(staff)
    return client


async def _subscribed(viewer):
    comm, _, _ = await ws_connect(viewer)
    await send(comm, "map:subscribe", {"lat": HEL[0], "lng": HEL[1], "radius": 2000}, frame_id="s")
    snapshot, _ = await recv_until(comm, "map:snapshot")
    return comm, {n["user_id"] for n in snapshot["data"]["results"]}


async def test_admin_block_hides_at_once_and_unblock_restores(setup):
    staff, viewer, target = setup
    comm, visible = await _subscribed(viewer)
    assert str(target.pk) in visible  # positive control

    def add_block():
        return (
            admin_client(staff)
            .post("/admin/accounts/block/add/", {"blocker": str(target.pk), "blocked": str(viewer.pk)})
            .status_code
        )

    assert await database_sync_to_async(add_block)() == 302
    gone, _ = await recv_until(comm, "user:gone")
    assert gone["data"]["user_id"] == str(target.pk)
    block = await database_sync_to_async(Block.objects.get)(blocker=target, blocked=viewer)

    def delete_block():
        return admin_client(staff).post(f"/admin/accounts/block/{block.pk}/delete/", {"post": "yes"}).status_code

    assert await database_sync_to_async(delete_block)() == 302
    back, _ = await recv_until(comm, "user:location")
    assert back["data"]["user_id"] == str(target.pk)
    await comm.disconnect()


async def test_admin_self_block_is_a_form_error_not_a_500(setup):
    staff, viewer, _ = setup

    def add():
        return admin_client(staff).post(
            "/admin/accounts/block/add/", {"blocker": str(viewer.pk), "blocked": str(viewer.pk)}
        )

    response = await database_sync_to_async(add)()
    assert response.status_code == 200 and b"cannot block themself" in response.content
    assert not await database_sync_to_async(Block.objects.filter(blocker=viewer).exists)()


async def test_admin_deactivation_closes_the_users_sockets(setup):
    staff, viewer, _ = setup
    comm, _ = await _subscribed(viewer)
    from accounts.services import user_staff_saved

    def deactivate():
        viewer.is_active = False
        viewer.save(update_fields=["is_active"])
        user_staff_saved(user=viewer, changed={"is_active"})

    await database_sync_to_async(deactivate)()
    frame, _ = await recv_until(comm, "error", timeout=5)
    assert frame["data"]["code"] == "session_ended"
    assert await comm.receive_output(timeout=3) == {"type": "websocket.close", "code": 4403}
