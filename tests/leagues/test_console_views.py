"""The timekeeper console's page and JSON endpoints (webapp.leagues.console_views): who may use them,
each action through the race services, 409 for a stale version (one lap from two consoles), 400 for a
refused action, the confirmation of an implausibly fast lap, CSRF, and the organisers' audit log."""

import json

import pytest
from django.test import Client
from django.urls import reverse

from webapp.leagues import race, rounds
from webapp.leagues.console_views import audit_changes
from webapp.leagues.models import Attempt, AuditEntry, Crossing, Event, LapResult
from webapp.leagues.services import make_organiser

pytestmark = pytest.mark.django_db


@pytest.fixture
def timekeeper(make_user):
    return make_user("tk")


@pytest.fixture
def event(make_race_event, timekeeper):
    event = make_race_event(max_resets_per_lap=2, min_plausible_lap_s=5.0)
    event.timekeepers.add(timekeeper)
    return event


@pytest.fixture
def other_organiser(make_league, make_event, make_user):
    """The organiser of another league (who may time that league's events, not this one's)."""
    user = make_user("rival")
    league = make_league("Rival Cup")
    make_organiser(user, league)
    make_event(league, kind=Event.Kind.PHYSICAL)
    return user


def urls(event, attempt_id=0):
    args = [event.league.slug, event.pk]
    return {
        "page": reverse("event_console", args=args), "state": reverse("console_state", args=args),
        "create": reverse("console_create_attempt", args=args),
        "action": reverse("console_action", args=[*args, attempt_id]),
        "audit": reverse("event_audit", args=args), "csv": reverse("event_audit_csv", args=args),
    }


def client_of(user, **kwargs) -> Client:
    client = Client(**kwargs)
    client.force_login(user)
    return client


def post(client, url, data):
    return client.post(url, json.dumps(data), content_type="application/json")


def on_track(client, event, team):
    response = post(client, urls(event)["create"], {"team_id": team.pk})
    assert response.status_code == 201, response.content
    return response.json()["state"]["attempt"]


def act(client, event, attempt, action, **extra):
    """One action with the version the console last saw; returns (status, body)."""
    version = extra.pop("expected_version", None)
    if version is None:
        version = Attempt.objects.get(pk=attempt["id"]).version
    response = post(client, urls(event, attempt["id"])["action"], {"action": action, "expected_version": version,
                                                                    **extra})
    is_json = response["Content-Type"] == "application/json"
    return response.status_code, response.json() if is_json else {}


# -- who may use the console ----------------------------------------------------------------------

def test_organisers_and_timekeepers_get_the_console_others_a_404(event, organiser, timekeeper, other_organiser,
                                                                 team_a, client):
    for user in (organiser, timekeeper):
        page = client_of(user).get(urls(event)["page"])
        assert page.status_code == 200
        assert b"data-console" in page.content and b"console-state" in page.content
    for user in (other_organiser, team_a.captain):
        outsider = client_of(user)
        assert outsider.get(urls(event)["page"]).status_code == 404
        assert outsider.get(urls(event)["state"]).status_code == 404
        assert post(outsider, urls(event)["create"], {"team_id": team_a.pk}).status_code == 404
    assert client.get(urls(event)["page"]).status_code == 302  # anonymous: to the login page
    assert not Attempt.objects.exists()


def test_another_leagues_organiser_cannot_act_on_an_attempt(event, organiser, other_organiser, team_a):
    attempt = on_track(client_of(organiser), event, team_a)
    status, _ = act(client_of(other_organiser), event, attempt, "start")
    assert status == 404
    assert Attempt.objects.get(pk=attempt["id"]).status == Attempt.Status.READY
    assert not AuditEntry.objects.filter(action=AuditEntry.Action.ATTEMPT_STARTED).exists()
    # The slug must be the event's own league: the other league's slug with this event's id is a 404.
    rival_slug = other_organiser.organised_leagues.get().slug
    url = reverse("console_state", args=[rival_slug, event.pk])
    assert client_of(other_organiser).get(url).status_code == 404


