"""Health endpoints: ``/health``, ``/health/db``, ``/health/redis``."""

from django.db import connection
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET

from .redis import get_redis


@csrf_exempt
@require_GET
def health(request):
    """200 ``{"status": "ok"}`` while the process serves requests."""
    return JsonResponse({"status": "ok"})


@csrf_exempt
@require_GET
def health_db(request):
    """200 ``{"status": "ok"}`` when PostgreSQL answers and PostGIS is installed, else 503 naming the failure."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT postgis_lib_version()")
            cursor.fetchone()
    except Exception as exc:
        return JsonResponse(
            {"error": {"code": "database_unavailable", "message": f"database: {exc.__class__.__name__}"}}, status=503
        )
    return JsonResponse({"status": "ok"})


@csrf_exempt
@require_GET
def health_redis(request):
    """200 ``{"status": "ok"}`` when Redis answers PING, else 503 naming the failure."""
    try:
        get_redis().ping()
    except Exception as exc:
        return JsonResponse(
            {"error": {"code": "redis_unavailable", "message": f"redis: {exc.__class__.__name__}"}}, status=503
        )
    return JsonResponse({"status": "ok"})
