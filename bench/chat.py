#!/usr/bin/env python
"""Chat benchmark (issue 9): rooms of members over real sockets against one real uvicorn process.

Default: 200 ``group`` conversations of 10 members (2 000 users, 2 000
sockets, one per member); every socket joins its room (``room:join``), then
each member sends one ``message:send`` every 5 s (random phase) for 30 s.
Measured in this process (one clock): **delivery latency** from the
``message:send`` frame leaving the sender to the ``message:new`` frame
arriving at each of the other 9 members, the sender's **ack latency**,
messages/s acknowledged, deliveries/s, missing deliveries, errors, and the
server's CPU and RSS (psutil). Results: ``bench/results/chat-<UTC>.json``
and a table on stdout.

The server runs with production settings (``DJANGO_DEBUG=false``) on a
dedicated database ``<DATABASE_URL name>_chat`` (created and migrated on
first use; users and rooms are reused across runs) and Redis prefix
``rdvbench``. The load generator, server, PostgreSQL and Redis share the
machine (see the report's ``machine``).

Usage::

    bench/chat.py [--rooms 200] [--members 10] [--interval 5] [--duration 30] [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import os
import random
import secrets
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
sys.path.insert(0, str(ROOT))

_spec = importlib.util.spec_from_file_location("bench_run", ROOT / "bench" / "run.py")
bench_run = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench_run)
log = bench_run.log

TARGET_P99_MS = 150


def seed(n_rooms: int, members: int) -> list[tuple[int, list[tuple[str, str]]]]:
    """Users ``chat<i>@bench.test`` and one group conversation per room; ``[(conversation id, [(user id, token)])]``."""
    from django.contrib.auth.hashers import make_password
    from rest_framework_simplejwt.tokens import AccessToken

    from accounts.models import User
    from messaging.models import Conversation, ConversationMember

    n_users = n_rooms * members
    existing = set(User.objects.filter(email__endswith="@bench-chat.test").values_list("email", flat=True))
    password = make_password("bench-chat-password")
    new = [
        User(email=f"chat{i:05d}@bench-chat.test", username=f"chat{i:05d}", full_name=f"Chat {i}", password=password)
        for i in range(n_users)
        if f"chat{i:05d}@bench-chat.test" not in existing
    ]
    User.objects.bulk_create(new, batch_size=1000)
    users = list(User.objects.filter(email__endswith="@bench-chat.test").order_by("email")[:n_users])
    rooms = []
    for r in range(n_rooms):
        group = users[r * members : (r + 1) * members]
        conv, _ = Conversation.objects.get_or_create(
            owner_kind="benchchat", owner_id=f"{members}-{r}", defaults={"kind": "group"}
        )
        have = set(ConversationMember.objects.filter(conversation=conv).values_list("user_id", flat=True))
        ConversationMember.objects.bulk_create(
            [ConversationMember(conversation=conv, user=u) for u in group if u.pk not in have]
        )
        rooms.append((conv.pk, [(str(u.pk), str(AccessToken.for_user(u))) for u in group]))
    return rooms


async def run_load(url: str, rooms, interval_s: float, duration_s: float) -> dict:
    """Open every socket, join the rooms, send for ``duration_s``, wait for the tail; return raw measurements."""
    import websockets

    ws_url = url.replace("http://", "ws://") + "/ws/"
    sent: dict[str, tuple[float, int]] = {}  # client_msg_id -> (send time, conversation)
    delivery_s: list[float] = []
    ack_s: list[float] = []
    delivered: dict[str, int] = {}
    errors: dict[str, int] = {}
    sem = asyncio.Semaphore(100)

    async def open_one(token):
        async with sem:
            for attempt in range(5):
                try:
                    return await websockets.connect(f"{ws_url}?token={token}", open_timeout=60, ping_interval=None)
                except Exception:
                    await asyncio.sleep(0.5 * (attempt + 1))
            return None

    flat = [(conv, uid, tok) for conv, members in rooms for uid, tok in members]
    # Rooms and users are reused across runs, and a repeated client_msg_id is answered with the
    # stored message and broadcast to nobody: every run's ids must be new.
    run_tag = secrets.token_hex(4)
    t_open = time.monotonic()
    conns = await asyncio.gather(*(open_one(tok) for _, _, tok in flat))
    open_s = time.monotonic() - t_open
    made = sum(1 for c in conns if c is not None)
    log(f"{made}/{len(flat)} sockets open in {open_s:.1f} s")

    pending_acks: dict[tuple[int, str], float] = {}
    stop_reading = asyncio.Event()

    async def reader(ws, idx):
        async for raw in ws:
            now = time.monotonic()
            frame = json.loads(raw)
            event = frame.get("event")
            if event == "message:new":
                cid = frame["data"].get("client_msg_id")
                if cid in sent and frame["data"]["sender_id"] != flat[idx][1]:
                    delivery_s.append(now - sent[cid][0])
                    delivered[cid] = delivered.get(cid, 0) + 1
            elif event == "ack" and (idx, str(frame.get("id"))) in pending_acks:
                ack_s.append(now - pending_acks.pop((idx, str(frame["id"]))))
            elif event == "error":
                code = frame["data"].get("code", "?")
                errors[code] = errors.get(code, 0) + 1

    readers = [asyncio.ensure_future(reader(ws, i)) for i, ws in enumerate(conns) if ws is not None]

    async def join(i, ws):
        async with sem:
            await ws.send(json.dumps({"event": "room:join", "data": {"kind": "conversation", "key": str(flat[i][0])}}))

    await asyncio.gather(*(join(i, ws) for i, ws in enumerate(conns) if ws is not None))
    await asyncio.sleep(3.0)  # joins settle

    t_start = time.monotonic()
    t_end = t_start + duration_s

    async def sender(i, ws):
        await asyncio.sleep(random.uniform(0, interval_s))  # noqa: S311
        n = 0
        while time.monotonic() < t_end:
            n += 1
            cid = f"b{run_tag}-{i}-{n}"  # unique per run: sending is idempotent on client_msg_id
            now = time.monotonic()
            sent[cid] = (now, flat[i][0])
            pending_acks[(i, cid)] = now
            frame = {
                "event": "message:send",
                "id": cid,
                "data": {"conversation_id": flat[i][0], "message": f"hello {n}", "client_msg_id": cid},
            }
            try:
                await ws.send(json.dumps(frame))
            except Exception:
                errors["send_failed"] = errors.get("send_failed", 0) + 1
                return
            await asyncio.sleep(interval_s)

    await asyncio.gather(*(sender(i, ws) for i, ws in enumerate(conns) if ws is not None))
    send_window_s = time.monotonic() - t_start
    await asyncio.sleep(10.0)  # tail: let in-flight deliveries land
    stop_reading.set()
    for ws in conns:
        if ws is not None:
            await ws.close()
    for task in readers:
        task.cancel()
    expected = len(sent) * (len(rooms[0][1]) - 1) if rooms else 0
    return {
        "sockets": len(flat),
        "sockets_open": made,
        "open_s": round(open_s, 1),
        "send_window_s": round(send_window_s, 1),
        "messages_sent": len(sent),
        "messages_acked": len(ack_s),
        "deliveries": len(delivery_s),
        "deliveries_expected": expected,
        "deliveries_missing": expected - len(delivery_s),
        "delivery_ms": bench_run.pct(delivery_s),
        "ack_ms": bench_run.pct(ack_s),
        "messages_per_s": round(len(ack_s) / send_window_s, 1) if send_window_s else 0,
        "deliveries_per_s": round(len(delivery_s) / send_window_s, 1) if send_window_s else 0,
        "errors": errors,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rooms", type=int, default=200)
    parser.add_argument("--members", type=int, default=10)
    parser.add_argument("--interval", type=float, default=5.0, help="seconds between one member's messages")
    parser.add_argument("--duration", type=float, default=30.0, help="seconds of sending")
    parser.add_argument("--quick", action="store_true", help="20 rooms, 10 s (results under bench/results/quick/)")
    args = parser.parse_args()
    if args.quick:
        args.rooms, args.duration = 20, 10.0

    # One secret for this process (it mints the tokens) and the server; a random one when .env has none.
    os.environ.setdefault("DJANGO_SECRET_KEY", secrets.token_urlsafe(64))
    base_url = os.environ.get("DATABASE_URL", "postgis://rendezvous:rendezvous@127.0.0.1:5432/rendezvous")
    db_url = bench_run.db_url_with_name(base_url, base_url.rsplit("/", 1)[1] + "_chat")
    bench_run.database_ensure(db_url)
    env = bench_run.server_env(db_url, args.quick)
    env["MAP_TICKER_ENABLED"] = "false"
    os.environ.update(
        {k: env[k] for k in ("DJANGO_SETTINGS_MODULE", "DATABASE_URL", "REDIS_KEY_PREFIX", "DJANGO_DEBUG")}
    )
    import django

    django.setup()
    bench_run.redis_wipe()
    started = datetime.now(UTC)
    log(f"seeding {args.rooms} rooms x {args.members} members")
    rooms = seed(args.rooms, args.members)
    (RESULTS / "quick").mkdir(parents=True, exist_ok=True)
    server = bench_run.BenchServer(env, "chat")
    try:
        server.wait_ready()
        sampler = bench_run.Sampler(server.pid)
        load = asyncio.run(run_load(server.url, rooms, args.interval, args.duration))
        load["server"] = sampler.stop()
    finally:
        server.stop()
    report = {
        "scenario": "chat",
        "when": started.isoformat(),
        "command": "bench/chat.py " + " ".join(sys.argv[1:]),
        "config": {
            "rooms": args.rooms,
            "members": args.members,
            "interval_s": args.interval,
            "duration_s": args.duration,
        },
        "target": {"delivery_p99_ms": TARGET_P99_MS},
        "machine": bench_run.machine_info(),
        "result": load,
    }
    out_dir = RESULTS / "quick" if args.quick else RESULTS
    out_dir.mkdir(parents=True, exist_ok=True)
    out = out_dir / f"chat-{started.strftime('%Y%m%dT%H%M%SZ')}.json"
    out.write_text(json.dumps(report, indent=2, default=str))
    d, a, s = load["delivery_ms"], load["ack_ms"], load.get("server", {})
    print()
    print(
        "| rooms x members | sockets open | msgs/s acked | deliveries/s | delivery p50 / p95 / p99 / max ms"
        " | ack p50 / p99 ms | missing | errors | server CPU % mean / max | RSS MiB |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    print(
        f"| {args.rooms} x {args.members} | {load['sockets_open']}/{load['sockets']} | {load['messages_per_s']} | "
        f"{load['deliveries_per_s']} | {d['p50']} / {d['p95']} / {d['p99']} / {d['max']} | {a['p50']} / {a['p99']} | "
        f"{load['deliveries_missing']} | {load['errors'] or 0} | {s.get('cpu_pct_mean')} / {s.get('cpu_pct_max')} | "
        f"{s.get('rss_mib_max')} |"
    )
    print(f"\ntarget delivery p99 <= {TARGET_P99_MS} ms; raw: {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
