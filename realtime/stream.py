"""The reconnect stream: a bounded Redis stream per group for durable events.

PostgreSQL stays the source of truth; this is the delivery buffer that lets a
socket that reconnects get, exactly once and in order, every durable event
it missed (the way Centrifugo's history and Socket.IO's connection-state
recovery work). Positions are not durable: a map snapshot replaces them.

* ``publish`` appends each durable event to ``<prefix>:stream:<group>`` with
  ``XADD ... MINID ~ <now - REALTIME_STREAM_RETENTION_S>`` and
  ``MAXLEN``-style trimming at ``REALTIME_STREAM_MAXLEN`` entries; the
  Redis entry id (``"<ms>-<seq>"``) is the event's ``offset``.
* A socket's **cursor** is one opaque string for the whole socket: the
  last offset it was sent for each of its groups plus the Redis *epoch*
  (a random id created once per Redis data set, so a Redis that lost its
  data is detected). Every durable frame carries the updated cursor, and
  frames on one socket arrive in order, so the latest cursor a client saw
  covers everything before it.
* :func:`stream_read_after` returns what a group published after an offset,
  or raises :class:`CursorExpired` when events may have been trimmed
  (Redis 7 ``XINFO STREAM``: ``recorded-first-entry-id``, ``entries-added``,
  ``max-deleted-entry-id``), the stream expired, or the epoch changed:
  the client then gets ``sync:reset`` and refetches over REST.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import secrets
import time

from django.conf import settings

from core.redis import get_redis, key

_OFFSET_RE = re.compile(r"^\d{1,20}-\d{1,20}$")
_GROUP_RE = re.compile(r"^[a-z]{1,32}\.[A-Za-z0-9_-]{1,64}$")
#: At most this many groups are carried in one cursor (a socket's user group plus its rooms).
CURSOR_MAX_GROUPS = 64


class CursorExpired(Exception):
    """Events after the cursor may be gone (trimmed, expired, or Redis lost its data)."""


class CursorInvalid(ValueError):
    """The cursor is not one this server issued (400 ``invalid_cursor``)."""


def stream_key(group: str) -> str:
    """Redis key of ``group``'s stream."""
    return key("stream", group)


def stream_epoch() -> str:
    """The id of this Redis data set (created on first use with ``SET NX``; never expires)."""
    r = get_redis()
    k = key("stream", "epoch")
    epoch = r.get(k)
    if epoch is None:
        r.set(k, secrets.token_hex(8), nx=True)
        epoch = r.get(k)
    return epoch


def offset_parse(offset: str) -> tuple[int, int]:
    """``"<ms>-<seq>"`` -> ``(ms, seq)``; raises :class:`CursorInvalid`."""
    if not isinstance(offset, str) or not _OFFSET_RE.match(offset):
        raise CursorInvalid("bad offset")
    ms, seq = offset.split("-")
    return int(ms), int(seq)


def stream_append(group: str, event: str, data: dict) -> str:
    """Append ``{"event", "data"}`` to ``group``'s stream; returns the new offset.

    Trims entries older than ``REALTIME_STREAM_RETENTION_S`` seconds and keeps
    about ``REALTIME_STREAM_MAXLEN`` entries; the key expires after the
    retention when nothing more is published. Raises ``redis.RedisError``.
    """
    r = get_redis()
    k = stream_key(group)
    retention_s = int(settings.REALTIME_STREAM_RETENTION_S)
    min_id = f"{int((time.time() - retention_s) * 1000)}-0"
    payload = json.dumps({"event": event, "data": data}, separators=(",", ":"), default=str)
    pipe = r.pipeline(transaction=True)
    pipe.xadd(k, {"f": payload}, maxlen=int(settings.REALTIME_STREAM_MAXLEN), approximate=False)
    pipe.xtrim(k, minid=min_id, approximate=True)
    pipe.expire(k, retention_s)
    offset, _, _ = pipe.execute()
    return offset


def stream_read_after(group: str, offset: str, *, limit: int | None = None) -> list[tuple[str, str, dict]]:
    """Durable events of ``group`` after ``offset``, oldest first: ``[(offset, event, data), ...]``.

    Raises :class:`CursorExpired` when some events after ``offset`` may have
    been trimmed or expired, :class:`CursorInvalid` for a malformed offset.
    At most ``limit`` (default ``REALTIME_STREAM_MAXLEN``) entries; more
    than that is reported as expired (the client refetches over REST).
    """
    ms, seq = offset_parse(offset)
    limit = limit or int(settings.REALTIME_STREAM_MAXLEN)
    r = get_redis()
    k = stream_key(group)
    pipe = r.pipeline(transaction=True)
    pipe.xrange(k, min=f"({ms}-{seq}", max="+", count=limit + 1)
    pipe.exists(k)
    entries, exists = pipe.execute()
    if exists:
        info = r.xinfo_stream(k)
        deleted = info.get("max-deleted-entry-id") or "0-0"
        if offset_parse(deleted) > (ms, seq):
            raise CursorExpired(group)  # an XDEL removed something after the cursor
        first = info.get("recorded-first-entry-id") or "0-0"
        trimmed = int(info.get("entries-added") or 0) > int(info.get("length") or 0)
        if trimmed and offset_parse(first) > (ms, seq) and (not entries or entries[0][0] == first):
            # Entries before ``first`` were trimmed; some may have come after the cursor.
            raise CursorExpired(group)
    elif ms < (time.time() - settings.REALTIME_STREAM_RETENTION_S) * 1000:
        raise CursorExpired(group)
    if len(entries) > limit:
        raise CursorExpired(group)
    out = []
    for entry_id, fields in entries:
        item = json.loads(fields["f"])
        out.append((entry_id, item["event"], item["data"]))
    return out


def stream_last_offset(group: str) -> str:
    """The offset of ``group``'s newest entry, or ``"0-0"`` when it has none (a fresh join starts here)."""
    entries = get_redis().xrevrange(stream_key(group), count=1)
    return entries[0][0] if entries else "0-0"


def cursor_encode(epoch: str, offsets: dict[str, str]) -> str:
    """The opaque cursor for ``offsets`` (``{group: offset}``) under Redis epoch ``epoch`` (base64url JSON)."""
    raw = json.dumps({"e": epoch, "o": offsets}, separators=(",", ":"), sort_keys=True)
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def cursor_decode(cursor: str) -> tuple[str, dict[str, str]]:
    """``(epoch, {group: offset})`` from a cursor; raises :class:`CursorInvalid` for anything malformed."""
    if not isinstance(cursor, str) or not 0 < len(cursor) <= 8192:
        raise CursorInvalid("bad cursor")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        body = json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError, RecursionError):
        raise CursorInvalid("bad cursor") from None
    if not isinstance(body, dict) or not isinstance(body.get("e"), str) or not isinstance(body.get("o"), dict):
        raise CursorInvalid("bad cursor")
    offsets = body["o"]
    if len(offsets) > CURSOR_MAX_GROUPS:
        raise CursorInvalid("too many groups")
    for group, offset in offsets.items():
        if not isinstance(group, str) or not _GROUP_RE.match(group):
            raise CursorInvalid("bad group")
        offset_parse(offset)
    return body["e"], dict(offsets)
