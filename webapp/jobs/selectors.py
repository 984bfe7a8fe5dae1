from __future__ import annotations

from django.shortcuts import get_object_or_404

from .models import Job


def jobs_of_team(team, *, limit: int = 50):
    return Job.objects.filter(team=team).select_related("team", "created_by")[:limit]


def job_of_team_or_404(team, job_id: int) -> Job:
    return get_object_or_404(Job.objects.select_related("team"), team=team, pk=job_id)


def jobs_of_teams(teams, *, status: str | None = None, kind: str | None = None):
    """The jobs of several teams (`teams`: a Team queryset, e.g. an API credential's teams),
    optionally only those of one status and/or kind."""
    jobs = Job.objects.filter(team__in=teams).select_related("team")
    if status:
        jobs = jobs.filter(status=status)
    if kind:
        jobs = jobs.filter(kind=kind)
    return jobs


def job_of_teams_or_404(teams, job_id: int) -> Job:
    """One job of these teams; another team's job is 404."""
    return get_object_or_404(jobs_of_teams(teams), pk=job_id)


#: The columns `Job.as_event` reads; the rest (parameters, results, the log tail) can be large and
#: a snapshot of 100 jobs, read for every socket that connects, need not load or decode them.
EVENT_FIELDS = ("id", "team_id", "team__slug", "kind", "title", "status", "progress", "message", "metrics",
                "error", "cancel_requested", "created")


def live_snapshot(team_ids) -> list[dict]:
    """What a job websocket shows on connect and on refresh: the latest 100 jobs of these teams."""
    jobs = (Job.objects.filter(team_id__in=list(team_ids)).select_related("team").only(*EVENT_FIELDS)
            .order_by("-created")[:100])
    return [job.as_event() for job in jobs]
