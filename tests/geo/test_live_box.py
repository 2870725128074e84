"""The live map's cheap skip: a change outside a subscription's box is never one the circle would keep."""

from __future__ import annotations

import math
import random

import pytest

from geo.grid import METRES_PER_DEGREE, haversine_m
from geo.realtime import MapSubscription


def _sub(lat: float, lng: float, radius_m: float) -> MapSubscription:
    return MapSubscription(lat=lat, lng=lng, radius_m=radius_m, groups=[], viewer=None)


@pytest.mark.parametrize("seed", range(4))
def test_every_point_inside_the_circle_is_inside_the_box(seed):
    rng = random.Random(seed)
    checked = inside = 0
    for _ in range(300):
        lat, lng = rng.uniform(-88.5, 88.5), rng.uniform(-179.9, 179.9)
        radius = rng.choice([10.0, 100.0, 500.0, 2_000.0, 50_000.0])
        box = _sub(lat, lng, radius)._box()
        if box is None:
            continue
        checked += 1
        span_lat = radius / METRES_PER_DEGREE * 1.2
        span_lng = span_lat / max(math.cos(math.radians(min(89.0, abs(lat) + span_lat))), 1e-3)
        for _ in range(40):
            plat = lat + rng.uniform(-span_lat, span_lat)
            plng = lng + rng.uniform(-span_lng, span_lng)
            if abs(plat) > 90 or abs(plng) > 180 or haversine_m(lat, lng, plat, plng) > radius:
                continue
            inside += 1
            assert box[0] <= plat <= box[1] and box[2] <= plng <= box[3], (lat, lng, radius, plat, plng, box)
    assert checked > 200 and inside > 2_000  # the sample really exercises the box


def test_the_box_is_tight_enough_to_skip_far_changes_and_absent_near_poles_and_antimeridian():
    box = _sub(60.17, 24.94, 500.0)._box()
    assert box is not None
    assert box[1] - box[0] < 2 * 500.0 / METRES_PER_DEGREE * 1.05  # about the circle, not the tile
    assert not (box[2] <= 24.96 <= box[3])  # ~1.1 km east: skipped without judging
    assert _sub(89.5, 0.0, 500.0)._box() is None  # near a pole: every change is judged
    assert _sub(0.0, 179.999, 500.0)._box() is None  # across the antimeridian: every change is judged
    assert _sub(0.0, -179.999, 500.0)._box() is None


def test_the_box_follows_a_changed_circle():
    sub = _sub(60.17, 24.94, 500.0)
    first = sub._box()
    sub.radius_m = 2_000.0
    assert sub._box()[1] - sub._box()[0] > first[1] - first[0]
