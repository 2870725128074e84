"""Production configuration: ``check --deploy`` is clean with the documented variables, and secrets have no default.

Each check runs ``manage.py`` in a subprocess with a clean environment and no
``.env`` (``DJANGO_ENV_FILE=""``), so a developer's local ``.env`` (which turns
the https settings off for plain-http ``make run``) cannot leak in.
"""

import os
import secrets
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: The production variables README.md and .env.example list (besides the secret key and service URLs).
PRODUCTION = {
    "DJANGO_DEBUG": "false",
    "DJANGO_ALLOWED_HOSTS": "rendezvous.example.com",
    "CSRF_TRUSTED_ORIGINS": "https://rendezvous.example.com",
}


def run_manage(*args, **env):
    base = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "SECURE_", "SESSION_", "CSRF_"))}
    base["DJANGO_SETTINGS_MODULE"] = "config.settings"
    base["DJANGO_ENV_FILE"] = ""
    return subprocess.run(  # noqa: S603
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_passes_with_documented_production_variables():
    """Issue 7 item 14: no W021 (HSTS preload is silenced deliberately, see docs/security.md)."""
    result = run_manage(
        "check", "--deploy", "--fail-level", "WARNING", **PRODUCTION, DJANGO_SECRET_KEY=secrets.token_urlsafe(64)
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_check_deploy_passes_with_hsts_preload_opted_in():
    result = run_manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        **PRODUCTION,
        SECURE_HSTS_PRELOAD="true",
        DJANGO_SECRET_KEY=secrets.token_urlsafe(64),
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_production_refuses_to_start_without_secret_key():
    result = run_manage("check", **PRODUCTION)
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY" in result.stderr


def test_debug_is_off_by_default_and_then_a_key_is_required():
    """Issue 7 item 1: no variable at all means production mode, which refuses to run without a key."""
    result = run_manage("check")
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY" in result.stderr


def test_no_secret_key_in_the_source():
    """Issue 7 item 1: the published development key is gone; a DEBUG process without a key gets a random one."""
    sources = list((ROOT / "config").rglob("*.py"))
    assert not any("dev-only-insecure-key" in p.read_text() for p in sources)
    code = "from django.conf import settings; print(settings.SECRET_KEY)"
    keys = {
        run_manage("shell", "-c", code, DJANGO_DEBUG="true").stdout.strip(),
        run_manage("shell", "-c", code, DJANGO_DEBUG="true").stdout.strip(),
    }
    assert len(keys) == 2 and all(len(k) >= 50 for k in keys), keys


def test_every_production_variable_is_documented_in_env_example():
    documented = (ROOT / ".env.example").read_text()
    for name in [
        *PRODUCTION,
        "DJANGO_SECRET_KEY",
        "DATABASE_URL",
        "REDIS_URL",
        "FORWARDED_ALLOW_IPS",
        "SECURE_HSTS_PRELOAD",
        "SESSION_COOKIE_SECURE",
        "CSRF_COOKIE_SECURE",
    ]:
        assert name in documented, name
