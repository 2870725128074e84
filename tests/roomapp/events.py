"""Durable events of the test room app."""

from realtime.catalog import server_event


@server_event("test:note", fields={"n": "int", "text": "str"}, groups=("testroom.<key>", "user.<id>"), durable=True)
def note(n: int, text: str = "") -> dict:
    """A numbered note (test-only durable event)."""
    return {"n": n, "text": text}
