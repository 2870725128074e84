"""The map tick: nothing queued is lost when a tick fails; one process handles each tick."""

import pytest

from geo import fanout
from geo.models import LocationFix
from geo.services import map_dirty_key


@pytest.mark.django_db
def test_failed_tick_requeues_everyone(make_user, place, redis_clean, monkeypatch):
    user = make_user(sharing=True)
    place(user, 60.17, 24.94, tick=False)
    assert redis_clean.smembers(map_dirty_key()) == {str(user.pk)}

    def boom(*args, **kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(fanout, "_tick_apply", boom)
    with pytest.raises(RuntimeError):
        fanout.map_publish_tick()
    assert redis_clean.smembers(map_dirty_key()) == {str(user.pk)}
    assert LocationFix.objects.get(user=user).public_cell == ""

    monkeypatch.undo()
    stats = fanout.map_publish_tick()
    assert stats["users"] == 1 and stats["published"] >= 1
    assert LocationFix.objects.get(user=user).public_cell == LocationFix.objects.get(user=user).cell
    assert redis_clean.smembers(map_dirty_key()) == set()


@pytest.mark.django_db
def test_each_tick_is_claimed_once(redis_clean):
    assert fanout._tick_claim(123456) is True
    assert fanout._tick_claim(123456) is False
    assert fanout._tick_claim(123457) is True
