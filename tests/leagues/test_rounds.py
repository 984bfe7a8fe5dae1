"""Rounds of a race day: a 16-team qualifying round seeds a single-elimination bracket, its heats
are raced (two teams' attempts, head to head) to a final, and the event is ranked."""

import itertools

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from tests.leagues.helpers import RaceClock, drive
from webapp.leagues import race, rounds, selectors
from webapp.leagues.models import Event, Heat, Round
from webapp.leagues.services import make_organiser

T0 = timezone.now().replace(microsecond=0)


@pytest.fixture
def race_day(make_league, make_event, make_user, make_team):
    league = make_league()
    organiser = make_user("org")
    make_organiser(organiser, league)
    event = make_event(league, kind=Event.Kind.PHYSICAL, ranking_rule="best_lap", attempt_time_s=120)
    teams = [make_team(f"Team {i:02d}") for i in range(1, 17)]
    for team in teams:
        event.registrations.create(team=team)
    return organiser, event, teams


@pytest.mark.django_db
def test_qualifying_seeds_a_bracket_raced_to_a_final(race_day):
    organiser, event, teams = race_day
    clock = RaceClock(T0)
    qualifying = rounds.create_round(user=organiser, event=event, name="Qualifying")
    # Team 01 is fastest, Team 16 slowest.
    for index, team in enumerate(teams):
        drive(organiser, event, team, [8.0 + index * 0.1, 9.5], clock, race_round=qualifying)
    standings = selectors.round_standings(qualifying)
    assert [s.team.name for s in standings][:3] == ["Team 01", "Team 02", "Team 03"]

    knockout = rounds.create_round(user=organiser, event=event, name="Knockout", kind=Round.Kind.SINGLE_ELIMINATION)
    heats = rounds.seed_round(user=organiser, race_round=knockout, from_round=qualifying)
    qualifying.refresh_from_db()
    assert qualifying.status == Round.Status.FINISHED
    first_round = [h for h in heats if h.round_index == 1]
    assert len(first_round) == 8 and len(heats) == 15
    opener = Heat.objects.get(round=knockout, key="W1-1")
    assert (opener.team_a.name, opener.team_b.name, opener.seed_a, opener.seed_b) == ("Team 01", "Team 16", 1, 16)

    # Race every ready heat; the lower seed wins except one upset in the first round (Team 09 beats 08).
    upsets = {"Team 09"}
    for _ in range(4):
        for heat in Heat.objects.filter(round=knockout, winner__isnull=True).exclude(team_a=None).exclude(team_b=None):
            favourite, other = sorted([heat.team_a, heat.team_b], key=lambda t: t.name)
            if other.name in upsets and heat.round_index == 1:
                favourite, other = other, favourite
            drive(organiser, event, favourite, [7.6], clock, race_round=knockout, heat=heat)
            drive(organiser, event, other, [7.9], clock, race_round=knockout, heat=heat)
            decided = rounds.decide_heat(user=organiser, heat=heat)
            assert decided.winner == favourite
    knockout.refresh_from_db()
    assert knockout.status == Round.Status.FINISHED
    final = Heat.objects.get(round=knockout, round_index=4)
    assert {final.team_a.name, final.team_b.name} == {"Team 01", "Team 02"}
    places = rounds.round_ranking(knockout)
    assert [t.name for t in places[0]] == ["Team 01"] and [t.name for t in places[1]] == ["Team 02"]
    assert sorted(t.name for t in places[2]) == ["Team 03", "Team 04"]  # semi-final losers share 3rd
    assert Heat.objects.get(round=knockout, key="W1-2").winner.name == "Team 09"  # the upset (8 v 9)
    event_places = rounds.event_ranking(event)
    assert sum(len(place) for place in event_places) == 16
    assert [t.name for t in event_places[0]] == ["Team 01"]


@pytest.mark.django_db
def test_byes_and_a_tied_heat(race_day):
    organiser, event, teams = race_day
    event.tie_break = "next_best_lap,fewer_resets"  # no "earliest": equal laps stay tied
    event.save()
    clock = RaceClock(T0)
    knockout = rounds.create_round(user=organiser, event=event, name="KO", kind=Round.Kind.SINGLE_ELIMINATION)
    rounds.seed_round(user=organiser, race_round=knockout, teams=teams[:13])
    first = Heat.objects.filter(round=knockout, round_index=1)
    byes = [h for h in first if h.winner_id is not None]
    assert sorted(h.winner.name for h in byes) == ["Team 01", "Team 02", "Team 03"]
    heat = next(h for h in first if h.winner_id is None)
    with pytest.raises(ValidationError, match="tied"):
        rounds.decide_heat(user=organiser, heat=heat)  # nobody raced yet
    drive(organiser, event, heat.team_a, [8.0], clock, race_round=knockout, heat=heat)
    drive(organiser, event, heat.team_b, [8.0], clock, race_round=knockout, heat=heat)
    with pytest.raises(ValidationError, match="race it again"):
        rounds.decide_heat(user=organiser, heat=heat)
    # A re-run breaks the tie (heat attempts are not limited by attempts per team).
    drive(organiser, event, heat.team_b, [7.5], clock, race_round=knockout, heat=heat)
    assert rounds.decide_heat(user=organiser, heat=heat).winner == heat.team_b


