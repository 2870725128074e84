"""Every variable the settings read is documented in .env.example (and nothing documented is dead)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_READ = re.compile(r"""env(?:\.\w+)?\(\s*["']([A-Z][A-Z0-9_]+)["']""")
_DOC = re.compile(r"^#?\s*([A-Z][A-Z0-9_]+)=", re.M)
#: Read outside config/settings (scripts, the server) but documented there too.
ELSEWHERE = {"PORT", "HOST", "WEB_CONCURRENCY", "FORWARDED_ALLOW_IPS", "SEED_DEMO_USERS", "DJANGO_ENV_FILE"}


def _read_by_settings() -> set[str]:
    names = set()
    for path in (ROOT / "config" / "settings").glob("*.py"):
        names.update(_READ.findall(path.read_text()))
    return names


def test_every_setting_variable_is_in_env_example():
    documented = set(_DOC.findall((ROOT / ".env.example").read_text()))
    missing = _read_by_settings() - documented
    assert missing == set(), f"add to .env.example: {sorted(missing)}"


def test_env_example_documents_no_unknown_variable():
    documented = set(_DOC.findall((ROOT / ".env.example").read_text()))
    text = "\n".join(p.read_text() for p in (ROOT / "scripts").glob("*.sh"))
    unknown = {n for n in documented - _read_by_settings() - ELSEWHERE if n not in text}
    assert unknown == set(), f"documented but never read: {sorted(unknown)}"
