from django.contrib import admin

from .models import InceptionWeights, TrainedModel


class SuperuserReadOnly(admin.ModelAdmin):
    """Read-only for superusers: models change through training jobs only."""

    def has_module_permission(self, request):
        return request.user.is_superuser

    def has_view_permission(self, request, obj=None):
        return request.user.is_superuser

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(TrainedModel)
class TrainedModelAdmin(SuperuserReadOnly):
    list_display = ("id", "name", "team", "kind", "status", "group_key", "created")
    list_filter = ("status", "kind")
    search_fields = ("name", "team__name", "group_key")
    readonly_fields = [f.name for f in TrainedModel._meta.fields]


@admin.register(InceptionWeights)
class InceptionWeightsAdmin(SuperuserReadOnly):
    list_display = ("id", "name", "team", "size", "created")
    search_fields = ("name", "team__name")
    readonly_fields = [f.name for f in InceptionWeights._meta.fields]
