"""Routes of accounts (with or without trailing slash)."""

from core.routing import path_slash_optional as p

from . import views

UUID = r"(?P<user_id>[^/]+)"

urlpatterns = [
    p(r"api/auth/register", views.RegisterView.as_view(), "auth-register"),
    p(r"api/auth/login", views.LoginView.as_view(), "auth-login"),
    p(r"api/auth/refresh", views.RefreshView.as_view(), "auth-refresh"),
    p(r"api/auth/logout", views.LogoutView.as_view(), "auth-logout"),
    p(r"api/auth/me", views.AuthMeView.as_view(), "auth-me"),
    p(r"api/users/me", views.UsersMeView.as_view(), "users-me"),
    p(r"api/users/blocked", views.BlockedListView.as_view(), "users-blocked"),
    p(r"api/users/preferences", views.SettingsView.as_view(), "users-preferences"),
    p(r"api/settings", views.SettingsView.as_view(), "settings"),
    p(rf"api/users/{UUID}/block", views.BlockView.as_view(), "users-block"),
    p(r"api/search", views.SearchView.as_view(), "search"),
]
