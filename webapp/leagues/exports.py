"""CSV exports of an event: its results (standings) and its laps. Organisers get everything; anyone
else gets what the public pages show (the laps that rank, no notes or names of who recorded them),
and nothing while the results are hidden. Every cell goes through `services.csv_safe`, so no
spreadsheet runs a team name such as "=HYPERLINK(...)" as a formula."""

from __future__ import annotations

from collections.abc import Iterator

from django.core.exceptions import PermissionDenied

from . import ranking, selectors
from .models import Event, LapResult
from .season import event_places as numbered_places
from .services import csv_text

RESULTS_HEADER = ("event_place", "round", "rank", "team", "score_s", "gap_s", "best_lap_s", "laps", "valid_laps",
                  "resets", "tie_break")
LAPS_HEADER = ("team", "lap", "round", "attempt", "lap_time_s", "resets", "penalised_s", "valid", "source",
               "recorded")
PRIVATE_LAPS_EXTRA = ("ranked", "invalidated_reason", "confirmed_implausible", "recorded_by", "note")


def _seconds(value: float | None) -> str:
    return "" if value is None else f"{value:.3f}"


def check_visible(user, event: Event) -> bool:
    """True when the user sees the private export; PermissionDenied while the results are hidden from them."""
    private = selectors.sees_private_results(user, event)
    if not private and not event.results_revealed:
        raise PermissionDenied("The organisers have not revealed this event's results yet.")
    return private


def results_rows(event: Event) -> Iterator[tuple]:
    """Header, then each round's standings (the event's leaderboard when it has no rounds), with the
    team's final place in the event."""
    place_of = {team.pk: place for place, teams in numbered_places(selectors.event_places(event)) for team in teams}
    yield RESULTS_HEADER
    rounds = list(selectors.rounds_of_event(event))
    sections = [(race_round.name, selectors.round_standings(race_round)) for race_round in rounds] if rounds \
        else [("", selectors.leaderboard(event))]
    for name, standings in sections:
        for standing in standings:
            yield _standing_row(place_of.get(standing.team.pk), name, standing)


def _standing_row(place, round_name: str, standing: ranking.Standing) -> tuple:
    return (place or "", round_name, standing.rank or "", standing.team.name,
            _seconds(standing.score.time_s if standing.score else None), _seconds(standing.gap_s),
            _seconds(standing.best_lap_s), standing.lap_count, standing.valid_lap_count, standing.resets,
            standing.tie_break or "")


def laps_rows(event: Event, *, private: bool) -> Iterator[tuple]:
    """Header, then the laps by team and number: the ranked laps, or (private) every lap with the
    organisers' columns."""
    ranked = set(selectors.ranked_laps(event).values_list("pk", flat=True))
    laps = (LapResult.objects.filter(event=event) if private else selectors.ranked_laps(event)) \
        .select_related("team", "round", "attempt", "recorded_by").order_by("team__name", "team_id", "lap_number")
    yield LAPS_HEADER + (PRIVATE_LAPS_EXTRA if private else ())
    for lap in laps:
        row: tuple = (lap.team.name, lap.lap_number, lap.round.name if lap.round else "",
               lap.attempt.number if lap.attempt else "", _seconds(lap.lap_time_s), lap.resets,
               _seconds(lap.lap_time_s + lap.resets * event.off_track_penalty_s), "yes" if lap.valid else "no",
               lap.get_source_display(), lap.recorded.isoformat())
        if private:
            row += ("yes" if lap.pk in ranked else "no", lap.invalidated_reason,
                    "yes" if lap.confirmed_implausible else "", lap.recorded_by.get_username() if lap.recorded_by
                    else "", lap.note)
        yield row


def results_csv(user, event: Event) -> str:
    check_visible(user, event)
    return csv_text(results_rows(event))


def laps_csv(user, event: Event) -> str:
    return csv_text(laps_rows(event, private=check_visible(user, event)))
