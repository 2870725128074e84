"""Reads of places: OpenStreetMap points of interest near a point."""

from __future__ import annotations


def place_list_near(geometry, *, radius_m: float, categories: list[str] | None = None, query: str = ""):
    """Places within ``radius_m`` metres of ``geometry`` (a WGS84 GEOS point or line), nearest first (ties by id).

    Distances are on the spheroid (geography ``ST_DWithin``/``ST_Distance``
    on the GiST index). ``categories``: each item is an exact ``key=value``
    (``amenity=cafe``) or a bare key (``shop``: any shop); a place matches any
    item. ``query``: every whitespace-separated word must occur
    (case-insensitively) in the name, the category or the address. Returns a
    lazy queryset of ``Place`` whose items carry ``distance`` (a
    ``Distance``; ``.m`` is metres). Validation is the caller's; nothing here
    raises for well-typed input. Used for a point (``place_list_nearby``) and
    for a walk's recorded route (``walks.selectors.walk_suggestions``).
    """
    from django.contrib.gis.db.models.functions import Distance
    from django.contrib.gis.measure import D
    from django.db.models import Q

    from .models import Place

    qs = Place.objects.filter(location__dwithin=(geometry, D(m=radius_m)))
    if categories:
        match = Q()
        for item in categories:
            match |= Q(category=item) if "=" in item else Q(category__startswith=f"{item}=")
        qs = qs.filter(match)
    for word in query.split():
        qs = qs.filter(Q(name__icontains=word) | Q(category__icontains=word) | Q(address__icontains=word))
    return qs.annotate(distance=Distance("location", geometry)).order_by("distance", "id")


def place_list_nearby(
    *,
    lat: float,
    lng: float,
    radius_m: float,
    categories: list[str] | None = None,
    query: str = "",
):
    """Places within ``radius_m`` metres of (``lat``, ``lng``), WGS84 degrees: see :func:`place_list_near`."""
    from django.contrib.gis.geos import Point

    return place_list_near(Point(lng, lat, srid=4326), radius_m=radius_m, categories=categories, query=query)
