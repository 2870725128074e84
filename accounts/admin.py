"""Admin for users, roles, settings and blocks.

The user and settings forms apply the same role-slug, filter and age-range
rules as the API (``selectors.roles_validate``), so staff cannot store what
a client would get a 400 for. Roles staff grant here count for visibility at
once (no ``role_since`` stamp) and may include roles users cannot give
themselves (``Role.self_assignable`` false: ``organizer``, ``business``).
"""

from django import forms
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.contrib.auth.forms import UserChangeForm

from core.errors import InvalidInput

from .models import Block, Role, User, UserSettings
from .selectors import roles_validate
from .services import block_create, block_delete, role_since_update, user_staff_saved


def _known_roles(value, field: str) -> list[str]:
    try:
        return roles_validate(list(value or []), field=field)
    except InvalidInput as exc:
        raise forms.ValidationError(exc.message, code=exc.code)


@admin.register(Role)
class RoleAdmin(admin.ModelAdmin):
    """Role slugs users may hold; ``self_assignable`` off means only staff grant it."""

    list_display = ["slug", "name", "self_assignable"]
    list_filter = ["self_assignable"]
    search_fields = ["slug", "name"]


class UserAdminForm(UserChangeForm):
    """Change form for users: ``roles`` must be known role slugs."""

    def clean_roles(self):
        return _known_roles(self.cleaned_data.get("roles"), "roles")


class UserSettingsAdminForm(forms.ModelForm):
    """Settings inline: known role slugs, ``filters`` only ``{"show_roles": [...]}``, min age <= max age."""

    class Meta:
        model = UserSettings
        fields = list(UserSettings.EDITABLE_FIELDS)

    def clean_visible_roles(self):
        return _known_roles(self.cleaned_data.get("visible_roles"), "visible_roles")

    def clean_filters(self):
        filters = self.cleaned_data.get("filters") or {}
        if not isinstance(filters, dict) or set(filters) - {"show_roles"}:
            raise forms.ValidationError("Only 'show_roles' is supported.", code="invalid")
        return {"show_roles": _known_roles(filters.get("show_roles"), "filters.show_roles")}

    def clean(self):
        data = super().clean()
        age_min, age_max = data.get("age_range_min"), data.get("age_range_max")
        if age_min is not None and age_max is not None and age_min > age_max:
            self.add_error("age_range_min", "Must not exceed age_range_max.")
        return data


class UserSettingsInline(admin.StackedInline):
    model = UserSettings
    form = UserSettingsAdminForm
    can_delete = False


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    """Users by email; settings inline."""

    form = UserAdminForm
    ordering = ["-created_at"]
    list_display = ["email", "username", "full_name", "roles", "is_active", "is_staff", "created_at"]
    list_filter = ["is_active", "is_staff", "gender"]
    search_fields = ["email", "username", "full_name"]
    readonly_fields = ["created_at", "updated_at", "last_login", "role_since"]
    inlines = [UserSettingsInline]
    fieldsets = (
        (None, {"fields": ("email", "username", "password")}),
        (
            "Profile",
            {
                "fields": (
                    "full_name",
                    "bio",
                    "profile_photo",
                    "birth_date",
                    "gender",
                    "roles",
                    "role_since",
                    "vehicle_type",
                )
            },
        ),
        ("Permissions", {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")}),
        ("Dates", {"fields": ("last_login", "created_at", "updated_at")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "username", "password1", "password2")}),)

    def save_model(self, request, obj, form, change):
        """Roles added by staff are granted, not claimed: they count for visibility at once.

        Drops the ``role_since`` entries of added and removed roles
        (:func:`accounts.services.role_since_update` with ``staff=True``).
        """
        if change and "roles" in form.changed_data:
            old = form.initial.get("roles") or []
            obj.role_since = role_since_update(old, obj.roles, obj.role_since, staff=True)
        super().save_model(request, obj, form, change)
        if change:
            user_staff_saved(user=obj, changed=set(form.changed_data))

    def save_formset(self, request, form, formset, change):
        """Save the settings inline, then refresh live sockets when sharing, ``visible_roles`` or filters changed."""
        super().save_formset(request, form, formset, change)
        changed = set()
        for inline_form in formset.forms:
            changed.update(inline_form.changed_data)
        if change and changed:
            user_staff_saved(user=form.instance, changed=changed)


class BlockAdminForm(forms.ModelForm):
    """Refuses a self-block in the form (the service would refuse it too)."""

    class Meta:
        model = Block
        fields = ["blocker", "blocked"]

    def clean(self):
        data = super().clean()
        if data.get("blocker") and data.get("blocker") == data.get("blocked"):
            raise forms.ValidationError("A user cannot block themself.")
        return data


@admin.register(Block)
class BlockAdmin(admin.ModelAdmin):
    """Blocks between users; adding and deleting go through ``block_create``/``block_delete``.

    So a block made or lifted by staff drops or restores the pair on live
    maps and in rooms at once, as the users' own blocks do. A block is not
    edited in place (delete it and add another).
    """

    form = BlockAdminForm
    list_display = ["blocker", "blocked", "created_at"]
    raw_id_fields = ["blocker", "blocked"]

    def get_readonly_fields(self, request, obj=None):
        """Both sides are read-only on an existing block."""
        return ["blocker", "blocked"] if obj is not None else []

    def save_model(self, request, obj, form, change):
        """Create through :func:`accounts.services.block_create` (idempotent; self-blocks refused)."""
        if change:
            return
        block, _ = block_create(blocker=obj.blocker, blocked_id=obj.blocked_id)
        obj.pk = block.pk

    def delete_model(self, request, obj):
        """Delete through :func:`accounts.services.block_delete`."""
        block_delete(blocker=obj.blocker, blocked_id=obj.blocked_id)

    def delete_queryset(self, request, queryset):
        """Bulk delete, one service call per block."""
        for block in queryset.select_related("blocker"):
            block_delete(blocker=block.blocker, blocked_id=block.blocked_id)
