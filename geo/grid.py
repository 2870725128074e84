"""The privacy grid and the fan-out tiles.

Privacy grid
    A fixed global grid of cells about ``MAP_GRID_M`` (100 m) on a side:
    ``nrows`` latitude bands of equal height, each band split into equal
    columns whose width in metres is ~``MAP_GRID_M`` at the band's centre
    latitude. A stranger's position is replaced by the centre of its cell, so
    the answer is identical whatever the query centre and no number of queries
    locates anyone better than one cell (seed 001, "Fuzzy location (100m
    radius) until walk accepted").

Fan-out tiles
    Live map fan-out uses Channels groups named ``cell.<geohash>``. A mover's
    cell change is published to the tiles containing its old and new snapped
    point at every precision in :data:`TILE_PRECISIONS`; a viewer joins the
    tiles of the finest precision whose cover of its circle stays within
    :data:`MAX_TILES_PER_SUBSCRIPTION` groups.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import pygeohash
from django.conf import settings

from core.geodesy import EARTH_RADIUS_M, haversine_m  # noqa: F401 (re-exported)

#: Metres per degree of latitude on that sphere.
METRES_PER_DEGREE = math.pi * EARTH_RADIUS_M / 180.0
#: Geohash precisions of the fan-out tiles, finest first (6: ~1.2 x 0.6 km, 5: ~4.9 km,
#: 4: ~39 km, 3: ~156 km, 2: ~1 250 km at the equator; 2 covers any circle up to
#: ``MAP_MAX_RADIUS_M`` around a pole in at most 32 tiles). A 500 m subscription joins a few
#: precision-6 tiles instead of one 5 km tile, so a socket hears ~10x fewer
#: cell changes it must discard (bench, fan-out profile).
TILE_PRECISIONS = (6, 5, 4, 3, 2)
#: Upper bound of ``cell.*`` groups one map subscription joins.
MAX_TILES_PER_SUBSCRIPTION = 48


@dataclass(frozen=True)
class Cell:
    """One privacy-grid cell: its id and its centre (WGS84 degrees)."""

    id: str
    lat: float
    lng: float


@lru_cache(maxsize=8)
def _rows(size_m: float) -> tuple[int, float]:
    nrows = max(1, round(180.0 / (size_m / METRES_PER_DEGREE)))
    return nrows, 180.0 / nrows


@lru_cache(maxsize=65536)
def _row_columns(size_m: float, row: int) -> tuple[int, float]:
    nrows, dlat = _rows(size_m)
    centre_lat = -90.0 + (row + 0.5) * dlat
    width_m = METRES_PER_DEGREE * max(math.cos(math.radians(centre_lat)), 1e-6) * 360.0
    ncols = max(1, round(width_m / size_m))
    return ncols, 360.0 / ncols


def grid_size_m() -> float:
    """The configured cell size in metres (``MAP_GRID_M``)."""
    return float(settings.MAP_GRID_M)


def cell_for(lat: float, lng: float, size_m: float | None = None) -> Cell:
    """Return the grid cell containing ``(lat, lng)`` (degrees) and its centre.

    The id is ``"<row>:<col>"``; the same point always yields the same cell
    for a given ``size_m`` (metres, default ``MAP_GRID_M``).
    """
    size = size_m or grid_size_m()
    nrows, dlat = _rows(size)
    row = min(nrows - 1, max(0, math.floor((lat + 90.0) / dlat)))
    ncols, dlng = _row_columns(size, row)
    col = math.floor((lng + 180.0) / dlng) % ncols
    return Cell(
        id=f"{row}:{col}",
        lat=-90.0 + (row + 0.5) * dlat,
        lng=-180.0 + (col + 0.5) * dlng,
    )


def cell_centre(cell_id: str, size_m: float | None = None) -> tuple[float, float]:
    """Return the centre ``(lat, lng)`` of a cell id made by :func:`cell_for`."""
    size = size_m or grid_size_m()
    row, col = (int(part) for part in cell_id.split(":"))
    _, dlat = _rows(size)
    _, dlng = _row_columns(size, row)
    return -90.0 + (row + 0.5) * dlat, -180.0 + (col + 0.5) * dlng


def tile_group(geohash: str) -> str:
    """Channels group name of a fan-out tile."""
    return f"cell.{geohash}"


def tiles_for_point(lat: float, lng: float) -> list[str]:
    """Group names of the tiles containing a point, one per precision."""
    return [tile_group(pygeohash.encode(lat, lng, precision)) for precision in TILE_PRECISIONS]


def _boxes(lat: float, lng: float, radius_m: float) -> list[pygeohash.BoundingBox]:
    dlat = radius_m / METRES_PER_DEGREE
    min_lat, max_lat = max(-90.0, lat - dlat), min(90.0, lat + dlat)
    widest = max(abs(min_lat), abs(max_lat))
    cos = math.cos(math.radians(widest))
    if cos < 1e-6 or radius_m / (METRES_PER_DEGREE * cos) >= 180.0:
        return [pygeohash.BoundingBox(min_lat, -180.0, max_lat, 180.0)]
    dlng = radius_m / (METRES_PER_DEGREE * cos)
    west, east = lng - dlng, lng + dlng
    if west < -180.0:
        return [
            pygeohash.BoundingBox(min_lat, west + 360.0, max_lat, 180.0),
            pygeohash.BoundingBox(min_lat, -180.0, max_lat, east),
        ]
    if east > 180.0:
        return [
            pygeohash.BoundingBox(min_lat, west, max_lat, 180.0),
            pygeohash.BoundingBox(min_lat, -180.0, max_lat, east - 360.0),
        ]
    return [pygeohash.BoundingBox(min_lat, west, max_lat, east)]


def _geohash_cell_deg(precision: int) -> tuple[float, float]:
    """(height, width) in degrees of a geohash cell: 5 bits per character, longitude first."""
    bits = 5 * precision
    lng_bits = (bits + 1) // 2
    lat_bits = bits // 2
    return 180.0 / (1 << lat_bits), 360.0 / (1 << lng_bits)


def _cover_upper_bound(boxes: list[pygeohash.BoundingBox], precision: int) -> int:
    """An upper bound of the tiles covering ``boxes`` at ``precision``, in constant time."""
    height, width = _geohash_cell_deg(precision)
    total = 0
    for box in boxes:
        rows = int((box.max_lat - box.min_lat) / height) + 2
        cols = int((box.max_lon - box.min_lon) / width) + 2
        total += min(rows, 1 << ((5 * precision) // 2)) * min(cols, 1 << ((5 * precision + 1) // 2))
    return total


def tiles_for_circle(lat: float, lng: float, radius_m: float) -> list[str]:
    """Group names covering a circle (centre in degrees, radius in metres).

    Uses the finest precision of :data:`TILE_PRECISIONS` whose cover has at
    most :data:`MAX_TILES_PER_SUBSCRIPTION` tiles. The size of each cover is
    bounded arithmetically before any tile is listed, so the work is constant
    whatever the centre (poles and the antimeridian included: issue 7,
    finding 2); the result never exceeds the maximum.
    """
    boxes = _boxes(lat, lng, radius_m)
    for precision in TILE_PRECISIONS:
        if _cover_upper_bound(boxes, precision) > 4 * MAX_TILES_PER_SUBSCRIPTION:
            continue
        cover = sorted({h for box in boxes for h in pygeohash.geohashes_in_box(box, precision)})
        if len(cover) <= MAX_TILES_PER_SUBSCRIPTION:
            return [tile_group(h) for h in cover]
    # Unreachable for radii up to MAP_MAX_RADIUS_M (precision 2 covers them); never exceed the maximum.
    cover = sorted({h for box in boxes for h in pygeohash.geohashes_in_box(box, TILE_PRECISIONS[-1])})
    return [tile_group(h) for h in cover[:MAX_TILES_PER_SUBSCRIPTION]]