def test_an_attempt_of_another_event_is_a_404(event, organiser, make_event, team_a):
    other_event = make_event(event.league, name="Round 2", kind=Event.Kind.PHYSICAL)
    other_event.registrations.create(team=team_a)
    client = client_of(organiser)
    attempt = on_track(client, other_event, team_a)
    assert act(client, event, attempt, "start")[0] == 404
    assert client.get(urls(event)["state"] + f"?attempt={attempt['id']}").status_code == 404
    assert client.get(urls(event)["state"] + "?attempt=abc").status_code == 404


def test_the_events_list_shows_only_events_the_user_times(event, timekeeper, other_organiser, make_user):
    url = reverse("timed_event_list")
    assert f'data-event-id="{event.pk}"'.encode() in client_of(timekeeper).get(url).content
    assert f'data-event-id="{event.pk}"'.encode() not in client_of(other_organiser).get(url).content
    assert b"You do not time any event" in client_of(make_user("nobody")).get(url).content


def test_the_event_page_links_the_console_for_those_who_time_it(event, timekeeper, team_a):
    url = event.get_absolute_url()
    assert b"data-console-link" in client_of(timekeeper).get(url).content
    assert b"data-console-link" not in client_of(team_a.captain).get(url).content


# -- the attempt, action by action ---------------------------------------------------------------

def test_a_timed_attempt_through_the_endpoints(event, timekeeper, team_a, clock):
    client = client_of(timekeeper)
    attempt = on_track(client, event, team_a)
    assert attempt["status"] == "ready" and attempt["team"]["name"] == "Team Alpha"

    status, body = act(client, event, attempt, "start")
    assert status == 200 and body["state"]["attempt"]["status"] == "running"
    clock.advance(7.61)
    status, body = act(client, event, attempt, "lap")
    assert status == 200
    assert [(lap["number"], lap["time_s"]) for lap in body["state"]["attempt"]["laps"]] == [(1, 7.61)]
    assert act(client, event, attempt, "add_reset")[1]["state"]["attempt"]["current_resets"] == 1
    assert act(client, event, attempt, "add_reset")[1]["state"]["attempt"]["current_resets"] == 2
    assert act(client, event, attempt, "remove_reset")[1]["state"]["attempt"]["current_resets"] == 1
    clock.advance(2)
    assert act(client, event, attempt, "pause")[1]["state"]["attempt"]["status"] == "paused"
    clock.advance(5)
    state = act(client, event, attempt, "resume")[1]["state"]["attempt"]
    assert state["paused_total_s"] == pytest.approx(5.0)
    clock.advance(6)
    laps = act(client, event, attempt, "lap")[1]["state"]["attempt"]["laps"]
    assert [(lap["number"], lap["time_s"], lap["resets"]) for lap in laps] == [(1, 7.61, 0), (2, 8.0, 1)]
    state = act(client, event, attempt, "throttle", percent=65)[1]["state"]
    assert state["attempt"]["throttle_percent"] == 65
    # The server's clock and the race timer's numbers, for the page to count down from.
    assert state["server_time"] == pytest.approx(clock.now.timestamp())
    assert state["attempt"]["remaining_s"] == pytest.approx(event.attempt_time_s - 15.61)
    assert state["attempt"]["undo"] == {"action": "Throttle set", "by": "tk"}
    state = act(client, event, attempt, "end")[1]["state"]["attempt"]
    assert state["status"] == "finished"
    # A reload (or a second console) reads the same state.
    again = client.get(urls(event)["state"]).json()["state"]["attempt"]
    assert again == state
    assert client_of(timekeeper).get(urls(event)["state"] + f"?attempt={attempt['id']}").json()["state"][
        "attempt"]["version"] == state["version"]


def test_undo_walks_back_the_last_actions(event, organiser, team_a, clock):
    client = client_of(organiser)
    attempt = on_track(client, event, team_a)
    act(client, event, attempt, "start")
    clock.advance(8)
    act(client, event, attempt, "lap")
    act(client, event, attempt, "add_reset")
    state = act(client, event, attempt, "undo")[1]["state"]["attempt"]
    assert state["current_resets"] == 0 and len(state["laps"]) == 1
    state = act(client, event, attempt, "undo")[1]["state"]["attempt"]
    assert state["laps"] == [] and state["status"] == "running"
    assert not LapResult.objects.exists()
    assert AuditEntry.objects.filter(action=AuditEntry.Action.UNDO).count() == 2


