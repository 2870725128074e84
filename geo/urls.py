"""Routes of geo (with or without trailing slash)."""

from core.routing import path_slash_optional as p

from . import views

urlpatterns = [
    p(r"api/location", views.LocationView.as_view(), "location"),
    p(r"api/users/location", views.LocationView.as_view(), "users-location"),
    p(r"api/map_nodes", views.MapNodesView.as_view(), "map-nodes"),
    p(r"api/users/nearby", views.NearbyUsersView.as_view(), "users-nearby"),
]
