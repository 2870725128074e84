"""Issue 7 item 9: bodies are refused at the size limit, not read in full first; chunked bodies are not empty.

Attacks over a real uvicorn (``scripts/web.sh``) with a raw socket: a
declared 30 MiB ``Content-Length``, and a 30 MiB chunked body, both with
``REQUEST_MAX_BODY_BYTES`` = 1 MiB. Before the fix the server read all of
it before answering, and a small chunked body reached the view as empty.

Refusing *before reading* needs ``core.middleware.BodySizeLimitASGIMiddleware``
around Django's ASGI app in ``config/asgi.py``; until that file wraps it, the
two "before reading" tests are expected failures (strict: they turn into
errors once it is wired, so the marker must then go).
"""

from __future__ import annotations

import json
import socket
import threading
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(__file__).resolve().parents[2]
MIB = 1024 * 1024
ASGI_WIRED = "BodySizeLimitASGIMiddleware" in (ROOT / "config" / "asgi.py").read_text()
needs_asgi_wrapper = pytest.mark.xfail(
    not ASGI_WIRED, reason="config/asgi.py does not wrap Django in BodySizeLimitASGIMiddleware yet", strict=True
)


def read_response(sock: socket.socket, timeout: float) -> bytes:
    """Read until the peer closes or a full JSON body arrived, at most ``timeout`` seconds."""
    sock.settimeout(timeout)
    data = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            break
        except ConnectionResetError:
            break
        if not chunk:
            break
        data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        if body.endswith(b"}}"):
            break
    return data


def status_of(raw: bytes) -> int:
    return int(raw.split(b" ", 2)[1]) if raw.startswith(b"HTTP/") else 0


def open_request(port: int, headers: str) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.sendall(headers.encode())
    return sock


@needs_asgi_wrapper
def test_declared_30_mib_is_refused_before_the_body_is_read(web_server):
    server = web_server(REQUEST_MAX_BODY_BYTES=str(MIB))
    sock = open_request(
        server.port,
        "POST /api/auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {30 * MIB}\r\n\r\n",
    )
    sock.sendall(b"[" * 65536)  # a little of the body; the rest never comes
    raw = read_response(sock, timeout=5)
    sock.close()
    assert status_of(raw) == 413, raw[:300]
    assert json.loads(raw.partition(b"\r\n\r\n")[2])["error"]["code"] == "payload_too_large"


def send_chunked(sock: socket.socket, total: int, sent: list[int]) -> None:
    chunk = b"x" * 65536
    try:
        while sent[0] < total:
            sock.sendall(b"%x\r\n" % len(chunk) + chunk + b"\r\n")
            sent[0] += len(chunk)
        sock.sendall(b"0\r\n\r\n")
    except OSError:
        pass


@needs_asgi_wrapper
def test_chunked_30_mib_is_refused_at_the_limit_while_reading(web_server):
    server = web_server(REQUEST_MAX_BODY_BYTES=str(MIB))
    sock = open_request(
        server.port,
        "POST /api/auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        "Transfer-Encoding: chunked\r\n\r\n",
    )
    sent = [0]
    sender = threading.Thread(target=send_chunked, args=(sock, 30 * MIB, sent), daemon=True)
    sender.start()
    raw = read_response(sock, timeout=10)
    at_answer = sent[0]
    sock.close()
    sender.join(timeout=10)
    assert status_of(raw) == 413, raw[:300]
    # The server stopped reading near the limit: far less than 30 MiB went out before the answer.
    assert at_answer < 10 * MIB, at_answer


def test_chunked_body_over_the_limit_is_413(web_server):
    server = web_server(REQUEST_MAX_BODY_BYTES=str(MIB))
    sock = open_request(
        server.port,
        "POST /api/auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        "Transfer-Encoding: chunked\r\n\r\n",
    )
    sent = [0]
    send_chunked(sock, 2 * MIB, sent)
    raw = read_response(sock, timeout=10)
    sock.close()
    assert status_of(raw) == 413, raw[:300]


def test_small_chunked_body_is_read_not_treated_as_empty(web_server):
    server = web_server()
    body = json.dumps({"email": "nobody@example.test", "password": "wrong-password"}).encode()
    sock = open_request(
        server.port,
        "POST /api/auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
    )
    half = len(body) // 2
    for part in (body[:half], body[half:]):
        sock.sendall(b"%x\r\n" % len(part) + part + b"\r\n")
    sock.sendall(b"0\r\n\r\n")
    raw = read_response(sock, timeout=10)
    sock.close()
    # Read as the JSON it is: wrong credentials (401), not "email/password required" (400).
    assert status_of(raw) == 401, raw[:300]
    assert json.loads(raw.partition(b"\r\n\r\n")[2])["error"]["code"] == "invalid_credentials"