def test_dnf_keeps_its_reason(event, organiser, team_a):
    client = client_of(organiser)
    attempt = on_track(client, event, team_a)
    act(client, event, attempt, "start")
    status, body = act(client, event, attempt, "dnf", reason="battery died")
    assert status == 200 and body["state"]["attempt"]["status"] == "dnf"
    assert AuditEntry.objects.get(action=AuditEntry.Action.DNF).reason == "battery died"


def test_invalidate_and_restore_a_lap_with_a_reason(event, organiser, team_a, team_b, clock):
    client = client_of(organiser)
    attempt = on_track(client, event, team_a)
    act(client, event, attempt, "start")
    clock.advance(9)
    lap_id = act(client, event, attempt, "lap")[1]["state"]["attempt"]["laps"][0]["id"]
    status, body = act(client, event, attempt, "invalidate_lap", lap_id=lap_id, reason="")
    assert status == 400 and "why" in body["error"].lower()
    status, body = act(client, event, attempt, "invalidate_lap", lap_id=lap_id, reason="cut the chicane")
    lap = body["state"]["attempt"]["laps"][0]
    assert status == 200 and (lap["valid"], lap["reason"]) == (False, "cut the chicane")
    status, body = act(client, event, attempt, "restore_lap", lap_id=lap_id, reason="video: on track")
    assert status == 200 and body["state"]["attempt"]["laps"][0]["valid"] is True
    entry = AuditEntry.objects.get(action=AuditEntry.Action.LAP_INVALIDATED)
    assert (entry.old["valid"], entry.new["valid"], entry.reason) == (True, False, "cut the chicane")
    # A lap of another team's attempt cannot be reached through this attempt.
    act(client, event, attempt, "end")
    other = on_track(client, event, team_b)
    assert act(client, event, other, "invalidate_lap", lap_id=lap_id, reason="x")[0] == 404


def test_ignore_and_restore_a_timer_crossing(event, organiser, team_a):
    client = client_of(organiser)
    attempt = on_track(client, event, team_a)
    act(client, event, attempt, "start")
    device, _ = race.issue_device(user=organiser, event=event, name="Finish line")
    for n, seconds in enumerate((0.0, 8.0, 12.0, 20.0)):  # the crossing at 12 s is a person in the beam
        race.ingest_crossing(device, f"c{n}", int(seconds * 1_000_000))
    state = client.get(urls(event)["state"]).json()["state"]["attempt"]
    assert [lap["time_s"] for lap in state["laps"]] == [8.0, 4.0, 8.0]
    assert state["timed_by_device"] is True
    beam = next(c for c in state["crossings"] if c["crossing_id"] == "c2")
    status, body = act(client, event, attempt, "ignore_crossing", crossing_id=beam["id"], reason="person")
    assert status == 200
    assert [lap["time_s"] for lap in body["state"]["attempt"]["laps"]] == [8.0, 12.0]
    status, body = act(client, event, attempt, "restore_crossing", crossing_id=beam["id"], reason="it was the car")
    assert [lap["time_s"] for lap in body["state"]["attempt"]["laps"]] == [8.0, 4.0, 8.0]
    assert Crossing.objects.get(pk=beam["id"]).status == Crossing.Status.COUNTED


# -- two consoles, lost answers, refusals ----------------------------------------------------------

def test_two_consoles_pressing_lap_on_the_same_version_make_one_lap(event, organiser, timekeeper, team_a, clock):
    first, second = client_of(organiser), client_of(timekeeper)
    attempt = on_track(first, event, team_a)
    act(first, event, attempt, "start")
    seen = Attempt.objects.get(pk=attempt["id"]).version  # both consoles show this version
    clock.advance(7.7)
    status_1, _ = act(first, event, attempt, "lap", expected_version=seen)
    status_2, body = act(second, event, attempt, "lap", expected_version=seen)
    assert (status_1, status_2) == (200, 409)
    assert body["stale"] is True
    assert "Another console recorded “Lap added” (org," in body["error"]
    assert [lap["number"] for lap in body["state"]["attempt"]["laps"]] == [1]
    assert body["state"]["attempt"]["version"] == seen + 1
    assert LapResult.objects.count() == 1


