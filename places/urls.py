"""Routes of places (with or without trailing slash)."""

from core.routing import path_slash_optional as p

from . import views

urlpatterns = [
    p(r"api/places/nearby", views.PlacesNearbyView.as_view(), "places-nearby"),
    p(r"api/routes/suggestions", views.RouteSuggestionsView.as_view(), "routes-suggestions"),
]
