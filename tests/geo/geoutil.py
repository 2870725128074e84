"""Geometry helpers for the geo tests, independent of the code under test where it matters.

``vincenty_m`` is the WGS84 ellipsoid distance (what PostGIS ``geography``
measures), so distances returned by the API can be checked to well under a
metre without asking PostGIS itself.
"""

from __future__ import annotations

import math
import time

from geo.grid import EARTH_RADIUS_M, cell_for

#: WGS84 ellipsoid.
_A = 6_378_137.0
_F = 1 / 298.257223563
_B = _A * (1 - _F)


def offset(lat: float, lng: float, north_m: float = 0.0, east_m: float = 0.0) -> tuple[float, float]:
    """The point ``north_m``/``east_m`` metres from ``(lat, lng)`` (small offsets, spherical)."""
    dlat = math.degrees(north_m / EARTH_RADIUS_M)
    dlng = math.degrees(east_m / (EARTH_RADIUS_M * math.cos(math.radians(lat))))
    return lat + dlat, lng + dlng


def vincenty_m(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    """Distance in metres on the WGS84 ellipsoid (Vincenty's inverse formula)."""
    if (lat1, lng1) == (lat2, lng2):
        return 0.0
    big_l = math.radians(lng2 - lng1)
    u1 = math.atan((1 - _F) * math.tan(math.radians(lat1)))
    u2 = math.atan((1 - _F) * math.tan(math.radians(lat2)))
    sin_u1, cos_u1, sin_u2, cos_u2 = math.sin(u1), math.cos(u1), math.sin(u2), math.cos(u2)
    lam = big_l
    for _ in range(200):
        sin_lam, cos_lam = math.sin(lam), math.cos(lam)
        sin_sigma = math.hypot(cos_u2 * sin_lam, cos_u1 * sin_u2 - sin_u1 * cos_u2 * cos_lam)
        if sin_sigma == 0:
            return 0.0
        cos_sigma = sin_u1 * sin_u2 + cos_u1 * cos_u2 * cos_lam
        sigma = math.atan2(sin_sigma, cos_sigma)
        sin_alpha = cos_u1 * cos_u2 * sin_lam / sin_sigma
        cos2_alpha = 1 - sin_alpha**2
        cos_2sm = cos_sigma - 2 * sin_u1 * sin_u2 / cos2_alpha if cos2_alpha else 0.0
        c = _F / 16 * cos2_alpha * (4 + _F * (4 - 3 * cos2_alpha))
        lam_prev = lam
        lam = big_l + (1 - c) * _F * sin_alpha * (
            sigma + c * sin_sigma * (cos_2sm + c * cos_sigma * (-1 + 2 * cos_2sm**2))
        )
        if abs(lam - lam_prev) < 1e-12:
            break
    u_sq = cos2_alpha * (_A**2 - _B**2) / _B**2
    big_a = 1 + u_sq / 16384 * (4096 + u_sq * (-768 + u_sq * (320 - 175 * u_sq)))
    big_b = u_sq / 1024 * (256 + u_sq * (-128 + u_sq * (74 - 47 * u_sq)))
    d_sigma = (
        big_b
        * sin_sigma
        * (
            cos_2sm
            + big_b
            / 4
            * (
                cos_sigma * (-1 + 2 * cos_2sm**2)
                - big_b / 6 * cos_2sm * (-3 + 4 * sin_sigma**2) * (-3 + 4 * cos_2sm**2)
            )
        )
    )
    return _B * big_a * (sigma - d_sigma)


def _edge(lat: float, lng: float, dlat: float, dlng: float, cell_id: str) -> tuple[float, float]:
    """Walk from ``(lat, lng)`` along ``(dlat, dlng)`` to the last point still in ``cell_id`` (bisection)."""
    inside, step = 0.0, 1.0
    while cell_for(lat + dlat * step, lng + dlng * step).id == cell_id:
        inside, step = step, step * 2
    outside = step
    for _ in range(60):
        mid = (inside + outside) / 2
        if cell_for(lat + dlat * mid, lng + dlng * mid).id == cell_id:
            inside = mid
        else:
            outside = mid
    return lat + dlat * inside, lng + dlng * inside


def cell_bounds(lat: float, lng: float) -> tuple[float, float, float, float]:
    """``(south, north, west, east)`` of the grid cell containing ``(lat, lng)``, found with ``cell_for`` only."""
    cell = cell_for(lat, lng)
    unit = 1e-5  # ~1 m of latitude
    south = _edge(cell.lat, cell.lng, -unit, 0.0, cell.id)[0]
    north = _edge(cell.lat, cell.lng, unit, 0.0, cell.id)[0]
    west = _edge(cell.lat, cell.lng, 0.0, -unit, cell.id)[1]
    east = _edge(cell.lat, cell.lng, 0.0, unit, cell.id)[1]
    return south, north, west, east


def cell_corners(lat: float, lng: float, inset_m: float = 2.0) -> dict[str, tuple[float, float]]:
    """Points ``inset_m`` metres inside each corner of the cell of ``(lat, lng)``, keyed ``sw``/``se``/``nw``/``ne``."""
    south, north, west, east = cell_bounds(lat, lng)
    dlat = math.degrees(inset_m / EARTH_RADIUS_M)
    dlng = math.degrees(inset_m / (EARTH_RADIUS_M * math.cos(math.radians(lat))))
    corners = {
        "sw": (south + dlat, west + dlng),
        "se": (south + dlat, east - dlng),
        "nw": (north - dlat, west + dlng),
        "ne": (north - dlat, east - dlng),
    }
    cell_id = cell_for(lat, lng).id
    assert all(cell_for(*p).id == cell_id for p in corners.values())
    return corners


def fixed_window_guard(period_s: int, needed_s: float = 5.0) -> None:
    """Sleep into the next fixed rate-limit window when fewer than ``needed_s`` seconds are left in this one."""
    left = period_s - (time.time() % period_s)
    if left < needed_s:
        time.sleep(left + 0.05)
