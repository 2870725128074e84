"""Root URLs: admin, health, OpenAPI, app APIs. Errors render in the one error shape."""

from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from django.views.static import serve
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from accounts.views import admin_login
from core import health
from core.routing import path_slash_optional as p

urlpatterns = [
    # Before admin.site.urls: the admin login spends the API login throttles.
    path("admin/login/", admin_login, name="admin-login"),
    path("admin/", admin.site.urls),
    p(r"health", health.health, "health"),
    p(r"health/db", health.health_db, "health-db"),
    p(r"health/redis", health.health_redis, "health-redis"),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    path("", include("accounts.urls")),
    path("", include("geo.urls")),
    path("", include("places.urls")),
    path("", include("messaging.urls")),
    path("", include("notifications.urls")),
    path("", include("walks.urls")),
]

if settings.DEBUG:
    from django.urls import re_path

    urlpatterns += [re_path(r"^media/(?P<path>.*)$", serve, {"document_root": settings.MEDIA_ROOT})]

handler400 = "core.errors.json_400"
handler403 = "core.errors.json_403"
handler404 = "core.errors.json_404"
handler500 = "core.errors.json_500"