@pytest.mark.django_db
def test_groups_snake_seeding_and_qualifiers(race_day):
    organiser, event, teams = race_day
    clock = RaceClock(T0)
    groups = rounds.create_round(user=organiser, event=event, name="Groups", kind=Round.Kind.GROUPS, group_count=4)
    rounds.seed_round(user=organiser, race_round=groups, teams=teams)
    members = {g: [h.team_a.name for h in Heat.objects.filter(round=groups, group=g).order_by("position")]
               for g in range(1, 5)}
    assert members[1] == ["Team 01", "Team 08", "Team 09", "Team 16"]
    times = itertools.count(8.0, 0.05)
    for team in teams:
        drive(organiser, event, team, [next(times)], clock, race_round=groups)
    final = rounds.create_round(user=organiser, event=event, name="Final", kind=Round.Kind.FINAL)
    rounds.seed_round(user=organiser, race_round=final, from_round=groups)  # top 2 of each group
    # Group winners first, then runners-up (each tier by score): groups 1-4 hold 01/08, 02/07, 03/06, 04/05.
    assert [t.name for t in rounds.seeded_teams(final)] == [
        "Team 01", "Team 02", "Team 03", "Team 04", "Team 05", "Team 06", "Team 07", "Team 08"]


@pytest.mark.django_db
def test_rounds_are_for_this_leagues_organisers(race_day, make_user, make_league):
    organiser, event, teams = race_day
    other = make_user("other-org")
    make_organiser(other, make_league("Other League"))
    with pytest.raises(PermissionDenied):
        rounds.create_round(user=other, event=event, name="Sneaky")
    knockout = rounds.create_round(user=organiser, event=event, name="KO", kind=Round.Kind.SINGLE_ELIMINATION)
    with pytest.raises(PermissionDenied):
        rounds.seed_round(user=other, race_round=knockout, teams=teams[:4])
    rounds.seed_round(user=organiser, race_round=knockout, teams=teams[:4])
    with pytest.raises(PermissionDenied):
        rounds.decide_heat(user=other, heat=Heat.objects.filter(round=knockout).first())


@pytest.mark.django_db
def test_a_double_elimination_round_is_stored_and_advanced(race_day):
    organiser, event, teams = race_day
    clock = RaceClock(T0)
    bracket = rounds.create_round(user=organiser, event=event, name="DE", kind=Round.Kind.DOUBLE_ELIMINATION)
    rounds.seed_round(user=organiser, race_round=bracket, teams=teams[:8])
    keys = set(Heat.objects.filter(round=bracket).values_list("key", flat=True))
    assert {"W1-1", "L1-1", "GF"} <= keys and len(keys) == len(rounds.matches_of(bracket))
    heat = Heat.objects.get(round=bracket, key="W1-1")
    drive(organiser, event, heat.team_b, [7.5], clock, race_round=bracket, heat=heat)  # the 8th seed wins
    drive(organiser, event, heat.team_a, [7.9], clock, race_round=bracket, heat=heat)
    assert rounds.decide_heat(user=organiser, heat=heat).winner.name == "Team 08"
    loser_slot = Heat.objects.get(round=bracket, key="L1-1")
    assert "Team 01" in {getattr(loser_slot.team_a, "name", None), getattr(loser_slot.team_b, "name", None)}
    bracket.refresh_from_db()
    assert bracket.status == Round.Status.RUNNING


@pytest.mark.django_db
def test_the_admin_seeds_and_decides_rounds(client, race_day, make_user, make_league):
    from django.urls import reverse

    organiser, event, teams = race_day
    clock = RaceClock(T0)
    qualifying = rounds.create_round(user=organiser, event=event, name="Qualifying")
    for index, team in enumerate(teams[:4]):
        drive(organiser, event, team, [8.0 + index * 0.1], clock, race_round=qualifying)
    knockout = rounds.create_round(user=organiser, event=event, name="KO", kind=Round.Kind.SINGLE_ELIMINATION)
    changelist = reverse("admin:leagues_round_changelist")
    other = make_user("other-org")
    make_organiser(other, make_league("Other League"))
    client.force_login(other)  # another league's organiser: the round is not theirs to act on
    client.post(changelist, {"action": "seed_from_previous", "_selected_action": [knockout.pk]})
    assert not Heat.objects.exists()
    client.force_login(organiser)
    client.post(changelist, {"action": "seed_from_previous", "_selected_action": [knockout.pk]})
    assert Heat.objects.filter(round=knockout).count() == 3
    opener = Heat.objects.get(round=knockout, key="W1-1")
    drive(organiser, event, opener.team_a, [7.5], clock, race_round=knockout, heat=opener)
    drive(organiser, event, opener.team_b, [7.7], clock, race_round=knockout, heat=opener)
    client.post(changelist, {"action": "decide_raced_heats", "_selected_action": [knockout.pk]})
    opener.refresh_from_db()
    assert opener.winner == opener.team_a
    assert Heat.objects.get(round=knockout, round_index=2).team_a == opener.team_a


@pytest.mark.django_db
def test_attempts_in_a_round_belong_to_its_field(race_day):
    organiser, event, teams = race_day
    knockout = rounds.create_round(user=organiser, event=event, name="KO", kind=Round.Kind.SINGLE_ELIMINATION)
    rounds.seed_round(user=organiser, race_round=knockout, teams=teams[:4])
    with pytest.raises(ValidationError, match="pick the heat"):
        race.create_attempt(user=organiser, event=event, team=teams[0], race_round=knockout)
    heat = Heat.objects.get(round=knockout, key="W1-1")
    with pytest.raises(ValidationError, match="does not race in heat"):
        race.create_attempt(user=organiser, event=event, team=teams[1], race_round=knockout, heat=heat)
    final = rounds.create_round(user=organiser, event=event, name="Final", kind=Round.Kind.FINAL)
    rounds.seed_round(user=organiser, race_round=final, teams=teams[:2])
    with pytest.raises(ValidationError, match="not in the field"):
        race.create_attempt(user=organiser, event=event, team=teams[5], race_round=final)
    assert race.create_attempt(user=organiser, event=event, team=teams[0], race_round=final).number == 1
