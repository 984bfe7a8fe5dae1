"""The live event leaderboard: one board document (webapp.leagues.boards) for the event page, the big
screen, the overlay and /ws/events/<id>/; its per-process cache follows Event.board_version; hidden
results stay with the organisers; viewers see each lap without reloading."""

from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from tests.support.waiting import run_async
from webapp.asgi import application
from webapp.leagues import boards, race
from webapp.leagues.models import Event, League
from webapp.leagues.services import make_organiser

T0 = timezone.now().replace(microsecond=0)


def at(seconds: float):
    return T0 + timedelta(seconds=seconds)


@pytest.fixture
def event(make_race_event):
    event = make_race_event(ranking_rule="best_lap", off_track_penalty_s=2.0)
    return event


def run_attempt(event, organiser, team, laps, start_s=0.0, end=False):
    attempt = race.create_attempt(user=organiser, event=event, team=team)
    attempt = race.start(user=organiser, attempt=attempt, expected_version=attempt.version, now=at(start_s))
    clock = start_s
    for seconds in laps:
        clock += seconds
        attempt.refresh_from_db()
        race.capture_lap(user=organiser, attempt=attempt, expected_version=attempt.version, now=at(clock))
    attempt.refresh_from_db()
    if end:
        attempt = race.end(user=organiser, attempt=attempt, expected_version=attempt.version, now=at(clock + 1))
    return attempt


@pytest.mark.django_db
def test_board_ranks_with_gap_and_shows_the_team_on_track(event, organiser, team_a, team_b):
    run_attempt(event, organiser, team_a, [8.0, 7.5], end=True)
    attempt = run_attempt(event, organiser, team_b, [9.25], start_s=100)
    event.refresh_from_db()
    doc = boards.board(event)
    assert [(r["team"], r["rank"]) for r in doc["rows"]] == [(team_a.name, 1), (team_b.name, 2)]
    assert doc["rows"][0]["score_s"] == pytest.approx(7.5) and doc["rows"][0]["gap_s"] in (None, 0.0)
    assert doc["rows"][1]["gap_s"] == pytest.approx(1.75)
    assert doc["rows"][0]["laps"] == 2 and doc["rows"][0]["valid_laps"] == 2
    on_track = doc["on_track"]
    assert on_track["team"] == team_b.name and on_track["attempt_id"] == attempt.pk
    assert on_track["status"] == "running" and on_track["time_limit_s"] == pytest.approx(event.attempt_time_s)
    assert on_track["started_at"] == pytest.approx(at(100).timestamp())
    assert [lap["time_s"] for lap in on_track["laps"]] == [pytest.approx(9.25)]


@pytest.mark.django_db
def test_every_change_bumps_the_version_and_the_cache_follows_it(event, organiser, team_a,
                                                                 django_assert_num_queries):
    event.refresh_from_db()
    before = event.board_version
    assert boards.cached_board(event)["rows"][0]["score_s"] is None
    run_attempt(event, organiser, team_a, [8.0])
    stale = Event.objects.get(pk=event.pk)
    assert stale.board_version > before
    assert boards.cached_board(stale)["rows"][0]["score_s"] == pytest.approx(8.0)
    with django_assert_num_queries(0):  # the same version again: no read at all
        assert boards.cached_board(stale)["rows"][0]["score_s"] == pytest.approx(8.0)


@pytest.mark.django_db
def test_hidden_results_are_for_organisers_only(event, organiser, team_a, client):
    run_attempt(event, organiser, team_a, [8.0])
    Event.objects.filter(pk=event.pk).update(results_revealed=False)
    event.refresh_from_db()
    public = boards.board(event)
    assert public["hidden"] is True and public["rows"] == [] and public["on_track"] is None
    assert boards.board(event, private=True)["rows"][0]["team"] == team_a.name
    url = reverse("event_board_json", args=[event.league.slug, event.pk])
    assert client.get(url).json()["rows"] == []
    client.force_login(organiser)
    assert client.get(url).json()["rows"][0]["team"] == team_a.name


