"""The event catalog: every event the code sends is declared, and docs/realtime.md lists exactly the catalog."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from realtime.catalog import CATALOG, server_event
from realtime.consumer import load_realtime_modules
from realtime.publish import publish

ROOT = Path(__file__).resolve().parents[2]
SOURCE_DIRS = ["core", "realtime", "accounts", "geo", "places", "devtools", "config"] + [
    d for d in ("walks", "events", "parties", "messaging", "notifications", "ads") if (ROOT / d).is_dir()
]
_PUBLISH = re.compile(r"\bpublish(?:_now)?\(\s*[^,()]+(?:\([^()]*\))?\s*,\s*\"([a-z_:]+)\"")
_SEND = re.compile(r"\b(?:send_event|event_frame)\(\s*\"([a-z_:]+)\"")


def _project_catalog() -> dict:
    load_realtime_modules()
    return {name: spec for name, spec in CATALOG.items() if not spec.builder.__module__.startswith("tests.")}


def _sent_event_names() -> set[str]:
    names = set()
    for directory in SOURCE_DIRS:
        for path in (ROOT / directory).rglob("*.py"):
            text = path.read_text()
            names.update(_PUBLISH.findall(text))
            names.update(_SEND.findall(text))
    return names


def test_every_sent_event_is_in_the_catalog():
    sent = _sent_event_names()
    assert {"map:snapshot", "user:location", "user:gone", "room:state", "room:left"} <= sent  # the scan works
    assert sent - set(_project_catalog()) == set()


def _docs_server_section() -> str:
    text = (ROOT / "docs" / "realtime.md").read_text()
    start = text.index("## Server → client")
    end = text.index("\n## ", start + 5)
    return text[start:end]


def test_docs_list_exactly_the_catalog():
    section = _docs_server_section()
    table = set(re.findall(r"^\| `([a-z_:]+)` \|", section, flags=re.M))
    catalog = _project_catalog()
    assert table == set(catalog)
    headings = set()
    for heading in re.findall(r"^### (.+)$", section, flags=re.M):
        headings.update(re.findall(r"`([a-z_:]+)`", heading))
    assert headings == set(catalog)
    for name, spec in catalog.items():
        row = re.search(rf"^\| `{re.escape(name)}` \| (yes|no) \|", section, flags=re.M)
        assert row and (row.group(1) == "yes") == spec.durable, name


def test_every_event_has_a_builder_with_a_description():
    for name, spec in _project_catalog().items():
        assert callable(spec.builder) and spec.description, name
        assert spec.fields, name


def test_publishing_an_undeclared_event_is_refused():
    with pytest.raises(LookupError):
        publish("user.00000000-0000-0000-0000-000000000000", "nobody:declared", {})


def test_an_event_cannot_be_declared_twice():
    load_realtime_modules()
    with pytest.raises(RuntimeError):
        server_event("user:location", fields={}, groups=(), durable=False)(lambda: {})
