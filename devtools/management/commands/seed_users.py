"""``manage.py seed_users --count N [--seed S] [--osm PATH]``: demo users standing on real streets."""

from __future__ import annotations

import time

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from devtools.demo import MAX_DEMO_USERS, demo_users_seed
from places.osm import OsmImportError


class Command(BaseCommand):
    """Create or refresh demo users ``demo1..demoN`` (password ``settings.DEMO_USER_PASSWORD``).

    Deterministic for a seed and idempotent: existing demo users are reused
    and only get a fresh fix at their seeded spot on the walking network.
    """

    help = "Seed demo users (deterministic for --seed) placed on the OpenStreetMap walking network."

    def add_arguments(self, parser):
        parser.add_argument("--count", type=int, default=200, help="how many demo users (default 200)")
        parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
        parser.add_argument("--osm", dest="path", help="the .osm.pbf whose streets to use (default: Helsinki)")
        parser.add_argument("--no-progress", action="store_true", help="do not show the progress bar")

    def handle(self, *args, count=200, seed=0, path=None, no_progress=False, verbosity=1, **options):
        """Seed, print the counts; ``CommandError`` for a bad count or an unreadable OSM file."""
        if not 0 <= count <= MAX_DEMO_USERS:
            raise CommandError(f"--count must be in 0..{MAX_DEMO_USERS}")
        bar = None

        def progress(done: int, total: int) -> None:
            nonlocal bar
            if verbosity < 1 or no_progress:
                return
            if bar is None:
                bar = tqdm(total=total, desc="placing demo users", unit=" users", file=self.stderr._out)
            bar.update(done - bar.n)

        started = time.monotonic()
        try:
            result = demo_users_seed(count, seed, path=path, progress=progress)
        except OsmImportError as exc:
            raise CommandError(str(exc))
        finally:
            if bar is not None:
                bar.close()
        self.stdout.write(
            self.style.SUCCESS(
                f"demo users: created {result['created']}, reused {result['reused']}, skipped {result['skipped']};"
                f" fixes {result['fixes']}, blocks {result['blocks']} ({time.monotonic() - started:.1f} s)"
            )
        )
