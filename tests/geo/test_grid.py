"""Unit tests of the privacy grid and the fan-out tiles (geo/grid.py)."""

from __future__ import annotations

import math
import random

import pytest
from django.conf import settings

from geo.grid import (
    MAX_TILES_PER_SUBSCRIPTION,
    TILE_PRECISIONS,
    cell_centre,
    cell_for,
    haversine_m,
    tiles_for_circle,
    tiles_for_point,
)

from .geoutil import cell_bounds, vincenty_m

GRID = float(settings.MAP_GRID_M)


def random_points(n, lat_range=(-85.0, 85.0), seed=7):
    rng = random.Random(seed)
    return [(rng.uniform(*lat_range), rng.uniform(-180.0, 180.0)) for _ in range(n)]


def test_cell_for_is_deterministic_and_centre_is_in_its_cell():
    for lat, lng in random_points(2000):
        a, b = cell_for(lat, lng), cell_for(lat, lng)
        assert a == b
        assert cell_for(a.lat, a.lng).id == a.id  # the centre lies in its own cell
        assert cell_centre(a.id) == pytest.approx((a.lat, a.lng), abs=1e-12)


def test_every_point_of_a_cell_snaps_to_the_same_centre():
    rng = random.Random(3)
    for lat, lng in random_points(200, seed=11):
        cell = cell_for(lat, lng)
        south, north, west, east = cell_bounds(lat, lng)
        for _ in range(20):
            p = (rng.uniform(south, north), rng.uniform(west, east))
            assert cell_for(*p) == cell


def test_centre_is_near_every_point_of_its_cell():
    bound = GRID / math.sqrt(2) * 1.5
    worst = 0.0
    for lat, lng in random_points(5000, seed=5):
        cell = cell_for(lat, lng)
        d = haversine_m(lat, lng, cell.lat, cell.lng)
        worst = max(worst, d)
        assert d <= bound, (lat, lng, cell, d)
    assert worst > GRID / 4  # the sample really spreads over the cells


@pytest.mark.parametrize("lat", [0.0, 0.3, 37.5, 60.0, -60.0, 80.0, -80.0])
@pytest.mark.parametrize("lng", [0.0, 13.4, -122.4, 179.95])
def test_cell_size_is_about_the_grid_in_both_axes(lat, lng):
    south, north, west, east = cell_bounds(lat, lng)
    mid_lat = (south + north) / 2
    height = haversine_m(south, lng, north, lng)
    width = haversine_m(mid_lat, west, mid_lat, east)
    assert height == pytest.approx(GRID, rel=0.02)
    assert width == pytest.approx(GRID, rel=0.02)
    # also on the ellipsoid PostGIS measures on, within 1 %
    assert vincenty_m(south, lng, north, lng) == pytest.approx(GRID, rel=0.01)
    assert vincenty_m(mid_lat, west, mid_lat, east) == pytest.approx(GRID, rel=0.01)


def test_cell_size_follows_the_setting(settings):
    settings.MAP_GRID_M = 500.0
    south, north, west, east = cell_bounds(45.0, 7.0)
    assert haversine_m(south, 7.0, north, 7.0) == pytest.approx(500.0, rel=0.02)
    assert haversine_m(45.0, west, 45.0, east) == pytest.approx(500.0, rel=0.02)
    assert cell_for(45.0, 7.0) != cell_for(45.0, 7.0, size_m=100.0)


def test_neighbouring_points_across_a_boundary_get_different_cells():
    south, north, west, east = cell_bounds(52.52, 13.40)
    eps = 1e-7
    inside = cell_for(52.52, 13.40)
    assert cell_for(north + eps, 13.40) != inside
    assert cell_for(south - eps, 13.40) != inside
    assert cell_for(52.52, east + eps) != inside
    assert cell_for(52.52, west - eps) != inside


def test_extreme_coordinates_are_valid_cells():
    for lat, lng in [(90, 0), (-90, 0), (0, 180), (0, -180), (90, 180), (-90, -180), (89.99999, 179.99999)]:
        cell = cell_for(lat, lng)
        assert -90 <= cell.lat <= 90 and -180 <= cell.lng <= 180
        assert cell_for(cell.lat, cell.lng).id == cell.id
    # 180 and -180 are the same meridian
    assert cell_for(10, 180) == cell_for(10, -180)


