from __future__ import annotations

from django.shortcuts import get_object_or_404

from .models import Job


def jobs_of_team(team, *, limit: int = 50):
    return Job.objects.filter(team=team).select_related("team", "created_by")[:limit]


def job_of_team_or_404(team, job_id: int) -> Job:
    return get_object_or_404(Job.objects.select_related("team"), team=team, pk=job_id)
