"""Production configuration: ``check --deploy`` is clean with the documented variables, and secrets have no default."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

PRODUCTION = {
    "DJANGO_DEBUG": "false",
    "DJANGO_ALLOWED_HOSTS": "rendezvous.example.com",
    "CSRF_TRUSTED_ORIGINS": "https://rendezvous.example.com",
    "SECURE_HSTS_PRELOAD": "true",
}


def run_manage(*args, **env):
    base = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "SECURE_"))}
    base["DJANGO_SETTINGS_MODULE"] = "config.settings"
    return subprocess.run(  # noqa: S603
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_passes_with_documented_production_variables():
    result = run_manage(
        "check", "--deploy", "--fail-level", "WARNING", **PRODUCTION, DJANGO_SECRET_KEY=secrets.token_urlsafe(64)
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_production_refuses_to_start_without_secret_key():
    result = run_manage("check", **PRODUCTION)
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY" in result.stderr


def test_every_production_variable_is_documented_in_env_example():
    documented = (ROOT / ".env.example").read_text()
    for name in [*PRODUCTION, "DJANGO_SECRET_KEY", "DATABASE_URL", "REDIS_URL"]:
        assert name in documented, name
