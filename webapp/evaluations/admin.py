from django.contrib import admin

from .models import Evaluation, Submission, TrackLimit


@admin.register(Evaluation)
class EvaluationAdmin(admin.ModelAdmin):
    """Read-only for superusers: evaluations are created by teams and filled in by workers."""

    list_display = ("id", "team", "model", "track", "direction", "trials", "created")
    list_filter = ("track", "direction", "profile")
    search_fields = ("id", "team__name", "model__name")
    readonly_fields = [f.name for f in Evaluation._meta.fields]

    def has_module_permission(self, request):
        return request.user.is_superuser

    def has_view_permission(self, request, obj=None):
        return request.user.is_superuser

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(TrackLimit)
class TrackLimitAdmin(admin.ModelAdmin):
    """Superusers may delete a cached limit so the next evaluation recomputes it."""

    list_display = ("track", "direction", "profile", "lap_time_s", "error", "computed")
    readonly_fields = [f.name for f in TrackLimit._meta.fields]

    def has_module_permission(self, request):
        return request.user.is_superuser

    def has_view_permission(self, request, obj=None):
        return request.user.is_superuser

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Submission)
class SubmissionAdmin(TrackLimitAdmin):
    list_display = ("evaluation", "event", "lap_count", "submitted_by", "created")
    readonly_fields = [f.name for f in Submission._meta.fields]
