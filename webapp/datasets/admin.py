from django.contrib import admin

from .models import Dataset, RecoverySegment


class RecoveryInline(admin.TabularInline):
    model = RecoverySegment
    extra = 0
    readonly_fields = ("start", "end", "note", "created_by", "created")


@admin.register(Dataset)
class DatasetAdmin(admin.ModelAdmin):
    """Read-only for superusers: datasets change through uploads and ingestion jobs only."""

    list_display = ("id", "name", "team", "status", "frames", "rows_skipped", "created")
    list_filter = ("status",)
    search_fields = ("name", "team__name", "source_name")
    readonly_fields = [f.name for f in Dataset._meta.fields]
    inlines = [RecoveryInline]

    def has_module_permission(self, request):
        return request.user.is_superuser

    def has_view_permission(self, request, obj=None):
        return request.user.is_superuser

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
