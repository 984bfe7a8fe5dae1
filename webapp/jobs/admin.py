from django.contrib import admin

from .models import Job


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    """Read-only for superusers: job state is changed by workers and the cancel button only."""

    list_display = ("id", "kind", "team", "status", "progress", "attempts", "worker", "created", "finished")
    list_filter = ("status", "kind", "queue")
    search_fields = ("id", "title", "team__name", "worker")
    readonly_fields = [f.name for f in Job._meta.fields]

    def has_module_permission(self, request):
        return request.user.is_superuser

    def has_view_permission(self, request, obj=None):
        return request.user.is_superuser

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
