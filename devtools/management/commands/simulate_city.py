"""``manage.py simulate_city``: N real clients walking the city over real sockets.

Example::

    manage.py simulate_city --users 200 --duration 60 --interval 2 --url http://127.0.0.1:8000

Loads the demo users (``manage.py seed_users``) and their privacy settings
through the ORM, then runs :func:`devtools.simulation.city_run` (pure asyncio,
websockets, httpx), prints a summary table and writes a JSON report to
``bench/results/simulate_city-<UTC timestamp>.json`` (or ``--report``).
Exit code 0; 1 only when no connection could be made at all. All clients
log in from one IP, so the server's ``THROTTLE_LOGIN`` must allow N logins
(``make demo`` raises it for its own server).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from devtools import simulation


class Command(BaseCommand):
    help = "Run N simulated clients that log in, subscribe to the map and walk the streets, and measure them."

    def add_arguments(self, parser):
        parser.add_argument("--users", type=int, default=50, help="number of clients (demo users), default 50")
        parser.add_argument("--duration", type=float, default=60.0, help="walking phase, seconds (default 60)")
        parser.add_argument("--interval", type=float, default=2.0, help="seconds between fixes of a client (2)")
        parser.add_argument("--url", default=None, help="server base URL (default http://127.0.0.1:$PORT)")
        parser.add_argument("--seed", type=int, default=1, help="random seed of speeds and routes (1)")
        parser.add_argument("--radius", type=float, default=500.0, help="map subscription radius, metres (500)")
        parser.add_argument("--report", default=None, help="JSON report path (default bench/results/...)")
        parser.add_argument(
            "--login",
            choices=["http", "mint"],
            default="http",
            help="http: POST /api/auth/login (default); mint: sign access tokens locally (same secret as the server)",
        )
        parser.add_argument("--password", default=None, help="demo users' password (settings.DEMO_USER_PASSWORD)")
        parser.add_argument("--setup-timeout", type=float, default=600.0, help="bound of login+connect, seconds")
        parser.add_argument(
            "--per-event",
            action="store_true",
            help="subscribe without batch: one user:location/user:gone frame per change (default: map:changes)",
        )
        parser.add_argument("--server-pid", type=int, default=None, help="sample this process' CPU and RSS")

    def handle(self, *args, **opts):
        if opts["users"] < 1 or opts["duration"] <= 0 or opts["interval"] <= 0 or opts["radius"] <= 0:
            raise CommandError("--users, --duration, --interval and --radius must be positive.")
        if opts["duration"] > 24 * 3600:
            raise CommandError("--duration is limited to 24 h.")
        import logging
        import os

        logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per login otherwise
        url = opts["url"] or f"http://127.0.0.1:{os.environ.get('PORT', '8000')}"
        personas = simulation.personas_load(opts["users"])
        if not personas:
            raise CommandError("No demo users found: run `manage.py seed_users --count N` first.")
        if len(personas) < opts["users"]:
            self.stderr.write(f"only {len(personas)} demo users exist; simulating those")
        book = simulation.privacy_book_load(personas, opts["radius"])
        network = simulation.walk_network_get(personas)
        tokens = simulation.tokens_mint(personas) if opts["login"] == "mint" else None
        cfg = simulation.CityConfig(
            url=url,
            duration_s=opts["duration"],
            interval_s=opts["interval"],
            radius_m=opts["radius"],
            seed=opts["seed"],
            password=opts["password"] or simulation.demo_password(),
            login=opts["login"],
            batch=not opts["per_event"],
            setup_timeout_s=opts["setup_timeout"],
            server_pid=opts["server_pid"],
        )
        self.stdout.write(
            f"simulating {len(personas)} users for {cfg.duration_s:g} s against {url} "
            f"(network: {network.source}, {len(network.nodes)} nodes)"
        )
        from django.db import connections

        connections.close_all()  # the client loop never touches the ORM
        simulation.run_policy_install()
        result = asyncio.run(simulation.city_run(cfg, personas, book, network, tokens))
        report = result.as_dict()
        path = Path(opts["report"]) if opts["report"] else simulation.report_path_default(Path(settings.BASE_DIR))
        simulation.report_write(report, path)
        self.stdout.write(simulation.summary_table(report))
        self.stdout.write(f"report: {path}")
        if report["connections"]["made"] == 0:
            raise CommandError("no connection could be made")
