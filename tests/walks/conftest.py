"""Walk fixtures: three visible users near each other (alice, bob, carol), a track helper."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import Block
from tests.geo.geoutil import offset

HOME = (52.5219, 13.4132)


def block(blocker, blocked):
    """Store a block directly (no signals)."""
    return Block.objects.create(blocker=blocker, blocked=blocked)


def ts(seconds_ago: float) -> str:
    """ISO timestamp ``seconds_ago`` before now (fixes must be fresh and at least 1 s apart)."""
    return (timezone.now() - timedelta(seconds=seconds_ago)).isoformat()


@pytest.fixture
def trio(make_user, place):
    """alice, bob and carol: sharing, with published fixes within 100 m of ``HOME``."""
    alice = make_user(username="alice", full_name="Alice", sharing=True)
    bob = make_user(username="bob", full_name="Bob", sharing=True)
    carol = make_user(username="carol", full_name="Carol", sharing=True)
    place(alice, *offset(*HOME, north_m=10), timestamp=ts(200), accuracy_m=5)
    place(bob, *offset(*HOME, north_m=-40), timestamp=ts(200), accuracy_m=5)
    place(carol, *offset(*HOME, east_m=60), timestamp=ts(200), accuracy_m=5)
    return alice, bob, carol
