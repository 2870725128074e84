#!/usr/bin/env python
"""Rendezvous benchmark harness (``make bench`` -> ``scripts/bench.sh`` -> this file).

Scenarios (issue 3, "The benchmark harness"), each against a real uvicorn
process on loopback, with production settings (``DJANGO_DEBUG=false``)
and the default throttles:

radius
    ``GET /api/map_nodes`` at 500 m and 2 km, dense (Helsinki) and sparse
    (Finland), over a dedicated database seeded by COPY with 1 000 000 users
    with fresh fixes; sequential and concurrent HTTP clients; and, in the
    same run, the raw PostGIS query the selector sends, so the report gives
    API / raw.
ingest
    ``location:update`` over sockets (open loop, one fix per second per
    socket) and ``POST /api/location`` over HTTP (closed loop): fixes per
    second and acknowledgement latency.
fanout
    The simulated city (``devtools.simulation``) at 1 000 and 2 000 sockets, one
    fix every 2 s each: delivery latency, deliveries per second, errors,
    privacy violations, server CPU and RSS (psutil on the uvicorn pid).
idle
    5 000 authenticated idle sockets held for 60 s: server RSS per socket
    and CPU.
scaling
    Socket ingest and the 1 000-socket city with ``uvicorn --workers`` 1 and
    2 (CPU summed over the worker processes), and where one fix's CPU goes
    (a ``py-spy --gil`` profile of the one-worker ingest run, by step).
rest
    ``wrk`` (C, not a Python client) with 1 and 2 worker processes on the
    radius population: ``GET /health`` and ``POST /api/location`` with 32
    connections, ``GET /api/map_nodes`` dense at 500 m (8 connections and 1)
    and 2 km (8): the REST rows of issue 8's table.

The load generator runs on the same 2-core machine as the server,
PostgreSQL and Redis; every report says so. ``--quick`` runs every scenario
at small sizes in about two minutes (for development; results go to
``bench/results/quick/``, which git ignores, and ``bench/README.md`` is left
alone). Every loop is bounded in time and count, every address is loopback.

Usage::

    bench/run.py [--quick] [--only radius,rest,ingest,fanout,idle,scaling] [--profile] [--reseed]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import math
import os
import platform
import random
import re
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
sys.path.insert(0, str(ROOT))

HELSINKI = (60.1699, 24.9384)
#: Finland, roughly (lat_min, lat_max, lng_min, lng_max), degrees.
FINLAND = (60.3, 68.5, 22.0, 29.5)
DENSE_SIGMA_M = 5000.0
BENCH_PASSWORD = "bench-password-rendezvous"
SEED_VERSION = "5"

FULL = {
    "radius_users": 1_000_000,
    "radius_dense_share": 0.5,
    "radius_viewers": 100,
    "radius_seq": 200,
    "radius_conc_s": 15.0,
    "radius_concurrency": 8,
    "city_users": 5_000,
    "ingest_sockets": 2_200,
    "ingest_s": 30.0,
    "ingest_http_s": 20.0,
    "ingest_http_concurrency": 32,
    "fanout_sizes": [1_000, 2_000],
    "fanout_s": 60.0,
    "idle_sockets": 5_000,
    "idle_held": 10_000,
    "idle_s": 60.0,
    "scaling_workers": [1, 2],
    "scaling_city": 1_000,
    "scaling_s": 30.0,
    "rest_s": 10.0,
    "rest_fix_users": 2_000,
}
QUICK = {
    "radius_users": 20_000,
    "radius_dense_share": 0.5,
    "radius_viewers": 20,
    "radius_seq": 30,
    "radius_conc_s": 3.0,
    "radius_concurrency": 4,
    "city_users": 500,
    "ingest_sockets": 100,
    "ingest_s": 5.0,
    "ingest_http_s": 3.0,
    "ingest_http_concurrency": 8,
    "fanout_sizes": [100],
    "fanout_s": 10.0,
    "idle_sockets": 300,
    "idle_held": 600,
    "idle_s": 10.0,
    "scaling_workers": [1, 2],
    "scaling_city": 100,
    "scaling_s": 8.0,
    "rest_s": 3.0,
    "rest_fix_users": 200,
}

TARGETS = {
    "city_ack_p99_ms": 100,
    "city_delivery_p50_ms": 30,
    "city_delivery_p99_ms": 250,
    "ingest_fixes_per_s": 1000,
    "ingest_ack_p99_ms": 100,
    "radius_dense_500_api_p95_ms": 20,
    "radius_api_raw_ratio": 3,
    "idle_kib_per_socket": 100,
}


# =========================================================================== helpers


def log(msg: str) -> None:
    """Print a progress line (flushed) to stderr."""
    print(f"[bench {datetime.now():%H:%M:%S}] {msg}", file=sys.stderr, flush=True)


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def db_url_with_name(url: str, name: str) -> str:
    """``url`` (``postgis://u:p@h:port/db``) with the database name replaced."""
    base, _, _ = url.rpartition("/")
    return f"{base}/{name}"


def conninfo(url: str) -> str:
    """A libpq URL for psycopg from a ``postgis://`` Django URL."""
    return re.sub(r"^postgis://|^postgres(ql)?://", "postgresql://", url)


def pct(values_s: list[float]) -> dict:
    """Latency percentiles in ms (see ``devtools.simulation.percentiles_ms``)."""
    from devtools.simulation import percentiles_ms

    return percentiles_ms(values_s)


def machine_info() -> dict:
    """Cores, memory, CPU model, OS, Python, PostgreSQL/PostGIS and Redis versions, git commit."""
    import psutil

    cpu_model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break

    def git(*args):
        try:
            return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=10).stdout.strip()  # noqa: S603, S607
        except (OSError, subprocess.SubprocessError):
            return ""

    return {
        "cores": os.cpu_count(),
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "cpu_model": cpu_model,
        "os": platform.platform(),
        "python": platform.python_version(),
        "commit": git("rev-parse", "HEAD"),
        "dirty_tree": bool(git("status", "--porcelain", "--untracked-files=no")),
        "note": "load generator, server, PostgreSQL and Redis share this machine",
    }


# =========================================================================== databases


