"""OpenAPI schema post-processing (drf-spectacular ``POSTPROCESSING_HOOKS``).

:func:`errors_and_health_postprocess` makes the schema say what the server does:

* every operation documents its error responses (400, 401, 403, 404, 409,
  413, 415, 429; 503 when a backing service is down) with the one error shape
  ``{"error": {"code", "message", "fields"?}}`` (component ``Error``);
* ``/health``, ``/health/db`` and ``/health/redis`` (plain Django views, so
  not discovered) are listed: 200 ``{"status": "ok"}`` or 503;
* a query parameter ``radius`` is ``0 < radius <= MAP_MAX_RADIUS_M`` metres,
  as the server validates it;
* the registration password states the part of the password policy that JSON
  Schema can express (at least 8 characters, not entirely digits); the rest
  (not a common password, not too similar to the email or names) is 400
  ``weak_password``.
"""

from __future__ import annotations

from django.conf import settings

#: Error statuses every operation may answer, with their meaning.
ERROR_STATUSES = {
    "400": "Invalid input (`invalid`, with `fields`) or malformed body (`malformed_request`).",
    "401": "Missing, invalid or expired token (`not_authenticated`, `token_not_valid`).",
    "403": "Authenticated but not allowed (`permission_denied`).",
    "404": "Not found (`not_found`).",
    "409": "Conflicts with the current state (e.g. `conflict`, email or username taken).",
    "413": "Request body over its size limit (`payload_too_large`).",
    "415": "Unsupported media type (`unsupported_media_type`).",
    "429": "Rate limited (`rate_limited`); see the `Retry-After` header (seconds).",
    "503": "A backing service is unavailable (`service_unavailable`); retry after `Retry-After` seconds.",
}

ERROR_SCHEMA = {
    "type": "object",
    "description": "The one error shape of every REST error.",
    "properties": {
        "error": {
            "type": "object",
            "properties": {
                "code": {"type": "string", "description": "Stable snake_case slug."},
                "message": {"type": "string", "description": "Human-readable sentence."},
                "fields": {
                    "type": "object",
                    "additionalProperties": {"type": "array", "items": {"type": "string"}},
                    "description": "Per-field messages (validation errors only).",
                },
            },
            "required": ["code", "message"],
        }
    },
    "required": ["error"],
}

_STATUS_OK = {
    "type": "object",
    "properties": {"status": {"type": "string", "enum": ["ok"]}},
    "required": ["status"],
}


def _error_response(description: str) -> dict:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


def _health_path(summary: str) -> dict:
    return {
        "get": {
            "operationId": summary.replace(" ", "_").lower(),
            "summary": summary,
            "tags": ["health"],
            "security": [{}],
            "responses": {
                "200": {"description": "Healthy.", "content": {"application/json": {"schema": _STATUS_OK}}},
                "503": _error_response("Unhealthy: names the failing service."),
            },
        }
    }


#: Django's ``MinimumLengthValidator`` default (``AUTH_PASSWORD_VALIDATORS``).
PASSWORD_MIN_LENGTH = 8

PASSWORD_POLICY = (
    "At least 8 characters, not entirely digits, not a common password, not too similar to the email, "
    "username or full name; otherwise 400 `weak_password`."
)


def _password_policy(schemas: dict) -> None:
    """Write the password policy into the registration body components (JSON, form and multipart share them)."""
    for name in ("RegisterRequest", "PatchedRegisterRequest"):
        password = schemas.get(name, {}).get("properties", {}).get("password")
        if password is not None:
            password["minLength"] = max(password.get("minLength", 0), PASSWORD_MIN_LENGTH)
            password["pattern"] = r"\D"
            password["description"] = PASSWORD_POLICY


def errors_and_health_postprocess(result: dict, generator, request, public) -> dict:
    """Add the error responses, the ``Error`` component, the health paths, the radius bounds and the password policy.

    ``result`` is the OpenAPI 3 document as a dict; returns it (modified in place).
    """
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas["Error"] = ERROR_SCHEMA
    _password_policy(schemas)
    paths = result.setdefault("paths", {})
    paths.setdefault("/health", _health_path("Health"))
    paths.setdefault("/health/db", _health_path("Health db"))
    paths.setdefault("/health/redis", _health_path("Health redis"))
    for path, operations in paths.items():
        if path.startswith("/health"):
            continue
        for method, operation in operations.items():
            if method not in {"get", "post", "put", "patch", "delete"}:
                continue
            responses = operation.setdefault("responses", {})
            for status, description in ERROR_STATUSES.items():
                responses.setdefault(status, _error_response(description))
            for parameter in operation.get("parameters", []):
                if parameter.get("in") == "query" and parameter.get("name") == "radius":
                    parameter.setdefault("schema", {}).update(
                        {"minimum": 0, "exclusiveMinimum": True, "maximum": settings.MAP_MAX_RADIUS_M}
                    )
    return result
