from django.contrib import admin

from webapp.core.admin import SuperuserReadOnlyAdmin

from .models import RewardFunction, RewardFunctionVersion


class VersionInline(admin.TabularInline):
    model = RewardFunctionVersion
    extra = 0
    fields = ("number", "sha256", "ok", "validated_track", "validated", "created_by", "created")
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(RewardFunction)
class RewardFunctionAdmin(SuperuserReadOnlyAdmin):
    """A team's code: superusers only (organisers never see it), read-only."""

    list_display = ("id", "name", "team", "archived", "created")
    list_filter = ("archived",)
    search_fields = ("name", "team__name")
    inlines = [VersionInline]


@admin.register(RewardFunctionVersion)
class RewardFunctionVersionAdmin(SuperuserReadOnlyAdmin):
    list_display = ("id", "function", "number", "ok", "validated_track", "created")
    list_filter = ("ok",)
    search_fields = ("function__name", "function__team__name", "sha256")
