"""Messaging fixtures: users, a direct pair, a room conversation, image bytes with GPS EXIF."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from accounts.models import Block


@pytest.fixture
def trio(make_user):
    """Three users: alice, bob, carol."""
    return make_user(username="alice"), make_user(username="bob"), make_user(username="carol")


@pytest.fixture
def room(trio):
    """A ``group`` conversation owned by alice with alice, bob and carol as members."""
    from messaging.services import conversation_create_for

    alice, bob, carol = trio
    return conversation_create_for(
        owner_kind="testgroup", owner_id="g1", member_ids=[bob.pk, carol.pk], kind="group", owner_user_id=alice.pk
    )


def block(blocker, blocked):
    """Store a block directly (no signals)."""
    return Block.objects.create(blocker=blocker, blocked=blocked)


def jpeg_with_gps(size=(64, 48), color=(200, 30, 30)) -> bytes:
    """A JPEG carrying EXIF with a GPS position (Helsinki), a camera make and an orientation tag."""
    image = Image.new("RGB", size, color)
    exif = Image.Exif()
    exif[0x010F] = "SpyCam"  # Make
    exif[0x0112] = 1  # Orientation
    gps = {1: "N", 2: (60.0, 10.0, 11.0), 3: "E", 4: (24.0, 56.0, 18.0)}
    exif[0x8825] = gps
    buf = io.BytesIO()
    image.save(buf, format="JPEG", exif=exif.tobytes())
    return buf.getvalue()