@pytest.mark.django_db
def test_screen_overlay_and_json_pages(event, organiser, team_a, client):
    run_attempt(event, organiser, team_a, [8.0])
    slug = event.league.slug
    page = client.get(reverse("event_detail", args=[slug, event.pk])).content.decode()
    assert 'data-live-board' in page and "8.000 s" in page and 'id="board-data"' in page
    screen = client.get(reverse("event_screen", args=[slug, event.pk])).content.decode()
    assert "board-screen" in screen and team_a.name in screen
    overlay = client.get(reverse("event_overlay", args=[slug, event.pk]) + "?rows=1").content.decode()
    assert "board-overlay" in overlay and 'data-max-rows="1"' in overlay
    assert client.get(reverse("event_overlay", args=[slug, event.pk]) + "?rows=x").status_code == 200


@pytest.mark.django_db
def test_private_league_boards_are_404_to_outsiders(make_league, make_event, client, team_b):
    league = make_league("Closed", visibility=League.Visibility.INVITE_ONLY)
    event = make_event(league)
    for name in ("event_board_json", "event_screen", "event_overlay"):
        assert client.get(reverse(name, args=[league.slug, event.pk])).status_code == 404
    client.force_login(team_b.captain)
    assert client.get(reverse("event_board_json", args=[league.slug, event.pk])).status_code == 404


def _socket(event_id: int, cookie: bytes | None = None):
    headers = [(b"origin", b"http://127.0.0.1:8000"), (b"host", b"127.0.0.1:8000")]
    if cookie:
        headers.append((b"cookie", cookie))
    return WebsocketCommunicator(application, f"/ws/events/{event_id}/", headers=headers)


@pytest.mark.django_db(transaction=True)
def test_socket_sends_the_board_and_each_new_lap(event, organiser, team_a):
    attempt = race.create_attempt(user=organiser, event=event, team=team_a)
    attempt = race.start(user=organiser, attempt=attempt, expected_version=attempt.version, now=at(0))

    def capture(seconds):
        attempt.refresh_from_db()
        race.capture_lap(user=organiser, attempt=attempt, expected_version=attempt.version, now=at(seconds))

    async def scenario():
        ws = _socket(event.pk)  # a spectator without an account
        connected, _ = await ws.connect()
        assert connected
        first = await ws.receive_json_from(timeout=5)
        assert first["type"] == "board" and first["on_track"]["team"] == team_a.name
        assert first["sent_at"] > 0 and first["rows"][0]["score_s"] is None
        await sync_to_async(capture)(8.0)
        update = await ws.receive_json_from(timeout=5)
        assert update["version"] > first["version"]
        assert update["rows"][0]["score_s"] == pytest.approx(8.0)
        assert update["on_track"]["laps"][0]["time_s"] == pytest.approx(8.0)
        await ws.disconnect()

    run_async(scenario)


@pytest.mark.django_db(transaction=True)
def test_socket_refuses_drafts_and_private_leagues_and_hides_unrevealed_results(
        make_league, make_event, event, organiser, team_a, client):
    draft = make_event(event.league, name="Draft", status=Event.Status.DRAFT)
    closed = make_event(make_league("Closed", visibility=League.Visibility.INVITE_ONLY), name="Closed")
    run_attempt(event, organiser, team_a, [8.0])
    Event.objects.filter(pk=event.pk).update(results_revealed=False)
    client.force_login(organiser)
    cookie = f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}".encode()

    async def scenario():
        for event_id in (draft.pk, closed.pk, 999999):
            ws = _socket(event_id)
            connected, code = await ws.connect()
            if connected:  # accepted then closed: Channels reports the close as the next output
                code = (await ws.receive_output(timeout=5)).get("code")
            assert code == 4404, event_id
        public = _socket(event.pk)
        assert (await public.connect())[0]
        doc = await public.receive_json_from(timeout=5)
        assert doc["hidden"] is True and doc["rows"] == []
        await public.disconnect()
        private = _socket(event.pk, cookie)
        assert (await private.connect())[0]
        doc = await private.receive_json_from(timeout=5)
        assert doc["hidden"] is False and doc["rows"][0]["team"] == team_a.name
        await private.disconnect()

    run_async(scenario)


