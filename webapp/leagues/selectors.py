"""Read-side queries for leagues: who may see what, and the leaderboards (rules in ranking.py)."""

from __future__ import annotations

from django.db.models import Count, Q
from django.shortcuts import get_object_or_404
from django.utils import timezone

from webapp.accounts.models import Team
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


def _organised_leagues(user):
    return League.objects.all() if user.is_superuser else League.objects.filter(organisers=user)


def lap_team_choices(user, event: Event | None = None):
    """The teams a lap may be recorded for in the admin: those with an approved registration for the
    event (for any event the user organises while no event is chosen). The rule itself is
    `services.lap_problem`; this only keeps other teams out of the dropdown."""
    registrations = Registration.objects.filter(approved=True)
    if event is not None:
        registrations = registrations.filter(event=event)
    else:
        registrations = registrations.filter(event__league__in=_organised_leagues(user))
    return Team.objects.filter(pk__in=registrations.values("team_id")).order_by("name")


def registration_team_choices(user, league: League | None = None, current_team_id: int | None = None):
    """The teams an organiser may register in the admin: those invited to the league and those
    already registered for one of its events (for every league they organise while none is chosen),
    plus the registration's current team. Superusers may register any team."""
    if user.is_superuser:
        return Team.objects.order_by("name")
    leagues = _organised_leagues(user)
    if league is not None:
        leagues = leagues.filter(pk=league.pk)
    condition = Q(league_invitations__in=leagues) | Q(registrations__event__league__in=leagues)
    if current_team_id is not None:
        condition |= Q(pk=current_team_id)
    return Team.objects.filter(pk__in=Team.objects.filter(condition).values("pk")).order_by("name")