def test_a_resent_action_whose_answer_was_lost_does_not_count_twice(event, organiser, team_a, clock):
    client = client_of(organiser)
    attempt = on_track(client, event, team_a)
    act(client, event, attempt, "start")
    seen = Attempt.objects.get(pk=attempt["id"]).version
    clock.advance(8)
    assert act(client, event, attempt, "lap", expected_version=seen)[0] == 200
    # The page's retry of the same press (marked resent: a second press within a second is a double press).
    status, body = act(client, event, attempt, "lap", expected_version=seen, resent=True)
    assert status == 409 and body["error"].startswith("Already recorded: “Lap added” from your earlier press")
    assert LapResult.objects.count() == 1


def test_refused_actions_answer_400_with_the_reason(event, organiser, team_a, make_team):
    client = client_of(organiser)
    attempt = on_track(client, event, team_a)
    status, body = act(client, event, attempt, "pause")
    assert status == 400 and body["error"] == "Cannot pause: the attempt is ready."
    assert body["state"]["attempt"]["status"] == "ready"
    assert act(client, event, attempt, "throttle", percent=140)[0] == 400
    assert act(client, event, attempt, "fly")[1]["error"] == "Unknown action “fly”."
    response = client.post(urls(event, attempt["id"])["action"], "not json", content_type="application/json")
    assert response.status_code == 400
    assert post(client, urls(event, attempt["id"])["action"], {"action": "start"}).status_code == 400
    # Only registered teams go on track; a second team cannot start while one is on track.
    stranger = make_team("Team Stranger")
    response = post(client, urls(event)["create"], {"team_id": stranger.pk})
    assert response.status_code == 400 and "Team Stranger" in response.json()["error"]
    assert post(client, urls(event)["create"], {}).json()["error"] == "Choose the team on track."
    assert Attempt.objects.count() == 1


def test_a_lap_below_the_plausible_minimum_needs_a_confirmation(event, timekeeper, team_a, clock):
    client = client_of(timekeeper)
    attempt = on_track(client, event, team_a)
    act(client, event, attempt, "start")
    clock.advance(2.5)  # the event's plausible minimum is 5 s
    status, body = act(client, event, attempt, "lap")
    assert status == 400 and body["needs_confirmation"] is True
    assert (body["lap_time_s"], body["minimum_s"]) == (2.5, 5.0)
    assert not LapResult.objects.exists()
    clock.advance(4)  # the timekeeper reads the dialog; the lap keeps the moment of the first press
    tampered = body["capture"][:-2] + ("AA" if not body["capture"].endswith("AA") else "BB")
    assert act(client, event, attempt, "lap", confirm=True, capture=tampered)[0] == 400
    status, body = act(client, event, attempt, "lap", confirm=True, capture=body["capture"])
    assert status == 200
    lap = body["state"]["attempt"]["laps"][0]
    assert (lap["time_s"], lap["valid"], lap["confirmed_implausible"]) == (2.5, True, True)


def test_a_confirmation_is_for_its_own_attempt(event, organiser, team_a, team_b, clock):
    client = client_of(organiser)
    first = on_track(client, event, team_a)
    act(client, event, first, "start")
    clock.advance(1)
    capture = act(client, event, first, "lap")[1]["capture"]
    act(client, event, first, "end")
    second = on_track(client, event, team_b)
    act(client, event, second, "start")
    clock.advance(1)
    status, body = act(client, event, second, "lap", confirm=True, capture=capture)
    assert status == 400 and "another attempt" in body["error"]


def test_actions_need_the_csrf_token(event, organiser, team_a):
    client = client_of(organiser, enforce_csrf_checks=True)
    response = post(client, urls(event)["create"], {"team_id": team_a.pk})
    assert response.status_code == 403
    page = client.get(urls(event)["page"])
    token = page.cookies["csrftoken"].value
    response = client.post(urls(event)["create"], json.dumps({"team_id": team_a.pk}),
                           content_type="application/json", HTTP_X_CSRFTOKEN=token)
    assert response.status_code == 201


