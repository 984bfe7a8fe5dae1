"""Race rules found by the outside test of issue 12: physical timing only for physical events that
take it (console, timer device and admin, one rule), laps completed after the race time, attempts in
decided heats and finished rounds, a team put on track while another runs, a double LAP press."""

import json
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from webapp.leagues import race, rounds, selectors, services
from webapp.leagues.models import Attempt, AuditEntry, Event, Heat, LapResult, Round

pytestmark = pytest.mark.django_db

T0 = timezone.now().replace(microsecond=0)
S = 1_000_000


def at(seconds: float):
    return T0 + timedelta(seconds=seconds)


@pytest.fixture
def event(make_race_event):
    return make_race_event(ranking_rule="best_lap", attempt_time_s=120)


def fresh(attempt):
    attempt.refresh_from_db()
    return attempt


def running(user, event, team, when=0.0):
    attempt = race.create_attempt(user=user, event=event, team=team)
    return race.start(user=user, attempt=attempt, expected_version=attempt.version, now=at(when))


def set_status(event, status):
    Event.objects.filter(pk=event.pk).update(status=status)
    event.refresh_from_db()


def client_of(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def console_url(name, event, *extra):
    return reverse(name, args=[event.league.slug, event.pk, *extra])


def post_json(client, url, data):
    return client.post(url, json.dumps(data), content_type="application/json")


# -- 1. physical timing only where the event takes it -------------------------------------------

def test_the_rule_per_kind_and_status(event, make_league, make_event):
    assert race.physical_timing_problem(event) is None
    virtual = make_event(make_league("Sim Cup"), kind=Event.Kind.VIRTUAL)
    assert "virtual race" in race.physical_timing_problem(virtual)
    assert "virtual race" in race.physical_timing_problem(virtual, correction=True)
    cases = [(Event.Status.RUNNING, None, None), (Event.Status.CANCELLED, "cancelled", "cancelled"),
             (Event.Status.FINISHED, "is finished", None), (Event.Status.DRAFT, "draft", None)]
    for status, new, correction in cases:
        event.status = status
        for allowed, problem in ((False, new), (True, correction)):
            found = race.physical_timing_problem(event, correction=allowed)
            assert (found is None) if problem is None else (problem in found), (status, allowed, found)


def test_a_virtual_event_takes_no_console_attempt_device_crossing_or_typed_lap(
        make_league, make_event, organiser, team_a, client):
    from webapp.leagues.services import make_organiser

    league = make_league("Sim Cup")
    make_organiser(organiser, league)
    virtual = make_event(league, name="Virtual GP", kind=Event.Kind.VIRTUAL)
    virtual.registrations.create(team=team_a)
    with pytest.raises(race.TimingClosed, match="virtual race"):
        race.create_attempt(user=organiser, event=virtual, team=team_a)
    answer = post_json(client_of(organiser), console_url("console_create_attempt", virtual), {"team_id": team_a.pk})
    assert answer.status_code == 400 and "virtual race" in answer.json()["error"]
    assert f'data-event-id="{virtual.pk}"' not in client_of(organiser).get(reverse("timed_event_list")).content.decode()
    page = client_of(organiser).get(console_url("event_console", virtual)).content.decode()
    assert "data-timing-closed" in page and "is a virtual race" in page
    _, token = race.issue_device(user=organiser, event=virtual, name="Finish line")
    posted = APIClient().post("/api/v1/timer/crossings/", {"crossing_id": "a", "device_time_us": 100 * S},
                              format="json", HTTP_AUTHORIZATION=f"Device {token}")
    assert posted.status_code == 409 and "virtual race" in posted.json()["detail"]
    with pytest.raises(ValidationError, match="virtual race"):  # the admin's service
        services.record_lap(event=virtual, team=team_a, lap_time_s=9.0, source=LapResult.Source.TIMEKEEPER)
    assert not LapResult.objects.filter(event=virtual).exists()
    # Laps timed at a track before this rule existed never rank on a virtual board (nor as its best lap).
    LapResult.objects.create(event=virtual, team=team_a, lap_number=1, lap_time_s=7.61,
                             source=LapResult.Source.TIMEKEEPER)
    assert selectors.best_laps(virtual) == {}
    assert [line.rank for line in selectors.leaderboard(virtual)] == [None]


def test_a_cancelled_events_console_and_device_refuse(event, organiser, team_a, client):
    attempt = running(organiser, event, team_a)
    _, token = race.issue_device(user=organiser, event=event, name="Finish line")
    set_status(event, Event.Status.CANCELLED)
    with pytest.raises(race.TimingClosed, match="cancelled"):
        race.capture_lap(user=organiser, attempt=fresh(attempt), expected_version=attempt.version, now=at(8))
    answer = post_json(client_of(organiser), console_url("console_action", event, attempt.pk),
                       {"action": "lap", "expected_version": attempt.version})
    assert answer.status_code == 400 and "was cancelled" in answer.json()["error"]
    assert "was cancelled" in client_of(organiser).get(console_url("event_console", event)).content.decode()
    posted = APIClient().post("/api/v1/timer/crossings/", {"crossing_id": "a", "device_time_us": 100 * S},
                              format="json", HTTP_AUTHORIZATION=f"Device {token}")
    assert posted.status_code == 409 and "cancelled" in posted.json()["detail"]
    with pytest.raises(ValidationError, match="cancelled"):  # the admin's service
        services.record_lap(event=event, team=team_a, lap_time_s=9.0)
    assert not LapResult.objects.filter(event=event).exists()


def test_a_finished_event_takes_no_new_attempt_but_organisers_correct_it(event, organiser, team_a, team_b,
                                                                         make_user):
    timekeeper = make_user("tk")
    event.timekeepers.add(timekeeper)
    attempt = running(organiser, event, team_a)
    lap = race.capture_lap(user=organiser, attempt=fresh(attempt), expected_version=attempt.version, now=at(8))
    set_status(event, Event.Status.FINISHED)
    with pytest.raises(race.TimingClosed, match="is finished"):
        race.create_attempt(user=organiser, event=event, team=team_b)
    with pytest.raises(race.TimingClosed, match="is finished"):
        race.capture_lap(user=organiser, attempt=fresh(attempt), expected_version=attempt.version, now=at(16))
    with pytest.raises(race.TimingClosed, match="only its organisers"):
        race.invalidate_lap(user=timekeeper, lap=lap, reason="cut the chicane", expected_version=attempt.version)
    race.invalidate_lap(user=organiser, lap=lap, reason="cut the chicane", expected_version=attempt.version)
    race.end(user=organiser, attempt=fresh(attempt), expected_version=fresh(attempt).version, now=at(20))
    lap.refresh_from_db()
    assert not lap.valid and fresh(attempt).status == Attempt.Status.FINISHED
    assert AuditEntry.objects.filter(lap=lap, action=AuditEntry.Action.LAP_INVALIDATED,
                                     actor=organiser).exists()
    # An organiser may still type the laps of a finished race day from the paper sheet (audited).
    typed = services.record_lap(event=event, team=team_b, lap_time_s=9.5, recorded_by=organiser)
    assert typed.valid


# -- 2. laps completed after the race time ------------------------------------------------------

def test_a_lap_completed_after_the_race_time_is_recorded_invalid_with_the_reason(event, organiser, team_a, clock):
    attempt = running(organiser, event, team_a)
    inside = race.capture_lap(user=organiser, attempt=fresh(attempt), expected_version=attempt.version, now=at(119))
    late = race.capture_lap(user=organiser, attempt=fresh(attempt), expected_version=fresh(attempt).version,
                            now=at(126))
    assert inside.valid and inside.ends_at_s == 119
    assert (late.valid, late.invalidated_reason, late.ends_at_s) == (False, "completed after the 120 s race time", 126)
    clock.now = at(127)
    state = client_of(organiser).get(console_url("console_state", event)).json()["state"]
    shown = {lap["number"]: (lap["valid"], lap["reason"]) for lap in state["attempt"]["laps"]}
    assert shown == {1: (True, ""), 2: (False, "completed after the 120 s race time")}
    assert fresh(attempt).status == Attempt.Status.RUNNING  # never ended behind the timekeeper's back
    # A timekeeper may restore it as the organisers' decision: it then counts on the board (audited).
    def board_best():
        return {line.team.pk: line.best_lap_s for line in selectors.leaderboard(event)}

    assert board_best()[team_a.pk] == 119.0
    race.restore_lap(user=organiser, lap=late, reason="organisers: the horn was late",
                     expected_version=fresh(attempt).version)
    late.refresh_from_db()
    assert late.valid and late.ends_at_s is None
    assert board_best()[team_a.pk] == 7.0
    entry = AuditEntry.objects.get(lap=late, action=AuditEntry.Action.LAP_RESTORED)
    assert entry.old["ends_at_s"] == 126 and entry.reason == "organisers: the horn was late"
    race.undo_last(user=organiser, attempt=fresh(attempt), expected_version=fresh(attempt).version)
    late.refresh_from_db()
    assert (late.valid, late.ends_at_s) == (False, 126)


def test_the_console_page_has_the_time_up_hint(event, organiser):
    page = client_of(organiser).get(console_url("event_console", event)).content.decode()
    assert "data-time-up" in page and "does not end by itself" in page


# -- 3. decided heats and finished rounds -------------------------------------------------------

def test_no_attempt_in_a_decided_heat_or_a_finished_qualifying_round(event, organiser, team_a, team_b, make_team):
    teams = [team_a, team_b]
    for name in ("Team C", "Team D"):
        team = make_team(name)
        event.registrations.create(team=team)
        teams.append(team)
    qualifying = rounds.create_round(user=organiser, event=event, name="Qualifying")
    for number, team in enumerate(teams):
        attempt = race.create_attempt(user=organiser, event=event, team=team, race_round=qualifying)
        attempt = race.start(user=organiser, attempt=attempt, expected_version=attempt.version, now=at(200 * number))
        race.capture_lap(user=organiser, attempt=attempt, expected_version=attempt.version,
                         now=at(200 * number + 8 + number))
        race.end(user=organiser, attempt=fresh(attempt), expected_version=fresh(attempt).version,
                 now=at(200 * number + 30))
    knockout = rounds.create_round(user=organiser, event=event, name="KO", kind=Round.Kind.SINGLE_ELIMINATION)
    rounds.seed_round(user=organiser, race_round=knockout, from_round=qualifying)
    qualifying.refresh_from_db()
    assert qualifying.status == Round.Status.FINISHED
    with pytest.raises(ValidationError, match="Qualifying is finished"):
        race.create_attempt(user=organiser, event=event, team=teams[3], race_round=qualifying)
    heat = Heat.objects.get(round=knockout, team_a=teams[0])
    for index, team in enumerate((heat.team_a, heat.team_b)):
        attempt = race.create_attempt(user=organiser, event=event, team=team, race_round=knockout, heat=heat)
        attempt = race.start(user=organiser, attempt=attempt, expected_version=attempt.version,
                             now=at(1000 + 100 * index))
        race.capture_lap(user=organiser, attempt=attempt, expected_version=attempt.version,
                         now=at(1000 + 100 * index + 8 + index))
        race.end(user=organiser, attempt=fresh(attempt), expected_version=fresh(attempt).version,
                 now=at(1000 + 100 * index + 30))
    assert rounds.decide_heat(user=organiser, heat=heat).winner == teams[0]
    with pytest.raises(ValidationError, match="is decided already"):
        race.create_attempt(user=organiser, event=event, team=heat.team_b, race_round=knockout, heat=heat)


# -- 4. a team put on track while another runs --------------------------------------------------

def test_putting_a_team_on_track_while_another_runs_says_so(event, organiser, team_a, team_b):
    Event.objects.filter(pk=event.pk).update(attempts_per_team=3)
    alpha = running(organiser, event, team_a)
    answer = post_json(client_of(organiser), console_url("console_create_attempt", event), {"team_id": team_b.pk})
    assert answer.status_code == 201
    body = answer.json()
    assert "“Team Alpha” is still on track" in body["notice"] and "end its attempt first" in body["notice"]
    assert body["state"]["attempt"]["team"]["name"] == "Team Alpha"  # the console stays on the running team
    assert Attempt.objects.get(pk=body["created"]).team == team_b
    race.end(user=organiser, attempt=fresh(alpha), expected_version=fresh(alpha).version, now=at(30))
    quiet = post_json(client_of(organiser), console_url("console_create_attempt", event), {"team_id": team_a.pk})
    assert quiet.status_code == 201 and "notice" not in quiet.json()


# -- 5. a double LAP press ----------------------------------------------------------------------

def test_a_second_lap_press_within_a_second_says_the_lap_is_recorded(event, organiser, team_a, clock):
    attempt = running(organiser, event, team_a)
    client = client_of(organiser)
    url = console_url("console_action", event, attempt.pk)
    clock.now = at(8)
    press = {"action": "lap", "expected_version": fresh(attempt).version}
    assert post_json(client, url, press).status_code == 200
    clock.advance(0.4)
    second = post_json(client, url, press)
    assert second.status_code == 409
    assert second.json()["error"].startswith("Lap already recorded by your previous press (lap 1")
    assert LapResult.objects.filter(attempt=attempt).count() == 1
    # The page marks a request it resends after a network failure: that is a lost answer, not a double press.
    assert "answer was lost" in post_json(client, url, {**press, "resent": True}).json()["error"]
    # Much later, the same refusal is a lost answer resent, as before.
    clock.advance(10)
    assert "answer was lost" in post_json(client, url, press).json()["error"]
