"""Distances on the Earth for code that runs outside PostGIS (fan-out filters, simulators, importers).

The mean Earth radius is the IUGG value (Moritz, "Geodetic Reference System
1980", R1 = 6 371 008.8 m); haversine distances are within 0.5 % of the
WGS84 spheroid distances PostGIS computes for geography.
"""

from __future__ import annotations

import math

#: IUGG mean Earth radius, metres.
EARTH_RADIUS_M = 6_371_008.8


def haversine_m(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    """Great-circle distance in metres between two WGS84 points (degrees)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp = p2 - p1
    dl = math.radians(lng2 - lng1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))
