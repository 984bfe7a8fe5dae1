from __future__ import annotations

from collections.abc import Callable

from django.shortcuts import get_object_or_404
from django.urls import reverse

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


#: Stands for a job's id in a URL reversed once for many jobs (see `_job_urls`).
_URL_ID_PLACEHOLDER = 987654321987654321


def _job_urls(slug: str) -> Callable[[int], str]:
    """`Job.get_absolute_url` of a team's jobs by id, with one `reverse` for the team instead of
    one per job (100 reverses were a third of a snapshot's time)."""
    head, _, tail = reverse("job_detail", args=[slug, _URL_ID_PLACEHOLDER]).rpartition(str(_URL_ID_PLACEHOLDER))
    return lambda job_id: f"{head}{job_id}{tail}"


def live_snapshot(team_ids) -> list[dict]:
    """What a job websocket shows on connect and on refresh: the latest 100 jobs of these teams, as
    `Job.as_event` makes them. Read as rows of the event's columns only (the parameters, results
    and log tail can be large), without building model instances: it is read for every burst of
    sockets that connect."""
    rows = list(Job.objects.filter(team_id__in=list(team_ids)).order_by("-created")
                .values(*Job.EVENT_COLUMNS, "team__slug")[:100])
    urls: dict[str, Callable[[int], str]] = {}
    events = []
    for row in rows:
        slug = row["team__slug"]
        if slug not in urls:
            urls[slug] = _job_urls(slug)
        events.append(Job.event_of(row, urls[slug](row["id"])))
    return events