@pytest.mark.django_db
def test_bracket_round_board_shows_the_heat_in_play_then_the_final_places(make_league, make_event, make_team,
                                                                          organiser):
    """The board of a knockout round ranks the heat on track as the heat is decided (every attempt
    in it counts), not the round's laps by the event's rule; a decided bracket shows its places."""
    from webapp.leagues import rounds
    from webapp.leagues.models import Round

    league = make_league()
    make_organiser(organiser, league)
    event = make_event(league, kind=Event.Kind.PHYSICAL, ranking_rule="best_lap", attempts_per_team=1,
                       min_plausible_lap_s=0.5)
    teams = [make_team(f"Team {i}") for i in range(1, 5)]
    for team in teams:
        event.registrations.create(team=team)
    clock = [0.0]

    def drive(team, laps, race_round, heat=None, end=True):
        attempt = race.create_attempt(user=organiser, event=event, team=team, race_round=race_round, heat=heat)
        attempt = race.start(user=organiser, attempt=attempt, expected_version=attempt.version, now=at(clock[0]))
        for seconds in laps:
            clock[0] += seconds
            attempt.refresh_from_db()
            race.capture_lap(user=organiser, attempt=attempt, expected_version=attempt.version, now=at(clock[0]))
        attempt.refresh_from_db()
        if end:
            clock[0] += 1
            race.end(user=organiser, attempt=attempt, expected_version=attempt.version, now=at(clock[0]))
        clock[0] += 5

    qualifying = rounds.create_round(user=organiser, event=event, name="Qualifying")
    for index, team in enumerate(teams):
        drive(team, [8.0 + index], qualifying)
    knockout = rounds.create_round(user=organiser, event=event, name="Knockout",
                                   kind=Round.Kind.SINGLE_ELIMINATION)
    rounds.seed_round(user=organiser, race_round=knockout, from_round=qualifying)
    semi = knockout.heats.get(key="W1-1")  # Team 1 v Team 4
    drive(semi.team_a, [9.0], knockout, semi)
    drive(semi.team_b, [7.0], knockout, semi, end=False)  # the underdog on track, faster
    doc = boards.board(Event.objects.get(pk=event.pk))
    assert doc["heat"] == "W1-1" and doc["round"] == "Knockout"
    assert [(r["team"], r["rank"]) for r in doc["rows"]] == [("Team 4", 1), ("Team 1", 2)]

    attempt = event.attempts.get(team=semi.team_b, heat=semi)
    race.end(user=organiser, attempt=attempt, expected_version=attempt.version, now=at(clock[0] + 1))
    rounds.decide_heat(user=organiser, heat=semi)
    other = knockout.heats.get(key="W1-2")
    drive(other.team_a, [7.5], knockout, other)
    drive(other.team_b, [8.5], knockout, other)
    rounds.decide_heat(user=organiser, heat=other)
    final = knockout.heats.get(key=next(h.key for h in knockout.heats.all() if h.round_index == 2))
    drive(final.team_a, [7.2], knockout, final)
    drive(final.team_b, [6.9], knockout, final)
    rounds.decide_heat(user=organiser, heat=final)
    doc = boards.board(Event.objects.get(pk=event.pk))
    assert doc["heat"] is None
    assert doc["rows"][0]["rank"] == 1 and doc["rows"][0]["place_text"] == "winner"
    assert doc["rows"][0]["team"] == final.team_b.name
