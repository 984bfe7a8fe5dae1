from django.contrib import admin

from webapp.core.admin import SuperuserReadOnlyAdmin

from .models import Dataset, RecoverySegment


class RecoveryInline(admin.TabularInline):
    model = RecoverySegment
    extra = 0
    readonly_fields = ("start", "end", "note", "created_by", "created")


@admin.register(Dataset)
class DatasetAdmin(SuperuserReadOnlyAdmin):
    """Read-only for superusers: datasets change through uploads and ingestion jobs only."""

    list_display = ("id", "name", "team", "status", "frames", "rows_skipped", "created")
    list_filter = ("status",)
    search_fields = ("name", "team__name", "source_name")
    inlines = [RecoveryInline]
