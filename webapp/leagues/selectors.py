"""Read-side queries for leagues: who may see what, and the leaderboards (rules in ranking.py)."""

from __future__ import annotations

from django.db.models import Count, Q
from django.shortcuts import get_object_or_404
from django.utils import timezone

from webapp.accounts.selectors import team_ids_of

from . import ranking
from .models import Event, LapResult, League, Registration


def visible_leagues(user):
    """Public leagues, plus invite-only ones that invited one of the user's teams or that they organise."""
    leagues = League.objects.all()
    if user.is_authenticated and user.is_superuser:
        return leagues
    condition = Q(visibility=League.Visibility.PUBLIC)
    if user.is_authenticated:
        condition |= Q(invited_teams__in=team_ids_of(user)) | Q(organisers=user)
    return leagues.filter(condition).distinct()


def is_organiser(user, league: League) -> bool:
    if not user.is_authenticated:
        return False
    return user.is_superuser or league.organisers.filter(pk=user.pk).exists()


def league_or_404(user, slug: str) -> League:
    return get_object_or_404(visible_leagues(user), slug=slug)


def visible_events(user, league: League):
    """Drafts stay with the organisers until they open the event."""
    events = league.events.annotate(team_count=Count("registrations", distinct=True))
    if not is_organiser(user, league):
        events = events.exclude(status=Event.Status.DRAFT)
    return events


def event_or_404(user, league_slug: str, event_id: int) -> Event:
    league = league_or_404(user, league_slug)
    return get_object_or_404(visible_events(user, league).select_related("league"), pk=event_id)


def upcoming_events(user, *, limit: int = 6):
    """Events of leagues the user can see that have not ended, soonest first."""
    return (
        Event.objects.filter(league__in=visible_leagues(user), ends__gte=timezone.now())
        .exclude(status__in=[Event.Status.DRAFT, Event.Status.CANCELLED])
        .select_related("league")
        .annotate(team_count=Count("registrations", distinct=True))
        .order_by("starts")[:limit]
    )


def registrations_of_event(event: Event):
    return event.registrations.select_related("team").order_by("created")


def registration_of(event: Event, team) -> Registration | None:
    if team is None:
        return None
    return event.registrations.filter(team=team).first()


def registrations_of_team(team):
    return (
        Registration.objects.filter(team=team)
        .select_related("event", "event__league")
        .order_by("event__starts")
    )


def leaderboard(event: Event) -> list[ranking.Standing]:
    """The event's standings under its ranking rule; registered teams without laps appear unranked."""
    laps_by_team: dict = {registration.team: [] for registration in registrations_of_event(event)}
    for lap in LapResult.objects.filter(event=event).select_related("team"):
        laps_by_team.setdefault(lap.team, []).append(lap)
    return ranking.rank_teams(
        laps_by_team, event.ranking_rule, event.consecutive_laps, event.off_track_penalty_s
    )


def league_list_rows(user):
    return visible_leagues(user).annotate(
        event_count=Count("events", filter=~Q(events__status=Event.Status.DRAFT), distinct=True)
    )
