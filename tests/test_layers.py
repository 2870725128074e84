"""The layer rule: core < realtime < domain apps; accounts does not import geo; the consumer names no app."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOMAIN_APPS = ["accounts", "geo", "places", "messaging", "notifications", "walks", "events", "parties", "ads"]
OTHER = ["devtools", "config", "tests"]


def _imports(package: str) -> dict[str, set[str]]:
    """``{file: {top-level module imported}}`` for every .py file of ``package`` (absolute imports)."""
    out = {}
    for path in (ROOT / package).rglob("*.py"):
        tree = ast.parse(path.read_text())
        names = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
        out[str(path.relative_to(ROOT))] = names
    return out


@pytest.mark.parametrize(
    "package, forbidden",
    [
        ("core", {"realtime", *DOMAIN_APPS, *OTHER}),
        ("realtime", {*DOMAIN_APPS, *OTHER}),
        ("accounts", {"geo", "places", "messaging", "notifications", "walks", "events", "parties", "ads", "devtools"}),
        ("places", {"geo", "messaging", "notifications", "walks", "events", "parties", "ads", "devtools"}),
        ("geo", {"places", "messaging", "notifications", "walks", "events", "parties", "ads", "devtools"}),
    ],
)
def test_no_upward_imports(package, forbidden):
    offenders = {f: sorted(names & forbidden) for f, names in _imports(package).items() if names & forbidden}
    assert offenders == {}


def test_the_consumer_names_no_app():
    text = (ROOT / "realtime" / "consumer.py").read_text()
    for word in ("geo", "map_", "map.", "cell", "walk", "party", "conversation", "notification", "location"):
        assert word not in text, word