def database_ensure(url: str) -> None:
    """Create the database of ``url`` with PostGIS if missing, then ``manage.py migrate`` it."""
    import psycopg

    name = url.rsplit("/", 1)[1]
    with psycopg.connect(conninfo(db_url_with_name(url, "postgres")), autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            log(f"creating database {name}")
            conn.execute(f'CREATE DATABASE "{name}"')
    with psycopg.connect(conninfo(url), autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    log(f"migrating {name}")
    subprocess.run(  # noqa: S603
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": url},
        check=True,
        timeout=900,
    )


def _meta_get(cur, key: str) -> str | None:
    cur.execute("CREATE TABLE IF NOT EXISTS bench_meta (key text PRIMARY KEY, value text NOT NULL)")
    row = cur.execute("SELECT value FROM bench_meta WHERE key = %s", [key]).fetchone()
    return row[0] if row else None


def _meta_set(cur, key: str, value: str) -> None:
    cur.execute(
        "INSERT INTO bench_meta VALUES (%s, %s) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value", [key, value]
    )


def _columns(cur, table: str) -> list[tuple[str, str, bool, bool]]:
    """``(name, data_type, nullable, has_default)`` of ``table`` in column order."""
    rows = cur.execute(
        "SELECT column_name, data_type, is_nullable = 'YES', column_default IS NOT NULL"
        " FROM information_schema.columns WHERE table_name = %s ORDER BY ordinal_position",
        [table],
    ).fetchall()
    return [tuple(r) for r in rows]


_FILLER = {"boolean": "f", "integer": "0", "smallint": "0", "bigint": "0", "double precision": "0", "jsonb": "{}"}


def _model_default(table: str, column: str):
    """The Django model field default of ``table.column`` as COPY text, or ``None`` when it has none."""
    from django.apps import apps

    for model in apps.get_models():
        if model._meta.db_table != table:
            continue
        for f in model._meta.concrete_fields:
            if f.column == column and f.has_default():
                value = f.get_default()
                if isinstance(value, bool):
                    return "t" if value else "f"
                if isinstance(value, (dict, list)):
                    return json.dumps(value)
                return str(value)
    return None


def _copy_plan(cur, table: str, known: list[str]) -> tuple[list[str], list[str]]:
    """Columns to COPY: ``known`` plus any NOT NULL column without default another app added.

    Such a column gets its model field's default (``visibility`` = ``everyone``:
    a filler of ``""`` there hid every seeded user from every viewer), else a
    type-based filler.
    """
    extra_cols, extra_vals = [], []
    for name, dtype, nullable, has_default in _columns(cur, table):
        if name in known or nullable or has_default:
            continue
        extra_cols.append(name)
        default = _model_default(table, name)
        if default is not None:
            extra_vals.append(default)
        elif dtype.startswith("timestamp"):
            extra_vals.append(datetime.now(UTC).isoformat())
        elif dtype == "ARRAY":
            extra_vals.append("{}")
        else:
            extra_vals.append(_FILLER.get(dtype, ""))
    return known + extra_cols, extra_vals


def _secondary_indexes(cur, tables: list[str]) -> list[tuple[str, str]]:
    """``(name, definition)`` of indexes on ``tables`` that back no constraint (safe to drop and rebuild)."""
    return cur.execute(
        """
        SELECT i.relname, pg_get_indexdef(i.oid)
        FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid
        WHERE t.relname = ANY(%s) AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.oid)
        """,
        [tables],
    ).fetchall()


def population_seed(url: str, *, n_users: int, dense_share: float, n_viewers: int, city: bool, seed: int = 42) -> dict:
    """Fill the database of ``url`` by COPY: ``n_users`` users with fresh fixes, plus ``n_viewers`` viewers.

    ``city=False`` (radius): ``dense_share`` of the users in a Gaussian
    (sigma 5 km) around Helsinki, the rest uniform over Finland, all sharing
    and fresh (85 % without role restriction). ``city=True``: users on the
    walking network of ``devtools.simulation.walk_network_get`` with the demo mix
    of privacy settings (sharing, ``visible_roles``, ``show_roles``, blocks)
    and the bench password. Skips the work when the database already holds
    this exact population. Returns timings (seconds) and counts.
    """
    import psycopg
    from django.contrib.auth.hashers import make_password

    from geo.grid import cell_for

    tag = f"v{SEED_VERSION}:{'city' if city else 'radius'}:{n_users}:{dense_share}:{n_viewers}:{seed}"
    with psycopg.connect(conninfo(url)) as conn, conn.cursor() as cur:
        if _meta_get(cur, "population") == tag:
            conn.commit()
            log(f"population {tag} already seeded")
            return {"seeded": False, "tag": tag}
    log(f"seeding {tag} by COPY")
    rng = random.Random(seed)
    t0 = time.monotonic()
    now = datetime.now(UTC).isoformat()
    roles_all = ["walker", "driver", "rider", "runner", "cyclist", "explorer"]
    network = None
    if city:
        from devtools.simulation import walk_network_get

        network = walk_network_get([])
        nodes = network._walkable
    pw_hash = make_password(BENCH_PASSWORD)
    grid = 100.0
    try:
        from django.conf import settings

        grid = float(settings.MAP_GRID_M)
    except Exception:  # noqa: S110
        pass

    def pg_array(items) -> str:
        return "{" + ",".join(items) + "}"

    user_cols = [
        "id", "password", "is_superuser", "email", "username", "full_name", "bio", "profile_photo", "gender",
        "roles", "vehicle_type", "is_active", "is_staff", "created_at", "updated_at",
    ]  # fmt: skip
    settings_cols = [
        "user_id", "location_sharing", "visible_roles", "filters", "search_radius_m", "preferred_pace",
        "gender_preference", "keep_location_history", "updated_at",
    ]  # fmt: skip
    fix_cols = [
        "user_id", "location", "accuracy_m", "recorded_at", "received_at", "cell", "public_cell",
        "public_location", "public_at",
    ]  # fmt: skip
    ids: list[str] = []
    with psycopg.connect(conninfo(url)) as conn, conn.cursor() as cur:
        cur.execute("SET synchronous_commit = off")
        cur.execute(
            "TRUNCATE geo_locationhistory, geo_locationfix, accounts_usersettings, accounts_block,"
            " token_blacklist_blacklistedtoken, token_blacklist_outstandingtoken, accounts_user CASCADE"
        )
        indexes = _secondary_indexes(cur, ["accounts_user", "geo_locationfix", "accounts_usersettings"])
        for name, _ in indexes:
            cur.execute(f'DROP INDEX "{name}"')
        ucols, uextra = _copy_plan(cur, "accounts_user", user_cols)
        scols, sextra = _copy_plan(cur, "accounts_usersettings", settings_cols)
        fcols, fextra = _copy_plan(cur, "geo_locationfix", fix_cols)
        total = n_users + n_viewers
        users_buf, settings_buf, fixes_buf = [], [], []

        def flush():
            for table, cols, buf in (
                ("accounts_user", ucols, users_buf),
                ("accounts_usersettings", scols, settings_buf),
                ("geo_locationfix", fcols, fixes_buf),
            ):
                if buf:
                    with cur.copy(f"COPY {table} ({', '.join(cols)}) FROM STDIN") as copy:
                        copy.write("".join(buf))
                    buf.clear()

        for i in range(total):
            uid = str(uuid.UUID(int=rng.getrandbits(128), version=4))
            ids.append(uid)
            viewer = i >= n_users
            kind = "viewer" if viewer else ("city" if city else "b")
            n_roles = rng.choice((0, 1, 1, 2))
            roles = [] if viewer else rng.sample(roles_all, n_roles)
            password = pw_hash if (city or viewer) else "!"
            users_buf.append(
                "\t".join(
                    [
                        uid, password, "f", f"{kind}{i}@bench.rendezvous.test", f"{kind}{i}", f"Bench {kind} {i}",
                        "", "", "", pg_array(roles), "", "t", "f", now, now, *uextra,
                    ]
                )
                + "\n"
            )  # fmt: skip
            r = rng.random()
            if viewer:
                sharing, visible, show = False, [], []
            elif city:
                sharing = r < 0.85
                visible = [rng.choice(roles_all)] if rng.random() < 0.10 else []
                show = [rng.choice(roles_all)] if rng.random() < 0.05 else []
            else:
                sharing, show = True, []
                visible = [rng.choice(roles_all)] if r < 0.15 else []
            settings_buf.append(
                "\t".join(
                    [
                        uid, "t" if sharing else "f", pg_array(visible), json.dumps({"show_roles": show}), "1000",
                        "", "any", "f", now, *sextra,
                    ]
                )
                + "\n"
            )  # fmt: skip
            if not viewer:
                if city:
                    lat, lng = network.nodes[rng.choice(nodes)]
                elif i < n_users * dense_share:
                    # 2-D Gaussian: N / (2 pi sigma^2) ~ 3 200 users per km2 at the centre for 500 000 users
                    lat = HELSINKI[0] + rng.gauss(0, DENSE_SIGMA_M) / 111_195.0
                    lng = HELSINKI[1] + rng.gauss(0, DENSE_SIGMA_M) / (111_195.0 * math.cos(math.radians(HELSINKI[0])))
                else:
                    lat, lng = rng.uniform(FINLAND[0], FINLAND[1]), rng.uniform(FINLAND[2], FINLAND[3])
                cell = cell_for(lat, lng, grid)
                fixes_buf.append(
                    f"{uid}\tSRID=4326;POINT({lng:.7f} {lat:.7f})\t10\t{now}\t{now}\t{cell.id}\t{cell.id}\t"
                    f"SRID=4326;POINT({cell.lng!r} {cell.lat!r})\t{now}" + "".join(f"\t{v}" for v in fextra) + "\n"
                )
            if len(users_buf) >= 50_000:
                flush()
                log(f"  {i + 1:,}/{total:,} rows ({time.monotonic() - t0:.0f} s)")
        flush()
        if city:  # a few blocks, as the demo has
            pairs = {tuple(rng.sample(range(n_users), 2)) for _ in range(max(1, n_users // 100))}
            with cur.copy("COPY accounts_block (blocker_id, blocked_id, created_at) FROM STDIN") as copy:
                copy.write("".join(f"{ids[a]}\t{ids[b]}\t{now}\n" for a, b in pairs))
        cur.execute("SET CONSTRAINTS ALL IMMEDIATE")  # check the deferred foreign keys now, before the indexes
        t_copy = time.monotonic() - t0
        log(f"  COPY done in {t_copy:.0f} s; rebuilding {len(indexes)} indexes")
        cur.execute("SET maintenance_work_mem = '512MB'")
        for _, definition in indexes:
            cur.execute(definition)
        _meta_set(cur, "population", tag)
        _meta_set(cur, "fixes_at", now)
        conn.commit()
    with psycopg.connect(conninfo(url), autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE accounts_user, accounts_usersettings, geo_locationfix")
    elapsed = time.monotonic() - t0
    log(f"seeded {total:,} users in {elapsed:.0f} s")
    return {"seeded": True, "tag": tag, "users": total, "copy_s": round(t_copy, 1), "total_s": round(elapsed, 1)}


def fixes_refresh(url: str, max_age_s: float) -> dict:
    """Make every fix fresh again (``recorded_at = now()``) when the oldest is older than ``max_age_s`` s."""
    import psycopg

    with psycopg.connect(conninfo(url), autocommit=True) as conn:
        age = conn.execute("SELECT extract(epoch FROM now() - min(recorded_at)) FROM geo_locationfix").fetchone()[0]
        if age is None or float(age) < max_age_s:
            return {"refreshed": False, "oldest_fix_age_s": None if age is None else round(float(age), 1)}
        log(f"refreshing fixes (oldest {float(age):.0f} s old)")
        t0 = time.monotonic()
        conn.execute("UPDATE geo_locationfix SET recorded_at = now(), received_at = now(), public_at = now()")
        conn.execute("VACUUM ANALYZE geo_locationfix")
        return {"refreshed": True, "refresh_s": round(time.monotonic() - t0, 1)}


# =========================================================================== the server


class BenchServer:
    """One ``uvicorn config.asgi:application`` (the ticker on) on loopback for a scenario."""

    def __init__(self, env: dict, name: str, workers: int = 1):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        # Kept for every run (git ignores them): a run's warnings are how a failure is explained.
        self.log_path = RESULTS / ("quick" if env.get("BENCH_QUICK") else "logs") / f"server-{name}.log"
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self.log_file = open(self.log_path, "w")  # noqa: SIM115
        self.proc = subprocess.Popen(  # noqa: S603
            [
                sys.executable, "-m", "uvicorn", env.get("BENCH_APP", "config.asgi:application"), "--host", "127.0.0.1",
                "--port", str(self.port), "--lifespan", "on", "--ws-max-size", "1048576",
                "--ws-per-message-deflate", "false", "--log-level", "warning",
                *(["--workers", str(workers)] if workers > 1 else []),
                *(["--ws", env["BENCH_WS"]] if env.get("BENCH_WS") else []),
            ],
            cwd=ROOT,
            env=env,
            stdout=self.log_file,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        self.pid = self.proc.pid

    def wait_ready(self, timeout_s: float = 60.0) -> None:
        """Wait until ``/health/db`` answers 200 (at most ``timeout_s`` seconds)."""
        import httpx

        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"bench server exited with {self.proc.returncode}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.url}/health/db", timeout=2).status_code == 200:
                    return
            time.sleep(0.2)
        raise TimeoutError("bench server not ready")

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after 15 s; only this process."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        self.log_file.close()


class Sampler:
    """CPU (% of one core) and RSS (bytes) of a process and its children, sampled every ``period_s`` s in a thread.

    With ``uvicorn --workers N`` the pid is the supervisor and the work is
    in its children: their CPU and RSS are summed.
    """

    def __init__(self, pid: int, period_s: float = 1.0):
        import threading

        import psutil

        self._psutil = psutil
        self.proc = psutil.Process(pid)
        self.period_s = period_s
        self.samples: list[tuple[float, float, int]] = []
        self._known: dict[int, object] = {}
        self._stop = threading.Event()
        self._tree()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _tree(self) -> list:
        procs = [self.proc, *self.proc.children(recursive=True)]
        for p in procs:
            if p.pid not in self._known:
                p.cpu_percent(None)  # prime: the first call of a process returns 0
                self._known[p.pid] = p
        return [self._known[p.pid] for p in procs]

    def _run(self):
        while not self._stop.wait(self.period_s):
            try:
                cpu = rss = 0
                for p in self._tree():
                    try:
                        cpu += p.cpu_percent(None)
                        rss += p.memory_info().rss
                    except self._psutil.Error:
                        continue
                self.samples.append((time.monotonic(), cpu, rss))
            except Exception:
                return

    def stop(self) -> dict:
        """Stop sampling; ``{cpu_pct_mean, cpu_pct_max, rss_mib_max, rss_mib_end}``."""
        self._stop.set()
        self._thread.join(timeout=5)
        if not self.samples:
            return {}
        cpu = [s[1] for s in self.samples]
        rss = [s[2] for s in self.samples]
        return {
            "cpu_pct_mean": round(sum(cpu) / len(cpu), 1),
            "cpu_pct_max": round(max(cpu), 1),
            "rss_mib_max": round(max(rss) / 2**20, 1),
            "rss_mib_end": round(rss[-1] / 2**20, 1),
        }


def rss_bytes(pid: int) -> int:
    """Resident memory of ``pid`` in bytes."""
    import psutil

    return psutil.Process(pid).memory_info().rss


class Profiler:
    """``py-spy record`` on a pid for ``duration_s`` s; :meth:`top` gives self-time per function."""

    def __init__(self, pid: int, duration_s: float, name: str):
        self.path = RESULTS / "quick" / f"profile-{name}.txt"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        exe = Path(sys.executable).parent / "py-spy"
        self.proc = None
        if exe.exists():
            self.proc = subprocess.Popen(  # noqa: S603
                [str(exe), "record", "--pid", str(pid), "--duration", str(int(duration_s)), "--rate", "50",
                 "--format", "raw", "--output", str(self.path), "--nonblocking"],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )  # fmt: skip

    def top(self, n: int = 15) -> dict:
        """Wait for py-spy; ``{"samples", "self": [[function, %], ...], "inclusive": [...]}``."""
        if self.proc is None:
            return {"error": "py-spy not installed"}
        try:
            self.proc.wait(timeout=300)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        if not self.path.exists():
            return {"error": "no profile written"}
        own, incl, total = {}, {}, 0
        for line in self.path.read_text().splitlines():
            stack, _, count = line.rpartition(" ")
            if not stack or not count.isdigit():
                continue
            c = int(count)
            total += c
            frames = [re.sub(r" \(.*?/(site-packages|main)/", " (", f) for f in stack.split(";")]
            own[frames[-1]] = own.get(frames[-1], 0) + c
            for f in set(frames):
                incl[f] = incl.get(f, 0) + c
        if not total:
            return {"samples": 0}

        def ranked(d):
            return [[k[:160], round(100.0 * v / total, 1)] for k, v in sorted(d.items(), key=lambda kv: -kv[1])[:n]]

        return {"samples": total, "self": ranked(own), "inclusive": ranked(incl), "raw": str(self.path)}


def server_env(db_url: str, quick: bool) -> dict:
    """Environment of the bench server and of this worker (same secret, database and Redis prefix)."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": db_url,
        "DJANGO_DEBUG": "false",
        "SECURE_SSL_REDIRECT": "false",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "REDIS_KEY_PREFIX": "rdvbench",
        "MAP_TICKER_ENABLED": "true",
        "LOG_LEVEL": "WARNING",
        "PYTHONUNBUFFERED": "1",
    }
    if quick:
        env["BENCH_QUICK"] = "1"
    return env


def redis_wipe() -> None:
    """Delete the bench keys (``rdvbench:*``) so that presence and map state start empty."""
    from core.redis import get_redis

    r = get_redis()
    keys = list(r.scan_iter("rdvbench:*", count=1000))
    for i in range(0, len(keys), 1000):
        r.delete(*keys[i : i + 1000])


def tokens_for(emails_like: str, limit: int) -> list[tuple[str, str]]:
    """``[(user_id, access token)]`` for up to ``limit`` users whose email starts with ``emails_like``."""
    from rest_framework_simplejwt.tokens import AccessToken

    from accounts.models import User

    users = User.objects.filter(email__startswith=emails_like).order_by("email")[:limit]
    return [(str(u.pk), str(AccessToken.for_user(u))) for u in users]


# =========================================================================== scenario: radius


RAW_SENTINEL = {"lat": 61.1234567891, "lng": 25.9876543219, "radius": 1234.56789}


def raw_sql_template() -> str:
    """The SQL ``GET /api/map_nodes`` sends (``map_nodes_json``) for a bench viewer, sentinel centre and radius."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from geo.selectors import ViewerContext, map_nodes_json

    viewer = ViewerContext(uuid.uuid4(), frozenset(), frozenset(), frozenset())
    with CaptureQueriesContext(connection) as ctx:
        map_nodes_json(viewer, lat=RAW_SENTINEL["lat"], lng=RAW_SENTINEL["lng"], radius_m=RAW_SENTINEL["radius"])
    sql = next(q["sql"] for q in ctx.captured_queries if "geo_locationfix" in q["sql"])
    for k, v in RAW_SENTINEL.items():
        if repr(v) not in sql:
            raise RuntimeError(f"could not find the {k} sentinel in the captured SQL")
    return sql


def raw_sql_for(template: str, lat: float, lng: float, radius: float) -> str:
    """The captured SQL with the sentinel centre and radius replaced by ``lat``, ``lng`` (deg), ``radius`` (m)."""
    return (
        template.replace(repr(RAW_SENTINEL["lat"]), repr(float(lat)))
        .replace(repr(RAW_SENTINEL["lng"]), repr(float(lng)))
        .replace(repr(RAW_SENTINEL["radius"]), repr(float(radius)))
    )


def _raw_fetch(conn, sql: str) -> list:
    """Rows of the captured map nodes SQL (several statements in one string: the rows set is the one with rows)."""
    cur = conn.execute(sql)
    while cur.description is None and cur.nextset():
        pass
    return cur.fetchall()


def query_points(kind: str, n: int, rng: random.Random) -> list[tuple[float, float]]:
    """``n`` query centres: ``dense`` within 2 km of central Helsinki, ``sparse`` uniform over Finland."""
    pts = []
    for _ in range(n):
        if kind == "dense":
            d, a = 2000.0 * math.sqrt(rng.random()), rng.uniform(0, 2 * math.pi)
            pts.append(
                (
                    HELSINKI[0] + d * math.cos(a) / 111_195.0,
                    HELSINKI[1] + d * math.sin(a) / (111_195.0 * math.cos(math.radians(HELSINKI[0]))),
                )
            )
        else:
            pts.append((rng.uniform(FINLAND[0] + 0.5, FINLAND[1]), rng.uniform(FINLAND[2], FINLAND[3])))
    return pts


async def _api_sequential(url, tokens, points, radius) -> tuple[list[float], dict, list[int]]:
    import httpx

    lat_s, statuses, counts = [], {}, []
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        for i, (lat, lng) in enumerate(points):
            headers = {"Authorization": f"Bearer {tokens[i % len(tokens)][1]}"}
            t0 = time.perf_counter()
            r = await http.get("/api/map_nodes", params={"lat": lat, "lng": lng, "radius": radius}, headers=headers)
            lat_s.append(time.perf_counter() - t0)
            statuses[r.status_code] = statuses.get(r.status_code, 0) + 1
            if r.status_code == 200:
                counts.append(r.json()["count"] if "count" in r.json() else len(r.json().get("results", [])))
    return lat_s, statuses, counts


async def _api_concurrent(url, tokens, points, radius, concurrency, duration_s) -> dict:
    import httpx

    lat_s, statuses = [], {}
    stop_at = time.monotonic() + duration_s
    counter = iter(range(10**9))

    async def worker(http):
        while time.monotonic() < stop_at:
            i = next(counter)
            lat, lng = points[i % len(points)]
            headers = {"Authorization": f"Bearer {tokens[i % len(tokens)][1]}"}
            t0 = time.perf_counter()
            try:
                r = await http.get("/api/map_nodes", params={"lat": lat, "lng": lng, "radius": radius}, headers=headers)
                code = r.status_code
            except httpx.HTTPError as exc:
                code = type(exc).__name__
            lat_s.append(time.perf_counter() - t0)
            statuses[code] = statuses.get(code, 0) + 1

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    t0 = time.monotonic()
    async with httpx.AsyncClient(base_url=url, timeout=30, limits=limits) as http:
        await asyncio.gather(*(worker(http) for _ in range(concurrency)))
    elapsed = time.monotonic() - t0
    return {
        "concurrency": concurrency,
        "duration_s": round(elapsed, 1),
        "requests": len(lat_s),
        "req_per_s": round(len(lat_s) / elapsed, 1),
        "status": {str(k): v for k, v in statuses.items()},
        "latency_ms": pct(lat_s),
    }


def _radius_population(db_url: str, cfg: dict) -> dict:
    """The radius population (1M users, or 20 000 with ``--quick``), seeded once and reused."""
    return population_seed(
        db_url,
        n_users=cfg["radius_users"],
        dense_share=cfg["radius_dense_share"],
        n_viewers=cfg["radius_viewers"],
        city=False,
    )


def scenario_radius(cfg: dict, args) -> dict:
    """Radius queries over the seeded population: API (sequential, concurrent) and raw PostGIS."""
    import psycopg
    from django.conf import settings

    db_url = os.environ["DATABASE_URL"]
    seed_info = _radius_population(db_url, cfg)
    # the four cases take about two minutes: fixes at most TTL - 180 s old stay fresh throughout
    refresh = fixes_refresh(db_url, max_age_s=max(0.0, settings.LOCATION_TTL_S - 180))
    redis_wipe()
    tokens = tokens_for("viewer", cfg["radius_viewers"])
    template = raw_sql_template()
    server = BenchServer(server_env(db_url, args.quick), "radius")
    results = {"population": seed_info, "fix_refresh": refresh, "cases": []}
    try:
        server.wait_ready()
        sampler = Sampler(server.pid)
        rng = random.Random(7)
        with psycopg.connect(conninfo(db_url), autocommit=True, cursor_factory=psycopg.ClientCursor) as raw_conn:
            for kind in ("dense", "sparse"):
                for radius in (500, 2000):
                    points = query_points(kind, cfg["radius_seq"], rng)
                    # warm both paths on other points, then measure
                    for lat, lng in query_points(kind, 5, rng):
                        _raw_fetch(raw_conn, raw_sql_for(template, lat, lng, radius))
                    asyncio.run(_api_sequential(server.url, tokens, query_points(kind, 5, rng), radius))
                    raw_s, rows = [], []
                    for lat, lng in points:
                        t0 = time.perf_counter()
                        fetched = _raw_fetch(raw_conn, raw_sql_for(template, lat, lng, radius))
                        raw_s.append(time.perf_counter() - t0)
                        rows.append(len(fetched))
                    api_s, statuses, counts = asyncio.run(_api_sequential(server.url, tokens, points, radius))
                    profiled = args.profile and kind == "dense" and radius == 500
                    prof = Profiler(server.pid, cfg["radius_conc_s"], "radius-dense-500") if profiled else None
                    conc = asyncio.run(
                        _api_concurrent(
                            server.url, tokens, points, radius, cfg["radius_concurrency"], cfg["radius_conc_s"]
                        )
                    )
                    raw_p, api_p = pct(raw_s), pct(api_s)
                    case = {
                        "area": kind,
                        "radius_m": radius,
                        "results_mean": round(sum(rows) / max(1, len(rows)), 1),
                        "raw_ms": raw_p,
                        "api_sequential_ms": api_p,
                        "api_sequential_status": {str(k): v for k, v in statuses.items()},
                        "api_concurrent": conc,
                        "ratio_api_raw_p50": round(api_p["p50"] / raw_p["p50"], 2) if raw_p["p50"] else None,
                        "ratio_api_raw_p95": round(api_p["p95"] / raw_p["p95"], 2) if raw_p["p95"] else None,
                    }
                    if prof:
                        case["profile"] = prof.top()
                    log(
                        f"  radius {kind} {radius} m: raw p50 {raw_p['p50']} ms, api p50 {api_p['p50']} p95 "
                        f"{api_p['p95']} ms, conc {conc['req_per_s']} req/s p95 {conc['latency_ms']['p95']} ms"
                    )
                    results["cases"].append(case)
        results["server"] = sampler.stop()
    finally:
        server.stop()
    return results


# =========================================================================== scenario: ingest


async def _ingest_sockets(url: str, tokens, duration_s: float, base_points) -> dict:
    import websockets

    ws_url = url.replace("http://", "ws://") + "/ws/"
    ack_s, statuses, errors = [], {}, {}
    sent = [0]
    dropped = [0]
    conns = []
    sem = asyncio.Semaphore(100)

    async def open_one(token):
        async with sem:
            try:
                return await websockets.connect(f"{ws_url}?token={token}", open_timeout=60, ping_interval=None)
            except Exception:
                return None

    conns = await asyncio.gather(*(open_one(t) for _, t in tokens))
    failed = sum(1 for c in conns if c is None)
    t_start = time.monotonic()
    stop_at = t_start + duration_s

    async def one(ws, i):
        pending = {}
        base_lat, base_lng = base_points[i % len(base_points)]
        rng = random.Random(i)

        async def reader():
            try:
                async for raw in ws:
                    now = time.perf_counter()
                    frame = json.loads(raw)
                    fid = frame.get("id")
                    if fid in pending:
                        t0 = pending.pop(fid)
                        if frame["event"] == "ack":
                            ack_s.append(now - t0)
                            st = frame["data"].get("status")
                            statuses[st] = statuses.get(st, 0) + 1
                        else:
                            code = frame["data"].get("code")
                            errors[code] = errors.get(code, 0) + 1
            except Exception:
                if time.monotonic() < stop_at:
                    dropped[0] += 1

        task = asyncio.ensure_future(reader())
        await asyncio.sleep(rng.uniform(0, 1.0))
        t_first = time.monotonic()
        last_ms = 0
        n = 0
        while time.monotonic() < stop_at and n < 100_000:
            n += 1
            ts = max(int(time.time() * 1000), last_ms + 1000)  # 1 s apart: stored, not coalesced
            last_ms = ts
            fid = f"i{n}"
            pending[fid] = time.perf_counter()
            data = {"lat": base_lat + rng.uniform(-0.002, 0.002), "lng": base_lng + rng.uniform(-0.004, 0.004)}
            data["timestamp"] = ts
            try:
                await ws.send(json.dumps({"event": "location:update", "id": fid, "data": data}))
                sent[0] += 1
            except Exception:
                break
            await asyncio.sleep(max(0.0, t_first + n * 1.0 - time.monotonic()))  # open loop: 1 fix/s
        deadline = time.monotonic() + 5
        while pending and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        await ws.close()
        task.cancel()
        with contextlib.suppress(BaseException):
            await task
        return len(pending)

    live = [(ws, i) for i, ws in enumerate(conns) if ws is not None]
    # The load generator's own delay: how late a 100 ms sleep wakes up (it adds to every ack time).
    lag_s: list[float] = []

    async def lag_probe():
        while time.monotonic() < stop_at:
            t0 = time.perf_counter()
            await asyncio.sleep(0.1)
            lag_s.append(max(0.0, time.perf_counter() - t0 - 0.1))

    probe = asyncio.ensure_future(lag_probe())
    cpu0 = time.process_time()
    gc.collect()
    gc.freeze()
    gc.disable()  # no collector pauses in the load generator while it measures (bounded run)
    try:
        unanswered = await asyncio.gather(*(one(ws, i) for ws, i in live))
    finally:
        gc.enable()
        gc.unfreeze()
    client_cpu_pct = round(100 * (time.process_time() - cpu0) / max(1e-9, time.monotonic() - t_start), 1)
    probe.cancel()
    with contextlib.suppress(BaseException):
        await probe
    elapsed = time.monotonic() - t_start
    acked = len(ack_s)
    return {
        "sockets": len(tokens),
        "connect_failed": failed,
        "dropped": dropped[0],
        "offered_per_s": round(len(live) / 1.0, 1),
        "sent": sent[0],
        "acked": acked,
        "unanswered": sum(unanswered),
        "duration_s": round(elapsed, 1),
        "acked_per_s": round(acked / max(1e-9, duration_s), 1),
        "stored_per_s": round(statuses.get("stored", 0) / max(1e-9, duration_s), 1),
        "status": statuses,
        "errors": errors,
        "ack_ms": pct(ack_s),
        "client_loop_lag_ms": pct(lag_s),
        "client_cpu_pct": client_cpu_pct,
    }


async def _ingest_http(url: str, tokens, duration_s: float, concurrency: int, base_points) -> dict:
    import httpx

    lat_s, statuses = [], {}
    stop_at = time.monotonic() + duration_s
    counter = iter(range(10**9))
    last_ms: dict[int, int] = {}

    async def worker(http):
        while time.monotonic() < stop_at:
            i = next(counter) % len(tokens)
            base_lat, base_lng = base_points[i % len(base_points)]
            ts = max(int(time.time() * 1000), last_ms.get(i, 0) + 1000)
            last_ms[i] = ts
            body = {"lat": base_lat + random.uniform(-0.002, 0.002), "lng": base_lng, "timestamp": ts}
            t0 = time.perf_counter()
            try:
                r = await http.post("/api/location", json=body, headers={"Authorization": f"Bearer {tokens[i][1]}"})
                code = r.status_code
                st = r.json().get("status") if code == 200 else None
            except httpx.HTTPError as exc:
                code, st = type(exc).__name__, None
            lat_s.append(time.perf_counter() - t0)
            key = f"{code}" + (f":{st}" if st else "")
            statuses[key] = statuses.get(key, 0) + 1

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    t0 = time.monotonic()
    async with httpx.AsyncClient(base_url=url, timeout=30, limits=limits) as http:
        await asyncio.gather(*(worker(http) for _ in range(concurrency)))
    elapsed = time.monotonic() - t0
    ok = sum(v for k, v in statuses.items() if k.startswith("200"))
    return {
        "concurrency": concurrency,
        "requests": len(lat_s),
        "duration_s": round(elapsed, 1),
        "ok_per_s": round(ok / elapsed, 1),
        "status": statuses,
        "latency_ms": pct(lat_s),
    }


def _city_db(cfg: dict) -> str:
    db_url = os.environ["DATABASE_URL"]
    population_seed(db_url, n_users=cfg["city_users"], dense_share=0, n_viewers=0, city=True)
    fixes_refresh(db_url, max_age_s=60)
    redis_wipe()
    return db_url


def _city_points(n: int) -> list[tuple[float, float]]:
    from geo.models import LocationFix

    return [(p.y, p.x) for p in LocationFix.objects.order_by("user_id").values_list("location", flat=True)[:n]]


def scenario_ingest(cfg: dict, args) -> dict:
    """Fixes per second over sockets (open loop) and HTTP (closed loop), with ack latency."""
    from devtools.simulation import run_policy_install

    db_url = _city_db(cfg)
    tokens = tokens_for("city", cfg["city_users"])
    points = _city_points(len(tokens))
    run_policy_install()
    server = BenchServer(server_env(db_url, args.quick), "ingest")
    out = {}
    try:
        server.wait_ready()
        sampler = Sampler(server.pid)
        prof = Profiler(server.pid, cfg["ingest_s"], "ingest") if args.profile else None
        log(f"  ingest over {cfg['ingest_sockets']} sockets for {cfg['ingest_s']} s")
        out["sockets"] = asyncio.run(
            _ingest_sockets(server.url, tokens[: cfg["ingest_sockets"]], cfg["ingest_s"], points)
        )
        out["sockets"]["server"] = sampler.stop()
        if prof:
            out["sockets"]["profile"] = prof.top()
        log(f"  -> {out['sockets']['acked_per_s']} fixes/s, ack p99 {out['sockets']['ack_ms']['p99']} ms")
        time.sleep(2)
        sampler = Sampler(server.pid)
        prof = Profiler(server.pid, cfg["ingest_http_s"], "ingest-http") if args.profile else None
        log(f"  ingest over HTTP, {cfg['ingest_http_concurrency']} clients for {cfg['ingest_http_s']} s")
        out["http"] = asyncio.run(
            _ingest_http(server.url, tokens, cfg["ingest_http_s"], cfg["ingest_http_concurrency"], points)
        )
        out["http"]["server"] = sampler.stop()
        if prof:
            out["http"]["profile"] = prof.top()
        log(f"  -> {out['http']['ok_per_s']} fixes/s, p99 {out['http']['latency_ms']['p99']} ms")
    finally:
        server.stop()
    return out


# =========================================================================== scenario: fanout


def _city_prepare(db_url: str, size: int) -> tuple:
    """Fresh fixes and empty Redis state, then ``(personas, book, network, tokens)`` of ``size`` city users."""
    from django.db import connections

    from devtools import simulation
    from geo.models import LocationFix

    fixes_refresh(db_url, max_age_s=0)  # every city user fresh (and published) at the start of a run
    redis_wipe()
    ids = [str(u) for u in LocationFix.objects.order_by("user_id").values_list("user_id", flat=True)[:size]]
    personas = simulation.personas_load(user_ids=ids)
    book = simulation.privacy_book_load(personas, 500.0)
    network = simulation.walk_network_get(personas)
    tokens = simulation.tokens_mint(personas)
    connections.close_all()
    return personas, book, network, tokens


def scenario_fanout(cfg: dict, args) -> dict:
    """The simulated city at each size of ``fanout_sizes`` sockets, one fix every 2 s each."""
    from devtools import simulation

    db_url = _city_db(cfg)
    out = {"runs": []}
    for size in cfg["fanout_sizes"]:
        personas, book, network, tokens = _city_prepare(db_url, size)
        server = BenchServer(server_env(db_url, args.quick), f"fanout-{size}")
        try:
            server.wait_ready()
            rss0 = rss_bytes(server.pid)
            city = simulation.CityConfig(
                url=server.url,
                duration_s=cfg["fanout_s"],
                interval_s=2.0,
                radius_m=500.0,
                login="mint",
                server_pid=server.pid,
                setup_timeout_s=600,
                connect_concurrency=100,
            )
            prof = Profiler(server.pid, min(cfg["fanout_s"], 30), f"fanout-{size}") if args.profile else None
            simulation.run_policy_install()
            log(f"  city of {size} sockets for {cfg['fanout_s']} s")
            result = asyncio.run(simulation.city_run(city, personas, book, network, tokens))
            report = result.as_dict()
            report["server"]["rss_mib_before"] = round(rss0 / 2**20, 1)
            if prof:
                report["profile"] = prof.top()
            report["privacy"]["samples"] = report["privacy"]["samples"][:5]
            out["runs"].append(report)
            log(
                f"  -> ack p99 {report['fixes']['ack_ms']['p99']} ms, delivery p50 {report['delivery_ms']['p50']} "
                f"p99 {report['delivery_ms']['p99']} ms, {report['events']['deliveries_per_s']} deliveries/s, "
                f"violations {report['privacy']['violations']}, errors {report['errors']}"
            )
        finally:
            server.stop()
    return out


# =========================================================================== scenario: scaling

#: Steps of one socket fix, matched in this order against the frames of each profile sample
#: (the first step whose function is on the stack takes the sample).
FIX_STEPS = [
    ("store: one SQL statement per batch", ("_record_round",)),
    ("rate limit: one pipelined Redis call per batch", ("rate_limit_count_many",)),
    ("after commit: live set / dirty queue (Redis pipeline)", ("_map_fixes_stored",)),
    ("after commit: fixes_stored receivers (walks gate)", ("_fixes_stored_after_commit",)),
    ("batch: thread hop, outcomes", ("location_record_many", "FixBatcher._drain", "run_sync")),
    ("validate: location_fix_parse", ("location_fix_parse",)),
    ("ack: encode and write", ("send_event",)),
    ("parse frame and dispatch", ("RendezvousConsumer.receive", "RendezvousConsumer.dispatch")),
    ("WebSocket protocol (uvicorn, websockets)", ("websockets_sansio_impl", "websockets/")),
    ("map tick (publishing cell changes)", ("map_publish_tick", "map_ticker")),
]


def fix_budget(raw_path: Path, rate_hz: int, fixes: int) -> dict:
    """Where one fix's CPU goes, from a ``py-spy record --gil --format raw`` profile of the ingest run.

    Returns ``{"samples", "fixes", "steps": [[step, % of samples, ms per fix], ...]}``: each
    sample (1/``rate_hz`` s of a thread holding the GIL) is charged to the first matching step
    of :data:`FIX_STEPS`, otherwise to "other".
    """
    counts: dict[str, int] = {}
    total = 0
    if raw_path.exists():
        for line in raw_path.read_text().splitlines():
            stack, _, count = line.rpartition(" ")
            if not stack or not count.isdigit():
                continue
            n = int(count)
            total += n
            step = next((name for name, keys in FIX_STEPS if any(k in stack for k in keys)), "other")
            counts[step] = counts.get(step, 0) + n
    if not total or not fixes:
        return {"samples": total, "fixes": fixes, "steps": []}
    order = [name for name, _ in FIX_STEPS] + ["other"]
    steps = [
        [name, round(100.0 * counts[name] / total, 1), round(1000.0 * counts[name] / rate_hz / fixes, 4)]
        for name in order
        if counts.get(name)
    ]
    return {"samples": total, "fixes": fixes, "ms_per_fix": round(1000.0 * total / rate_hz / fixes, 4), "steps": steps}


def _city_once(cfg: dict, args, db_url: str, size: int, workers: int) -> dict:
    from devtools import simulation

    personas, book, network, tokens = _city_prepare(db_url, size)
    server = BenchServer(server_env(db_url, args.quick), f"scaling-city-{workers}", workers=workers)
    try:
        server.wait_ready()
        city = simulation.CityConfig(
            url=server.url, duration_s=cfg["scaling_s"], interval_s=2.0, radius_m=500.0, login="mint",
            setup_timeout_s=600, connect_concurrency=100,
        )  # fmt: skip
        simulation.run_policy_install()
        sampler = None

        async def run():
            nonlocal sampler
            sampler = Sampler(server.pid)
            return await simulation.city_run(city, personas, book, network, tokens)

        report = asyncio.run(run()).as_dict()
        report["server"] = sampler.stop() if sampler else {}
        return report
    finally:
        server.stop()


def scenario_scaling(cfg: dict, args) -> dict:
    """Socket ingest and the 1 000-socket city with 1 and 2 worker processes; the per-fix budget (workers=1)."""
    from devtools.simulation import run_policy_install

    db_url = _city_db(cfg)
    tokens = tokens_for("city", cfg["city_users"])
    points = _city_points(len(tokens))
    out = {"runs": []}
    for workers in cfg["scaling_workers"]:
        run_policy_install()
        redis_wipe()
        server = BenchServer(server_env(db_url, args.quick), f"scaling-ingest-{workers}", workers=workers)
        row: dict = {"workers": workers}
        try:
            server.wait_ready()
            sampler = Sampler(server.pid)
            raw = RESULTS / "quick" / f"profile-fix-budget-{workers}.txt"
            spy = None
            exe = Path(sys.executable).parent / "py-spy"
            if workers == 1 and exe.exists():
                spy = subprocess.Popen(  # noqa: S603
                    [str(exe), "record", "--pid", str(server.pid), "--duration", str(int(cfg["ingest_s"])),
                     "--rate", "100", "--gil", "--format", "raw", "--output", str(raw), "--nonblocking"],
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                )  # fmt: skip
            log(f"  {workers} worker(s): ingest over {cfg['ingest_sockets']} sockets for {cfg['ingest_s']} s")
            row["ingest"] = asyncio.run(
                _ingest_sockets(server.url, tokens[: cfg["ingest_sockets"]], cfg["ingest_s"], points)
            )
            row["ingest"]["server"] = sampler.stop()
            if spy is not None:
                spy.wait(timeout=120)
                fixes = int(row["ingest"]["acked_per_s"] * row["ingest"].get("duration_s", cfg["ingest_s"]))
                out["fix_budget"] = fix_budget(raw, 100, fixes)
        finally:
            server.stop()
        log(f"  {workers} worker(s): city of {cfg['scaling_city']} sockets for {cfg['scaling_s']} s")
        row["city"] = _city_once(cfg, args, db_url, cfg["scaling_city"], workers)
        row["city"]["privacy"]["samples"] = row["city"]["privacy"]["samples"][:5]
        log(
            f"  -> ingest {row['ingest']['acked_per_s']}/s; city delivery p50 {row['city']['delivery_ms']['p50']} "
            f"p99 {row['city']['delivery_ms']['p99']} ms"
        )
        out["runs"].append(row)
    return out


# =========================================================================== scenario: idle


async def _idle(url: str, tokens, hold_s: float, pid: int, measure_at: int, total: int) -> dict:
    """Open ``measure_at`` sockets (RSS per socket measured there), then up to ``total``, hold them ``hold_s``.

    ``tokens`` are used in turn (a user may hold several sockets, up to ``WS_MAX_SOCKETS_PER_USER``).
    """
    import websockets

    ws_url = url.replace("http://", "ws://") + "/ws/"
    sem = asyncio.Semaphore(100)
    failed: dict[str, int] = {}

    async def open_one(token):
        async with sem:
            try:
                return await websockets.connect(
                    f"{ws_url}?token={token}", open_timeout=120, ping_interval=None, close_timeout=2
                )
            except Exception as exc:
                failed[type(exc).__name__] = failed.get(type(exc).__name__, 0) + 1
                return None

    plan = [tokens[i % len(tokens)][1] for i in range(total)]
    rss0 = rss_bytes(pid)
    t0 = time.monotonic()
    first = [c for c in await asyncio.gather(*(open_one(t) for t in plan[:measure_at])) if c is not None]
    connect_s = time.monotonic() - t0
    await asyncio.sleep(3)
    rss1 = rss_bytes(pid)
    rest = [c for c in await asyncio.gather(*(open_one(t) for t in plan[measure_at:])) if c is not None]
    conns = first + rest
    await asyncio.sleep(3)
    rss_all = rss_bytes(pid)
    sampler = Sampler(pid)
    await asyncio.sleep(hold_s)
    hold = sampler.stop()
    alive = sum(1 for c in conns if c.close_code is None)
    rss2 = rss_bytes(pid)
    await asyncio.gather(*(c.close() for c in conns), return_exceptions=True)
    return {
        "sockets": total,
        "measured_at": len(first),
        "connected": len(conns),
        "failed": failed,
        "alive_after_hold": alive,
        "connect_s": round(connect_s, 1),
        "hold_s": hold_s,
        "rss_mib_before": round(rss0 / 2**20, 1),
        "rss_mib_connected": round(rss1 / 2**20, 1),
        "rss_mib_all_connected": round(rss_all / 2**20, 1),
        "rss_mib_after_hold": round(rss2 / 2**20, 1),
        "kib_per_socket": round((rss1 - rss0) / 1024 / max(1, len(first)), 1),
        "kib_per_socket_all": round((max(rss_all, rss2) - rss0) / 1024 / max(1, len(conns)), 1),
        "server_hold": hold,
    }


def scenario_idle(cfg: dict, args) -> dict:
    """``idle_sockets`` authenticated sockets held ``idle_s`` s: server RSS per socket and CPU."""
    from devtools.simulation import run_policy_install

    db_url = _city_db(cfg)
    tokens = tokens_for("city", min(cfg["idle_sockets"], cfg["city_users"]))
    run_policy_install()
    server = BenchServer(server_env(db_url, args.quick), "idle")
    try:
        server.wait_ready()
        import httpx

        for _ in range(20):  # warm the process (imports, pools) before the baseline
            httpx.get(f"{server.url}/health/db", timeout=5)
        log(f"  {cfg['idle_sockets']} then {cfg['idle_held']} idle sockets, held {cfg['idle_s']} s")
        out = asyncio.run(_idle(server.url, tokens, cfg["idle_s"], server.pid, cfg["idle_sockets"], cfg["idle_held"]))
        log(
            f"  -> {out['kib_per_socket']} KiB/socket at {out['measured_at']}, {out['alive_after_hold']} of "
            f"{out['sockets']} alive after the hold, cpu mean {out['server_hold'].get('cpu_pct_mean')} %"
        )
    finally:
        server.stop()
    return out


# =========================================================================== scenario: rest (wrk)


#: Appended to every wrk script: one JSON line with the run's totals and latency percentiles (microseconds).
WRK_DONE = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('{"requests": %d, "duration_us": %d, "p50_us": %d, "p90_us": %d, "p95_us": %d, '
    .. '"p99_us": %d, "max_us": %d, "socket_errors": %d, "non_2xx": %d}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(95), latency:percentile(99), latency.max,
    e.connect + e.read + e.write + e.timeout, e.status))
end
"""


def _lua_list(items) -> str:
    return "{" + ",".join(json.dumps(str(x)) for x in items) + "}"


def _wrk(url: str, path: str, script: str, connections: int, duration_s: float) -> dict:
    """Run ``wrk`` against ``url + path`` with the Lua ``script``; req/s and latency ms (p50-p99, max)."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(script + WRK_DONE)
        lua = f.name
    try:
        cmd = [
            "wrk",
            f"-t{min(2, connections)}",
            f"-c{connections}",
            f"-d{max(1, round(duration_s))}s",
            "-s",
            lua,
            url + path,
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=duration_s + 60, check=True)  # noqa: S603
    finally:
        os.unlink(lua)
    line = next(ln for ln in reversed(proc.stdout.splitlines()) if ln.startswith("{"))
    raw = json.loads(line)
    seconds = raw["duration_us"] / 1e6
    return {
        "connections": connections,
        "duration_s": round(seconds, 1),
        "requests": raw["requests"],
        "req_per_s": round(raw["requests"] / seconds, 1) if seconds else None,
        "latency_ms": {k: round(raw[f"{k}_us"] / 1000, 2) for k in ("p50", "p90", "p95", "p99", "max")},
        "non_2xx": raw["non_2xx"],
        "socket_errors": raw["socket_errors"],
    }


def _wrk_get(tokens: list[str], paths: list[str]) -> str:
    return f"""
tokens = {_lua_list(tokens)}
paths = {_lua_list(paths)}
counter = 0
request = function()
  counter = counter + 1
  local h = {{}}
  if #tokens > 0 then h["Authorization"] = "Bearer " .. tokens[(counter % #tokens) + 1] end
  return wrk.format("GET", paths[(counter % #paths) + 1], h)
end
"""


def _wrk_post_fix(tokens: list[str], points) -> str:
    bodies = [json.dumps({"lat": round(lat, 6), "lng": round(lng, 6)}) for lat, lng in points]
    return f"""
tokens = {_lua_list(tokens)}
bodies = {_lua_list(bodies)}
counter = 0
request = function()
  counter = counter + 1
  local h = {{["Authorization"] = "Bearer " .. tokens[(counter % #tokens) + 1],
             ["Content-Type"] = "application/json"}}
  return wrk.format("POST", "/api/location", h, bodies[(counter % #bodies) + 1])
end
"""


def scenario_rest(cfg: dict, args) -> dict:
    """REST under ``wrk`` (a C load generator), 1 and 2 worker processes, on the radius population.

    ``GET /health`` (the framework's floor), ``POST /api/location`` (one fix
    per request, tokens of ``rest_fix_users`` users in turn) and ``GET
    /api/map_nodes`` dense at 500 m (8 clients and 1) and 2 km (8 clients):
    the issue 8 table. A Python client tops out near 400 req/s here, so REST
    throughput is judged with wrk only.
    """
    if not shutil.which("wrk"):
        return {"error": "wrk is not installed (apt-get install wrk)"}
    db_url = os.environ["DATABASE_URL"]
    seed_info = _radius_population(db_url, cfg)
    rng = random.Random(11)
    viewers = [t for _, t in tokens_for("viewer", cfg["radius_viewers"])]
    fixers = [t for _, t in tokens_for("b", cfg["rest_fix_users"])]
    fix_points = query_points("dense", 500, rng)
    dense = query_points("dense", 50, rng)
    d = cfg["rest_s"]
    out = {"population": seed_info, "runs": []}
    for workers in cfg["scaling_workers"]:
        fixes_refresh(db_url, max_age_s=max(0.0, _ttl_s() - 120))
        redis_wipe()
        server = BenchServer(server_env(db_url, args.quick), f"rest-{workers}w", workers=workers)
        try:
            server.wait_ready()
            run = {"workers": workers}
            sampler = Sampler(server.pid)
            run["health"] = _wrk(server.url, "/health", _wrk_get([], ["/health"]), 32, d)
            run["location"] = _wrk(server.url, "/api/location", _wrk_post_fix(fixers, fix_points), 32, d)
            for name, radius, conns in (
                ("map_nodes_500", 500, 8),
                ("map_nodes_500_1c", 500, 1),
                ("map_nodes_2000", 2000, 8),
            ):
                paths = [f"/api/map_nodes?lat={lat:.6f}&lng={lng:.6f}&radius={radius}" for lat, lng in dense]
                run[name] = _wrk(server.url, paths[0], _wrk_get(viewers, paths), conns, d)
            run["server"] = sampler.stop()
            log(
                f"  rest {workers} worker(s): health {run['health']['req_per_s']}/s, location "
                f"{run['location']['req_per_s']}/s p99 {run['location']['latency_ms']['p99']} ms, map_nodes 500 m "
                f"{run['map_nodes_500']['req_per_s']}/s p95 {run['map_nodes_500']['latency_ms']['p95']} ms"
            )
            out["runs"].append(run)
        finally:
            server.stop()
    return out


def _ttl_s() -> float:
    from django.conf import settings

    return float(settings.LOCATION_TTL_S)


SCENARIOS = {
    "radius": scenario_radius,
    "ingest": scenario_ingest,
    "fanout": scenario_fanout,
    "idle": scenario_idle,
    "scaling": scenario_scaling,
    "rest": scenario_rest,
}


# =========================================================================== report


def _v(x, unit=""):
    return "-" if x is None else f"{x}{unit}"


def _ok(value, target, lower_is_better=True) -> str:
    if value is None:
        return "n/a"
    return "met" if (value <= target if lower_is_better else value >= target) else "**missed**"


def markdown(report: dict) -> str:
    """The ``bench/README.md`` text for a full report."""
    m = report["machine"]
    lines = [
        "# Benchmarks",
        "",
        "Produced by `make bench` (`scripts/bench.sh` -> `bench/run.py`); how to read and rerun them: "
        "[docs/bench.md](../docs/bench.md). Raw numbers: "
        f"[`results/{report['file']}`](results/{report['file']}).",
        "",
        f"- when: {report['started_at']} (UTC), took {report['elapsed_s']:.0f} s",
        f"- command: `{report['command']}`",
        f"- commit: `{m['commit']}`{' (with uncommitted changes)' if m['dirty_tree'] else ''}",
        f"- machine: {m['cores']} cores ({m['cpu_model']}), {m['memory_gib']} GiB, {m['os']}, Python {m['python']}",
        "- **the load generator (one Python process), the server (one uvicorn process), PostgreSQL and Redis "
        "share these cores**; latencies include the client's own scheduling delay",
        "- server: one `uvicorn config.asgi:application` process, `DJANGO_DEBUG=false`, default throttles",
        "",
    ]
    s = report["scenarios"]
    if "radius" in s and "cases" in s["radius"]:
        r = s["radius"]
        pop = r["population"]
        lines += [
            "## 1. Radius query (`GET /api/map_nodes`)",
            "",
            f"Population: {report['config']['radius_users']:,} users with fresh fixes "
            f"({int(report['config']['radius_dense_share'] * 100)} % Gaussian around Helsinki, sigma 5 km; "
            "the rest uniform over Finland), seeded by COPY"
            + (f" in {pop['total_s']:.0f} s" if pop.get("total_s") else " (reused from an earlier run)")
            + ". Raw: the selector's SQL on one psycopg connection. API sequential: one HTTP client; "
            f"concurrent: {r['cases'][0]['api_concurrent']['concurrency']} clients.",
            "",
            "| area | radius | rows | raw p50 / p95 ms | API p50 / p95 / p99 ms (1 client) | API/raw p50, p95 "
            "| concurrent req/s | concurrent p50 / p95 / p99 ms |",
            "| --- | --- | --- | --- | --- | --- | --- | --- |",
        ]
        for c in r["cases"]:
            a, w, cc = c["api_sequential_ms"], c["raw_ms"], c["api_concurrent"]
            lines.append(
                f"| {c['area']} | {c['radius_m']} m | {c['results_mean']} | {_v(w['p50'])} / {_v(w['p95'])} "
                f"| {_v(a['p50'])} / {_v(a['p95'])} / {_v(a['p99'])} | {c['ratio_api_raw_p50']}, "
                f"{c['ratio_api_raw_p95']} | {cc['req_per_s']} | {_v(cc['latency_ms']['p50'])} / "
                f"{_v(cc['latency_ms']['p95'])} / {_v(cc['latency_ms']['p99'])} |"
            )
        lines.append("")
    if "ingest" in s and "sockets" in s["ingest"]:
        so, h = s["ingest"]["sockets"], s["ingest"]["http"]
        lines += [
            "## 2. Ingest",
            "",
            "| path | load | fixes/s acked | stored/s | ack p50 / p95 / p99 / max ms | errors | server CPU % |",
            "| --- | --- | --- | --- | --- | --- | --- |",
            f"| socket `location:update` | {so['sockets']} sockets x 1 fix/s, open loop, {so['duration_s']} s "
            f"| {so['acked_per_s']} | {so['stored_per_s']} | {_v(so['ack_ms']['p50'])} / {_v(so['ack_ms']['p95'])}"
            f" / {_v(so['ack_ms']['p99'])} / {_v(so['ack_ms']['max'])} | {so['errors'] or 0}"
            f"{', unanswered ' + str(so['unanswered']) if so['unanswered'] else ''} "
            f"| {so['server'].get('cpu_pct_mean')} |",
            "",
            f"Socket ingest load generator: {so.get('client_cpu_pct', '-')} % of a core, its event loop "
            f"{_v((so.get('client_loop_lag_ms') or {}).get('p50'))} / "
            f"{_v((so.get('client_loop_lag_ms') or {}).get('p99'))} ms late (p50 / p99): part of every ack time.",
            "",
            "| path | load | fixes/s acked | stored/s | ack p50 / p95 / p99 / max ms | errors | server CPU % |",
            "| --- | --- | --- | --- | --- | --- | --- |",
            f"| HTTP `POST /api/location` | {h['concurrency']} clients, closed loop, {h['duration_s']} s "
            f"| {h['ok_per_s']} | - | {_v(h['latency_ms']['p50'])} / {_v(h['latency_ms']['p95'])} / "
            f"{_v(h['latency_ms']['p99'])} / {_v(h['latency_ms']['max'])} | {h['status']} "
            f"| {h['server'].get('cpu_pct_mean')} |",
            "",
        ]
    if "fanout" in s and "runs" in s["fanout"]:
        lines += [
            "## 3. Fan-out: the simulated city",
            "",
            "One fix every 2 s per socket, 500 m subscriptions, walkers at 1.2-1.6 m/s on the walking network, "
            "tokens minted (login measured by `simulate_city`), map tick 2 s.",
            "",
            "| sockets | made / dropped | fixes acked/s | ack p50 / p99 ms | delivery p50 / p95 / p99 / max ms "
            "| deliveries/s | fix age p50 ms | errors | privacy violations | server CPU % mean / max "
            "| server RSS MiB |",
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
        ]
        for run in s["fanout"]["runs"]:
            c, f, d, sv = run["connections"], run["fixes"], run["delivery_ms"], run["server"]
            lines.append(
                f"| {run['config']['users']} | {c['made']} / {c['dropped']} | {f['per_s']} | {_v(f['ack_ms']['p50'])}"
                f" / {_v(f['ack_ms']['p99'])} | {_v(d['p50'])} / {_v(d['p95'])} / {_v(d['p99'])} / {_v(d['max'])} "
                f"| {run['events']['deliveries_per_s']} | {_v(run['fix_age_ms']['p50'])} | {run['errors'] or 0} "
                f"| {run['privacy']['violations']} | {sv.get('cpu_pct_mean')} / {sv.get('cpu_pct_max')} "
                f"| {sv.get('rss_mib_max')} |"
            )
        lines.append("")
    if "idle" in s and "connected" in s["idle"]:
        i = s["idle"]
        lines += [
            "## 4. Idle sockets",
            "",
            "| sockets connected / alive after hold | hold | RSS before / at the first n / all / after hold MiB "
            "| KiB per socket (first n / all) | server CPU % mean / max |",
            "| --- | --- | --- | --- | --- | --- |",
            f"| {i['connected']} / {i['alive_after_hold']} | {i['hold_s']} s | {i['rss_mib_before']} / "
            f"{i['rss_mib_connected']} (n = {i.get('measured_at', i['connected'])}) / "
            f"{i.get('rss_mib_all_connected', '-')} / {i['rss_mib_after_hold']} "
            f"| {i['kib_per_socket']} / {i.get('kib_per_socket_all', '-')} "
            f"| {i['server_hold'].get('cpu_pct_mean')} / {i['server_hold'].get('cpu_pct_max')} |",
            "",
        ]
    if "scaling" in s and s["scaling"].get("runs"):
        lines += [
            "## 5. Scaling with worker processes (`WEB_CONCURRENCY`)",
            "",
            "| workers | socket ingest fixes/s acked | ingest ack p50 / p99 ms | city: fixes acked/s | city ack "
            "p50 / p99 ms | city delivery p50 / p99 ms | city dropped | violations | server CPU % mean (all "
            "processes, ingest / city) |",
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
        ]
        for row in s["scaling"]["runs"]:
            i, c = row["ingest"], row["city"]
            lines.append(
                f"| {row['workers']} | {i['acked_per_s']} | {_v(i['ack_ms']['p50'])} / {_v(i['ack_ms']['p99'])} "
                f"| {c['fixes']['per_s']} | {_v(c['fixes']['ack_ms']['p50'])} / {_v(c['fixes']['ack_ms']['p99'])} "
                f"| {_v(c['delivery_ms']['p50'])} / {_v(c['delivery_ms']['p99'])} | {c['connections']['dropped']} "
                f"| {c['privacy']['violations']} | {i['server'].get('cpu_pct_mean')} / "
                f"{c['server'].get('cpu_pct_mean')} |"
            )
        budget = s["scaling"].get("fix_budget") or {}
        if budget.get("steps"):
            lines += [
                "",
                f"Where one socket fix's CPU goes (1 worker, ingest run, `py-spy --gil` at 100 Hz: "
                f"{budget['samples']} samples over {budget['fixes']} fixes, {budget['ms_per_fix']} ms per fix):",
                "",
                "| step | share of samples % | ms per fix |",
                "| --- | --- | --- |",
            ]
            lines += [f"| {name} | {pct} | {ms} |" for name, pct, ms in budget["steps"]]
        lines.append("")
    if "rest" in s and s["rest"].get("runs"):
        lines += [
            "## 6. REST under wrk (1 and 2 worker processes, the radius population)",
            "",
            "`wrk -t2`, the connections shown, "
            f"{report['config'].get('rest_s')} s per row; req/s and latency p50 / p95 / p99 ms.",
            "",
            "| workers | `GET /health` (32) | `POST /api/location` (32) | `map_nodes` 500 m dense (8) "
            "| `map_nodes` 500 m dense (1) | `map_nodes` 2 km dense (8) | non-2xx |",
            "| --- | --- | --- | --- | --- | --- | --- |",
        ]
        keys = ("health", "location", "map_nodes_500", "map_nodes_500_1c", "map_nodes_2000")
        for row in s["rest"]["runs"]:
            cells = []
            for k in keys:
                w = row[k]
                lat = w["latency_ms"]
                cells.append(f"{w['req_per_s']} req/s, {lat['p50']} / {lat['p95']} / {lat['p99']}")
            bad = sum(row[k]["non_2xx"] + row[k]["socket_errors"] for k in keys)
            lines.append(f"| {row['workers']} | " + " | ".join(cells) + f" | {bad} |")
        lines.append("")
    lines += ["## Targets (issue 8)", "", "| target | measured | |", "| --- | --- | --- |"]
    for name, measured, _target, ok in targets_check(report):
        lines.append(f"| {name} | {measured} | {ok} |")
    lines += ["", "Notes and profiles of the misses: [docs/bench.md](../docs/bench.md).", ""]
    return "\n".join(lines)


def targets_check(report: dict) -> list[tuple[str, str, float, str]]:
    """``(target, measured, bound, "met"/"**missed**")`` for every target the report can judge (issue 8's table)."""
    s, out = report["scenarios"], []
    runs = {r["config"]["users"]: r for r in s.get("fanout", {}).get("runs", [])}
    city = runs.get(1000) or (next(iter(runs.values())) if runs else None)
    big = runs.get(2000)
    if big:
        dr = big["connections"]["dropped"] + big["connections"]["failed"]
        out.append(("city 2000: zero dropped connections", str(dr), 0, _ok(dr, 0)))
        d99 = big["delivery_ms"]["p99"]
        out.append(("city 2000: delivery p99 <= 500 ms", _v(d99, " ms"), 500, _ok(d99, 500)))
    if city:
        n = city["config"]["users"]
        a99, d50, d99 = city["fixes"]["ack_ms"]["p99"], city["delivery_ms"]["p50"], city["delivery_ms"]["p99"]
        out.append((f"city {n}: ack p99 <= 100 ms", _v(a99, " ms"), 100, _ok(a99, 100)))
        out.append((f"city {n}: delivery p50 <= 30 ms", _v(d50, " ms"), 30, _ok(d50, 30)))
        out.append((f"city {n}: delivery p99 <= 250 ms", _v(d99, " ms"), 250, _ok(d99, 250)))
        errs = sum(city["errors"].values())
        out.append((f"city {n}: zero errors", str(errs), 0, _ok(errs, 0)))
        v = city["privacy"]["violations"]
        out.append((f"city {n}: zero privacy violations", str(v), 0, _ok(v, 0)))
        dr = city["connections"]["dropped"] + city["connections"]["failed"]
        out.append((f"city {n}: zero dropped connections", str(dr), 0, _ok(dr, 0)))
    if "sockets" in s.get("ingest", {}):
        so = s["ingest"]["sockets"]
        offered = so["sockets"]
        out.append(
            (
                f"ingest >= 2000 fixes/s acked (sockets; this run offers {offered}/s)",
                f"{so['acked_per_s']}/s",
                2000,
                _ok(so["acked_per_s"], 2000, False),
            )
        )
        p99 = so["ack_ms"]["p99"]
        out.append(("ingest ack p99 <= 100 ms (sockets)", _v(p99, " ms"), 100, _ok(p99, 100)))
    for c in s.get("radius", {}).get("cases", []):
        if c["area"] == "dense" and c["radius_m"] == 500:
            p95 = c["api_sequential_ms"]["p95"]
            out.append(("radius 500 m dense: API p95 <= 20 ms (1 client)", _v(p95, " ms"), 20, _ok(p95, 20)))
            cp95 = c["api_concurrent"]["latency_ms"]["p95"]
            conc = c["api_concurrent"]["concurrency"]
            out.append((f"radius 500 m dense: API p95 <= 20 ms ({conc} clients)", _v(cp95, " ms"), 20, _ok(cp95, 20)))
            ratio = c["ratio_api_raw_p95"]
            out.append(("radius 500 m dense: API / raw <= 3 (p95)", _v(ratio), 3, _ok(ratio, 3)))
        if c["area"] == "dense" and c["radius_m"] == 2000:
            r50 = c["raw_ms"]["p50"]
            out.append(("dense 2 km raw query p50 <= 20 ms", _v(r50, " ms"), 20, _ok(r50, 20)))
    rest = {r["workers"]: r for r in s.get("rest", {}).get("runs", [])}
    for workers, r in sorted(rest.items()):
        tag = f"{workers} worker{'s' if workers > 1 else ''}"
        h, loc = r["health"]["req_per_s"], r["location"]
        out.append((f"`GET /health` >= 1500 req/s ({tag})", f"{h}/s", 1500, _ok(h, 1500, False)))
        lr = loc["req_per_s"]
        out.append((f"`POST /api/location` >= 500 req/s ({tag})", f"{lr}/s", 500, _ok(lr, 500, False)))
        half = round(h / 2, 1)
        out.append(
            (f"`POST /api/location` >= half of /health ({tag})", f"{lr}/s vs {half}/s", half, _ok(lr, half, False))
        )
        lp99 = loc["latency_ms"]["p99"]
        out.append((f"`POST /api/location` p99 <= 200 ms ({tag})", _v(lp99, " ms"), 200, _ok(lp99, 200)))
        m = r["map_nodes_500"]
        out.append(
            (
                f"map_nodes dense 500 m, 8 clients >= 300 req/s ({tag})",
                f"{m['req_per_s']}/s",
                300,
                _ok(m["req_per_s"], 300, False),
            )
        )
        out.append(
            (
                f"map_nodes dense 500 m, 8 clients p95 <= 50 ms ({tag})",
                _v(m["latency_ms"]["p95"], " ms"),
                50,
                _ok(m["latency_ms"]["p95"], 50),
            )
        )
        one = r["map_nodes_500_1c"]["latency_ms"]["p95"]
        out.append((f"map_nodes dense 500 m, 1 client p95 <= 15 ms ({tag})", _v(one, " ms"), 15, _ok(one, 15)))
    if "kib_per_socket" in s.get("idle", {}):
        i = s["idle"]
        k, n = i["kib_per_socket"], i.get("measured_at", i["connected"])
        out.append((f"{n} idle sockets <= 40 KiB each", f"{k} KiB", 40, _ok(k, 40)))
        held = i["alive_after_hold"]
        out.append(
            (
                f"{i['sockets']} idle sockets held",
                f"{held} alive after {i['hold_s']} s",
                i["sockets"],
                _ok(held, i["sockets"], False),
            )
        )
    return out


# =========================================================================== main


def worker_main(args) -> None:
    """Run one scenario in this process (Django set up on ``DATABASE_URL``) and write its JSON to ``--out``."""
    import django

    django.setup()
    cfg = QUICK if args.quick else FULL
    t0 = time.monotonic()
    result = SCENARIOS[args.worker](cfg, args)
    result["elapsed_s"] = round(time.monotonic() - t0, 1)
    Path(args.out).write_text(json.dumps(result, default=str))


def main() -> int:
    """Orchestrate: databases, one worker subprocess per scenario, JSON report, ``bench/README.md``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, ~2 minutes; README untouched")
    parser.add_argument("--only", default="radius,rest,ingest,fanout,idle,scaling", help="comma-separated scenarios")
    parser.add_argument("--profile", action="store_true", help="py-spy the server during ingest and fan-out")
    parser.add_argument(
        "--app", default="config.asgi:application", help="ASGI app the server runs (for before/after experiments)"
    )
    parser.add_argument("--worker", choices=sorted(SCENARIOS), help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker_main(args)
        return 0

    started = datetime.now(UTC)
    t0 = time.monotonic()
    cfg = QUICK if args.quick else FULL
    only = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = set(only) - set(SCENARIOS)
    if unknown:
        parser.error(f"unknown scenarios: {', '.join(sorted(unknown))}")
    base_url = os.environ.get("DATABASE_URL", "postgis://rendezvous:rendezvous@127.0.0.1:5432/rendezvous")
    suffix = "_quick" if args.quick else ""
    dbs = {
        "radius": db_url_with_name(base_url, f"rendezvous_bench{suffix}"),
        "city": db_url_with_name(base_url, f"rendezvous_bench_city{suffix}"),
    }
    secret = secrets.token_urlsafe(48)
    out_dir = RESULTS / "quick" if args.quick or args.app != "config.asgi:application" else RESULTS
    out_dir.mkdir(parents=True, exist_ok=True)
    (RESULTS / "quick").mkdir(parents=True, exist_ok=True)
    report = {
        "kind": "bench",
        "started_at": started.isoformat(timespec="seconds"),
        "command": "make bench"
        + (f' ARGS="{" ".join(sys.argv[1:])}"' if len(sys.argv) > 1 else "")
        + f"  (= {shlex.join([Path(sys.executable).name, 'bench/run.py', *sys.argv[1:]])})",
        "quick": args.quick,
        "app": args.app,
        "machine": machine_info(),
        "config": cfg,
        "targets": TARGETS,
        "scenarios": {},
    }
    for name in only:
        db = dbs["radius"] if name in ("radius", "rest") else dbs["city"]
        log(f"scenario {name} (database {db.rsplit('/', 1)[1]})")
        try:
            database_ensure(db)
            tmp = RESULTS / "quick" / f".{name}.json"
            env = {**server_env(db, args.quick), "DJANGO_SECRET_KEY": secret, "BENCH_APP": args.app}
            cmd = [sys.executable, str(Path(__file__)), "--worker", name, "--out", str(tmp)]
            cmd += ["--quick"] if args.quick else []
            cmd += ["--profile"] if args.profile else []
            subprocess.run(cmd, cwd=ROOT, env=env, check=True, timeout=3600)  # noqa: S603
            report["scenarios"][name] = json.loads(tmp.read_text())
            tmp.unlink()
        except (subprocess.SubprocessError, OSError, ValueError) as exc:
            log(f"scenario {name} failed: {exc}")
            report["scenarios"][name] = {"error": str(exc)}
    report["elapsed_s"] = round(time.monotonic() - t0, 1)
    stamp = started.strftime("%Y%m%dT%H%M%SZ")
    path = out_dir / f"bench-{stamp}.json"
    report["file"] = path.name
    report["targets_check"] = [
        {"target": n, "measured": m, "result": ok.strip("*")} for n, m, _, ok in targets_check(report)
    ]
    path.write_text(json.dumps(report, indent=1, default=str) + "\n")
    text = markdown(report)
    # bench/README.md is the report of a whole run; a partial one (--only) keeps only its JSON.
    whole = set(only) >= {"radius", "ingest", "fanout", "idle"}
    if not args.quick and args.app == "config.asgi:application" and whole:
        (ROOT / "bench" / "README.md").write_text(text)
    print(text)
    print(f"report: {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