def test_the_console_offers_a_rounds_heats_and_teams(event, organiser, team_a, team_b, make_team):
    client = client_of(organiser)
    for name in ("Team C", "Team D"):
        event.registrations.create(team=make_team(name))
    qualifying = rounds.create_round(user=organiser, event=event, name="Qualifying")
    final = rounds.create_round(user=organiser, event=event, name="Knockout", kind="single_elimination")
    rounds.seed_round(user=organiser, race_round=final, teams=[team_a, team_b])
    page = client.get(urls(event)["page"])
    setup = page.context["setup"]
    assert [r["name"] for r in setup["rounds"]] == ["Qualifying", "Knockout"]
    assert len(setup["rounds"][0]["teams"]) == 4
    heat = setup["rounds"][1]["heats"][0]
    assert {t["name"] for t in heat["teams"]} == {"Team Alpha", "Team Bravo"}
    response = post(client, urls(event)["create"], {"team_id": team_a.pk, "round_id": final.pk, "heat_id": heat["id"]})
    assert response.status_code == 201
    assert response.json()["state"]["attempt"]["heat"] == heat["key"]
    # A round of another event is not found.
    other = rounds.create_round(user=organiser, event=Event.objects.create(
        league=event.league, name="Other", track="t", starts=event.starts, ends=event.ends), name="Q")
    assert post(client, urls(event)["create"], {"team_id": team_b.pk, "round_id": other.pk}).status_code == 404
    del qualifying


# -- the audit log -------------------------------------------------------------------------------

def test_the_audit_log_is_for_organisers_and_exports_csv(event, organiser, timekeeper, other_organiser, team_a,
                                                         clock):
    client = client_of(timekeeper)
    attempt = on_track(client, event, team_a)
    act(client, event, attempt, "start")
    clock.advance(8)
    lap_id = act(client, event, attempt, "lap")[1]["state"]["attempt"]["laps"][0]["id"]
    act(client, event, attempt, "invalidate_lap", lap_id=lap_id, reason="=HYPERLINK(\"x\")")
    for user in (timekeeper, other_organiser):
        assert client_of(user).get(urls(event)["audit"]).status_code == 404
        assert client_of(user).get(urls(event)["csv"]).status_code == 404
    page = client_of(organiser).get(urls(event)["audit"])
    assert page.status_code == 200
    text = page.content.decode()
    assert text.count("data-audit-action=") == 3
    assert 'data-audit-action="lap_invalidated"' in text and "tk" in text
    assert "valid: True → False" in text and "lap #1: 8.0 s, 0 resets, valid" in text
    response = client_of(organiser).get(urls(event)["csv"])
    assert response["Content-Type"].startswith("text/csv")
    lines = response.content.decode().splitlines()
    assert lines[0].startswith("when,who,action")
    assert len(lines) == 4
    assert "'=HYPERLINK" in lines[-1]  # a spreadsheet does not run it


def test_audit_changes_name_only_what_changed():
    started = {"status": "running", "current_resets": 0, "started_at": "2026-12-01T13:54:47.656810+00:00"}
    assert audit_changes(started, {**started, "current_resets": 1}) == ["current resets: 0 → 1"]
    added = {"lap": {"id": 4, "lap_number": 2, "lap_time_s": 7.61, "resets": 1, "valid": True},
             "attempt": {**started, "current_resets": 0}}
    assert audit_changes({**started, "current_resets": 1}, added) == [
        "lap #2: 7.61 s, 1 resets, valid", "current resets: 1 → 0"]
    lap = {"id": 4, "valid": True, "invalidated_reason": ""}
    assert audit_changes(lap, {**lap, "valid": False, "invalidated_reason": "cut"}) == [
        "invalidated reason: – → cut", "valid: True → False"]
    assert audit_changes(None, {"status": "ready"}) == []
    assert audit_changes({"ended_at": None}, {"ended_at": "2026-12-01T13:54:51.387915+00:00"})[0].startswith(
        "ended at: – → ")
