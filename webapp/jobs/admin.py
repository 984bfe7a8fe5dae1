from django.contrib import admin

from webapp.core.admin import SuperuserReadOnlyAdmin

from .models import Job


@admin.register(Job)
class JobAdmin(SuperuserReadOnlyAdmin):
    """Read-only for superusers: job state is changed by workers and the cancel button only."""

    list_display = ("id", "kind", "team", "status", "progress", "attempts", "worker", "created", "finished")
    list_filter = ("status", "kind", "queue")
    search_fields = ("id", "title", "team__name", "worker")
