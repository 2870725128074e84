"""A local Web Push service for tests: receives real RFC 8030 pushes over HTTP and decrypts them (RFC 8291).

Usage::

    with WebPushReceiver() as receiver:            # listens on http://127.0.0.1:<random port>
        sub = receiver.subscription("phone")       # {"endpoint": ..., "keys": {"p256dh", "auth"}}
        client.post("/api/devices", sub, format="json")
        ... trigger a push ...
        push = receiver.wait_for(1, timeout=10)[0]
        assert push.json["type"] == "message"

Each subscription gets its own endpoint path ``/push/<name>`` and its own
P-256 key pair and 16-byte auth secret (generated here, like a browser's
``PushManager.subscribe``). Every request is recorded as a :class:`Push`
(decrypted with ``http_ece``, aes128gcm) with its headers, so tests can also
check ``TTL`` and the VAPID ``Authorization`` header. ``receiver.status`` (or
``status_for[name]``) sets the HTTP status the receiver answers (201 by
default; 410 says the subscription is gone, 500 a transient failure);
``next_statuses`` (a list) answers the next requests first, in order
(``[503]``: one failure, then ``status``).
Works in-process and across processes (an e2e server or a Celery worker
posting to it): only the endpoint URL is shared.
"""

from __future__ import annotations

import base64
import json
import os
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import http_ece
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec


def b64url(raw: bytes) -> str:
    """Unpadded base64url."""
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@dataclass
class Subscription:
    """One generated subscription: endpoint, P-256 private key and auth secret."""

    name: str
    endpoint: str
    private_key: ec.EllipticCurvePrivateKey
    auth_secret: bytes

    @property
    def p256dh(self) -> str:
        """The public key, base64url uncompressed point (65 bytes)."""
        raw = self.private_key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return b64url(raw)

    @property
    def auth(self) -> str:
        """The auth secret, base64url (16 bytes)."""
        return b64url(self.auth_secret)

    def as_json(self) -> dict:
        """``PushSubscription.toJSON()`` shape: the body of ``POST /api/devices``."""
        return {"endpoint": self.endpoint, "keys": {"p256dh": self.p256dh, "auth": self.auth}}


@dataclass
class Push:
    """One received push: ``name`` of the subscription, ``status`` answered, ``headers``, ``body`` and decryption."""

    name: str
    status: int
    headers: dict
    body: bytes
    plaintext: bytes | None = None
    error: str | None = None
    received_at: float = field(default_factory=time.time)

    def header(self, name: str, default: str = "") -> str:
        """A request header, case-insensitively (``push.header("Authorization")``)."""
        for key, value in self.headers.items():
            if key.lower() == name.lower():
                return value
        return default

    @property
    def json(self):
        """The decrypted payload parsed as JSON (``AssertionError`` when it did not decrypt)."""
        assert self.plaintext is not None, f"push not decrypted: {self.error}"
        return json.loads(self.plaintext)


class WebPushReceiver:
    """A threaded HTTP server on 127.0.0.1 acting as a Web Push service (see module docstring)."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0):
        self.subscriptions: dict[str, Subscription] = {}
        self.pushes: list[Push] = []
        self.status = 201
        self.status_for: dict[str, int] = {}
        self.next_statuses: list[int] = []
        self._cond = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server API)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                receiver._record(self.path, dict(self.headers.items()), body, self)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer((host, port), Handler)
        self.server.daemon_threads = True
        self.base_url = f"http://{host}:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, name="webpush-receiver", daemon=True)

    # --- lifecycle --------------------------------------------------------------------------

    def start(self) -> WebPushReceiver:
        """Start serving in a background thread; returns self."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop the server and close its socket."""
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> WebPushReceiver:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # --- subscriptions ----------------------------------------------------------------------

    def subscription(self, name: str | None = None) -> dict:
        """Generate a new subscription (key pair + auth secret) and return its JSON for ``POST /api/devices``."""
        name = name or f"sub{len(self.subscriptions) + 1}"
        sub = Subscription(
            name=name,
            endpoint=f"{self.base_url}/push/{name}",
            private_key=ec.generate_private_key(ec.SECP256R1()),
            auth_secret=os.urandom(16),
        )
        self.subscriptions[name] = sub
        return sub.as_json()

    # --- received pushes --------------------------------------------------------------------

    def _record(self, path: str, headers: dict, body: bytes, handler) -> None:
        name = path.rsplit("/", 1)[-1]
        sub = self.subscriptions.get(name) if path.startswith("/push/") else None
        with self._cond:
            scripted = self.next_statuses.pop(0) if sub is not None and self.next_statuses else None
        status = 404 if sub is None else scripted or self.status_for.get(name, self.status)
        push = Push(name=name, status=status, headers=headers, body=body)
        if sub is not None:
            try:
                push.plaintext = http_ece.decrypt(
                    body, private_key=sub.private_key, auth_secret=sub.auth_secret, version="aes128gcm"
                )
            except Exception as exc:  # recorded; the test asserts on it
                push.error = f"{type(exc).__name__}: {exc}"
        # Recorded before answering: a sender that got its answer finds its push in ``received()``.
        with self._cond:
            self.pushes.append(push)
            number = len(self.pushes)
            self._cond.notify_all()
        handler.send_response(status)
        handler.send_header("Content-Length", "0")
        if status == 201:
            handler.send_header("Location", f"{self.base_url}/message/{number}")
        handler.end_headers()

    def received(self, name: str | None = None) -> list[Push]:
        """Pushes received so far (for subscription ``name``, or all)."""
        with self._cond:
            return [p for p in self.pushes if name is None or p.name == name]

    def wait_for(self, count: int = 1, *, name: str | None = None, timeout: float = 10.0) -> list[Push]:
        """Block until at least ``count`` pushes (for ``name``) arrived; returns them. ``TimeoutError`` otherwise."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                got = [p for p in self.pushes if name is None or p.name == name]
                if len(got) >= count:
                    return got
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"{len(got)} of {count} pushes received")
                self._cond.wait(left)
