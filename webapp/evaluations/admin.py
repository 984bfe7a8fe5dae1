from django.contrib import admin

from webapp.core.admin import SuperuserReadOnlyAdmin

from .models import Evaluation, Submission, TrackLimit


@admin.register(Evaluation)
class EvaluationAdmin(SuperuserReadOnlyAdmin):
    """Read-only for superusers: evaluations are created by teams and filled in by workers."""

    list_display = ("id", "team", "model", "track", "direction", "trials", "created")
    list_filter = ("track", "direction", "profile")
    search_fields = ("id", "team__name", "model__name")


@admin.register(TrackLimit)
class TrackLimitAdmin(SuperuserReadOnlyAdmin):
    """Superusers may delete a cached limit so the next evaluation recomputes it."""

    list_display = ("track", "direction", "profile", "lap_time_s", "error", "computed")


@admin.register(Submission)
class SubmissionAdmin(SuperuserReadOnlyAdmin):
    list_display = ("evaluation", "event", "lap_count", "submitted_by", "created")
