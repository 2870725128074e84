"""Admin for users, roles, settings and blocks."""

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from .models import Block, Role, User, UserSettings


@admin.register(Role)
class RoleAdmin(admin.ModelAdmin):
    """Role slugs users may hold."""

    list_display = ["slug", "name"]
    search_fields = ["slug", "name"]


class UserSettingsInline(admin.StackedInline):
    model = UserSettings
    can_delete = False


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    """Users by email; settings inline."""

    ordering = ["-created_at"]
    list_display = ["email", "username", "full_name", "roles", "is_active", "is_staff", "created_at"]
    list_filter = ["is_active", "is_staff", "gender"]
    search_fields = ["email", "username", "full_name"]
    readonly_fields = ["created_at", "updated_at", "last_login"]
    inlines = [UserSettingsInline]
    fieldsets = (
        (None, {"fields": ("email", "username", "password")}),
        (
            "Profile",
            {"fields": ("full_name", "bio", "profile_photo", "birth_date", "gender", "roles", "vehicle_type")},
        ),
        ("Permissions", {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")}),
        ("Dates", {"fields": ("last_login", "created_at", "updated_at")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "username", "password1", "password2")}),)


@admin.register(Block)
class BlockAdmin(admin.ModelAdmin):
    """Blocks between users."""

    list_display = ["blocker", "blocked", "created_at"]
    raw_id_fields = ["blocker", "blocked"]