def test_antimeridian_cells_are_small():
    west_side = cell_for(10.0, 179.99999)
    east_side = cell_for(10.0, -179.99999)
    assert west_side != east_side
    assert haversine_m(west_side.lat, west_side.lng, east_side.lat, east_side.lng) == pytest.approx(GRID, rel=0.05)


def test_haversine():
    assert haversine_m(0, 0, 0, 0) == 0
    assert haversine_m(0, 0, 0, 1) == pytest.approx(111_195, rel=1e-4)
    assert haversine_m(0, 179.5, 0, -179.5) == pytest.approx(111_195, rel=1e-4)
    assert haversine_m(52.52, 13.40, 48.8566, 2.3522) == pytest.approx(877_500, rel=0.01)


# --- fan-out tiles -------------------------------------------------------------------


def test_tiles_for_point_one_group_per_precision():
    groups = tiles_for_point(52.52, 13.40)
    assert len(groups) == len(TILE_PRECISIONS)
    assert all(g.startswith("cell.") for g in groups)
    assert sorted(len(g) - len("cell.") for g in groups) == sorted(TILE_PRECISIONS)
    # coarser tiles contain the finer one
    finest = groups[0][len("cell.") :]
    assert all(finest.startswith(g[len("cell.") :]) for g in groups)


@pytest.mark.parametrize("radius", [1, 50, 500, 1000, 5000, 10_000, 25_000, 50_000])
def test_tiles_for_circle_is_capped_and_contains_the_centre(radius):
    for lat, lng in random_points(400, lat_range=(-87.0, 87.0), seed=radius):
        groups = tiles_for_circle(lat, lng, radius)
        assert 1 <= len(groups) <= MAX_TILES_PER_SUBSCRIPTION, (lat, lng, radius, len(groups))
        assert len(set(groups)) == len(groups)
        assert set(tiles_for_point(lat, lng)) & set(groups), (lat, lng, radius)


@pytest.mark.parametrize(("lat", "lng"), [(0.0, 0.0), (52.52, 13.40), (-33.9, 151.2), (70.0, -150.0)])
@pytest.mark.parametrize("radius", [300, 3000, 30_000])
def test_tiles_for_circle_cover_the_whole_circle(lat, lng, radius):
    groups = set(tiles_for_circle(lat, lng, radius))
    for bearing in range(0, 360, 15):
        for frac in (0.5, 0.99):
            d = radius * frac
            b = math.radians(bearing)
            p_lat = lat + math.degrees(d * math.cos(b) / 6_371_008.8)
            p_lng = lng + math.degrees(d * math.sin(b) / (6_371_008.8 * math.cos(math.radians(lat))))
            assert set(tiles_for_point(p_lat, p_lng)) & groups, (bearing, frac)


@pytest.mark.parametrize("lng", [179.999, -179.999, 180.0, -180.0])
@pytest.mark.parametrize("radius", [500, 5000, 50_000])
def test_antimeridian_circles_cover_both_sides(lng, radius):
    lat = 64.0
    groups = set(tiles_for_circle(lat, lng, radius))
    assert len(groups) <= MAX_TILES_PER_SUBSCRIPTION
    d_lng = (radius * 0.9) / (6_371_008.8 * math.cos(math.radians(lat))) * 180 / math.pi
    east = lng + d_lng if lng + d_lng <= 180 else lng + d_lng - 360
    west = lng - d_lng if lng - d_lng >= -180 else lng - d_lng + 360
    for p_lng in (east, west):
        assert set(tiles_for_point(lat, p_lng)) & groups, (p_lng, sorted(groups))
    assert set(tiles_for_point(lat, lng)) & groups


def test_finer_tiles_for_smaller_circles():
    small = tiles_for_circle(52.52, 13.40, 200)
    large = tiles_for_circle(52.52, 13.40, 50_000)
    assert len(small[0]) - len("cell.") == max(TILE_PRECISIONS)
    assert len(large[0]) - len("cell.") < max(TILE_PRECISIONS)
