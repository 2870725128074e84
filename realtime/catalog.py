"""The event catalog: every server-to-client event, declared once with its payload builder.

An app declares each event it sends in its ``events.py``::

    @server_event("user:location", groups=("cell.<geohash>",), durable=False,
                  fields={"user_id": "uuid", "lat": "float (degrees)", ...})
    def user_location(...) -> dict: ...

and calls the builder to make the ``data`` it publishes. ``publish`` refuses
an event that is not in the catalog, the durable flag comes from here
(durable events go to the reconnect stream, ``realtime.stream``), and
``docs/realtime.md`` lists exactly the catalog (tests/realtime/test_catalog.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class EventSpec:
    """One server-to-client event.

    ``fields``: payload field -> type and unit (documentation and tests);
    ``groups``: group name patterns it is sent to (``"socket"`` for frames
    sent to one socket only, e.g. ``ack``); ``durable``: kept in the
    reconnect stream and replayed after a reconnect; ``seed_names``: the
    seeds' own names for the same event (docs' mapping table).
    """

    name: str
    fields: dict[str, str]
    groups: tuple[str, ...]
    durable: bool
    description: str
    seed_names: tuple[str, ...] = ()
    builder: Callable | None = field(default=None, compare=False)


#: event name -> spec
CATALOG: dict[str, EventSpec] = {}


def server_event(
    name: str,
    *,
    fields: dict[str, str],
    groups: tuple[str, ...],
    durable: bool,
    seed_names: tuple[str, ...] = (),
):
    """Decorator: register the payload builder of server event ``name`` in :data:`CATALOG`.

    The builder's docstring is the event's description. Raises
    ``RuntimeError`` when ``name`` is declared twice.
    """

    def register(builder):
        if name in CATALOG:
            raise RuntimeError(f"server event {name!r} declared twice")
        CATALOG[name] = EventSpec(
            name=name,
            fields=dict(fields),
            groups=tuple(groups),
            durable=durable,
            description=(builder.__doc__ or "").strip(),
            seed_names=tuple(seed_names),
            builder=builder,
        )
        return builder

    return register


def event_spec_get(name: str) -> EventSpec:
    """The spec of ``name``; raises ``LookupError`` for an event missing from the catalog."""
    try:
        return CATALOG[name]
    except KeyError:
        raise LookupError(f"server event {name!r} is not in the catalog (declare it with @server_event)") from None


def event_frame(name: str, data: dict | None = None, *, data_json: str | None = None) -> str:
    """The encoded text frame ``{"event": name, "data": data}`` of a declared, non-durable event.

    For frames built once and written to many sockets (the live map).
    ``data_json``: the payload already encoded as a JSON object (shared by
    many frames); otherwise ``data`` is encoded here. Raises ``LookupError``
    for an undeclared event and ``ValueError`` for a durable one (those go
    through ``realtime.publish.publish``: they need an ``offset``).
    """
    import json

    if event_spec_get(name).durable:
        raise ValueError(f"{name} is durable: publish it")
    if data_json is None:
        data_json = json.dumps(data, default=str)
    return '{"event":"' + name + '","data":' + data_json + "}"
