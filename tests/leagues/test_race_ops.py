"""The timekeeper's actions on an attempt (webapp.leagues.race): server-side timing, optimistic
concurrency between consoles, undo, plausibility confirmation, permissions and the audit log."""

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from webapp.leagues import race
from webapp.leagues.models import Attempt, AuditEntry, Event, LapResult
from webapp.leagues.services import make_organiser

T0 = timezone.now().replace(microsecond=0)


def at(seconds: float):
    return T0 + timedelta(seconds=seconds)


@pytest.fixture
def event(make_race_event):
    event = make_race_event(ranking_rule="best_lap", max_resets_per_lap=2,
                       off_track_penalty_s=2.0)
    return event


@pytest.fixture
def attempt(event, organiser, team_a):
    return race.create_attempt(user=organiser, event=event, team=team_a)


def started(attempt, organiser):
    return race.start(user=organiser, attempt=attempt, expected_version=attempt.version, now=at(0))


def lap(attempt, user, seconds, **kwargs):
    attempt.refresh_from_db()
    return race.capture_lap(user=user, attempt=attempt, expected_version=attempt.version, now=at(seconds), **kwargs)


@pytest.mark.django_db
def test_a_timed_attempt_start_laps_reset_pause_end(attempt, organiser):
    started(attempt, organiser)
    first = lap(attempt, organiser, 7.61)
    attempt.refresh_from_db()
    race.add_reset(user=organiser, attempt=attempt, expected_version=attempt.version)
    attempt.refresh_from_db()
    race.pause(user=organiser, attempt=attempt, expected_version=attempt.version, now=at(10))
    attempt.refresh_from_db()
    assert attempt.status == Attempt.Status.PAUSED
    race.resume(user=organiser, attempt=attempt, expected_version=attempt.version, now=at(15))
    second = lap(attempt, organiser, 23.0)  # 7.61 -> 23.0 minus the 5 s pause
    attempt.refresh_from_db()
    race.end(user=organiser, attempt=attempt, expected_version=attempt.version, now=at(30))
    attempt.refresh_from_db()
    assert (first.lap_number, first.lap_time_s, first.resets, first.source) == (1, 7.61, 0, "timekeeper")
    assert (second.lap_number, second.lap_time_s, second.resets) == (2, 10.39, 1)
    assert second.ends_at_s == pytest.approx(18.0)  # race time: 23 s minus the pause
    assert attempt.status == Attempt.Status.FINISHED
    assert attempt.elapsed_s() == pytest.approx(25.0)
    assert attempt.paused_total_s == pytest.approx(5.0)
    assert [e.action for e in AuditEntry.objects.order_by("pk")] == [
        "attempt_started", "lap_added", "reset_added", "attempt_paused", "attempt_resumed", "lap_added",
        "attempt_ended",
    ]
    assert all(e.actor == organiser and e.actor_label == "org" for e in AuditEntry.objects.all())


@pytest.mark.django_db
def test_two_consoles_on_one_attempt_never_double_count(attempt, organiser, make_user):
    timekeeper = make_user("tk")
    attempt.event.timekeepers.add(timekeeper)
    started(attempt, organiser)
    attempt.refresh_from_db()
    seen = attempt.version  # both consoles show this state
    race.capture_lap(user=organiser, attempt=attempt, expected_version=seen, now=at(8))
    with pytest.raises(race.StaleAttempt, match="another console") as refused:
        race.capture_lap(user=timekeeper, attempt=attempt, expected_version=seen, now=at(8.2))
    assert refused.value.status_code == 409
    assert LapResult.objects.count() == 1
    # After reloading, the second console acts on the current version.
    attempt.refresh_from_db()
    race.capture_lap(user=timekeeper, attempt=attempt, expected_version=attempt.version, now=at(16))
    assert list(LapResult.objects.order_by("lap_number").values_list("lap_number", "lap_time_s")) == [
        (1, 8.0), (2, 8.0)]


@pytest.mark.django_db
def test_undo_walks_back_lap_reset_and_pause(attempt, organiser):
    started(attempt, organiser)
    lap(attempt, organiser, 8.0)
    attempt.refresh_from_db()
    race.add_reset(user=organiser, attempt=attempt, expected_version=attempt.version)
    wrong = lap(attempt, organiser, 9.0)  # pressed too early
    attempt.refresh_from_db()
    undo = race.undo_last(user=organiser, attempt=attempt, expected_version=attempt.version)
    attempt.refresh_from_db()
    assert not LapResult.objects.filter(pk=wrong.pk).exists()
    assert attempt.current_resets == 1  # the reset is back on the lap in progress
    assert attempt.lap_started_at == at(8.0)  # the lap still runs from the last real crossing
    assert undo.action == "undo" and AuditEntry.objects.get(action="lap_added", new__lap__id=wrong.pk).undone_by == undo
    right = lap(attempt, organiser, 16.5)
    assert (right.lap_number, right.lap_time_s, right.resets) == (2, 8.5, 1)
    # Undo again: the lap just captured, then the reset (undo entries themselves are skipped).
    attempt.refresh_from_db()
    race.undo_last(user=organiser, attempt=attempt, expected_version=attempt.version)
    attempt.refresh_from_db()
    race.undo_last(user=organiser, attempt=attempt, expected_version=attempt.version)
    attempt.refresh_from_db()
    assert attempt.current_resets == 0 and LapResult.objects.count() == 1


@pytest.mark.django_db
def test_undo_of_a_pause_and_of_an_end(attempt, organiser):
    started(attempt, organiser)
    attempt.refresh_from_db()
    race.pause(user=organiser, attempt=attempt, expected_version=attempt.version, now=at(5))
    attempt.refresh_from_db()
    race.undo_last(user=organiser, attempt=attempt, expected_version=attempt.version)
    attempt.refresh_from_db()
    assert attempt.status == Attempt.Status.RUNNING and attempt.paused_at is None
    race.end(user=organiser, attempt=attempt, expected_version=attempt.version, now=at(20))
    attempt.refresh_from_db()
    race.undo_last(user=organiser, attempt=attempt, expected_version=attempt.version)
    attempt.refresh_from_db()
    assert attempt.status == Attempt.Status.RUNNING and attempt.ended_at is None
    race.undo_last(user=organiser, attempt=attempt, expected_version=attempt.version)
    attempt.refresh_from_db()
    assert attempt.status == Attempt.Status.READY and attempt.started_at is None
    with pytest.raises(ValidationError, match="Nothing to undo"):
        race.undo_last(user=organiser, attempt=attempt, expected_version=attempt.version)


@pytest.mark.django_db
def test_an_implausible_lap_needs_confirmation(attempt, organiser):
    attempt.event.min_plausible_lap_s = 5.0
    attempt.event.save()
    started(attempt, organiser)
    with pytest.raises(race.NeedsConfirmation, match="0.400 s lap"):
        lap(attempt, organiser, 0.4)
    assert not LapResult.objects.exists()
    confirmed = lap(attempt, organiser, 0.4, confirm=True)
    assert confirmed.confirmed_implausible and confirmed.valid
    entry = AuditEntry.objects.get(action="lap_added")
    assert "plausible" in entry.reason
    normal = lap(attempt, organiser, 8.4)
    assert not normal.confirmed_implausible


@pytest.mark.django_db
def test_invalidate_and_restore_a_lap_with_reasons(attempt, organiser):
    started(attempt, organiser)
    recorded = lap(attempt, organiser, 8.0)
    attempt.refresh_from_db()
    with pytest.raises(ValidationError, match="why"):
        race.invalidate_lap(user=organiser, lap=recorded, reason=" ", expected_version=attempt.version)
    race.invalidate_lap(user=organiser, lap=recorded, reason="cut the chicane", expected_version=attempt.version)
    recorded.refresh_from_db()
    assert not recorded.valid and recorded.invalidated_reason == "cut the chicane"
    attempt.refresh_from_db()
    race.restore_lap(user=organiser, lap=recorded, reason="video shows it stayed on", expected_version=attempt.version)
    recorded.refresh_from_db()
    assert recorded.valid and recorded.invalidated_reason == ""
    entries = list(AuditEntry.objects.filter(lap=recorded).order_by("pk"))
    assert entries[0].action == "lap_added" and entries[0].new["lap"]["valid"] is True
    assert [(e.action, e.old["valid"], e.new["valid"], e.reason) for e in entries[1:]] == [
        ("lap_invalidated", True, False, "cut the chicane"),
        ("lap_restored", False, True, "video shows it stayed on"),
    ]


@pytest.mark.django_db
def test_a_lap_over_the_reset_limit_is_invalid_and_cannot_be_restored(attempt, organiser):
    started(attempt, organiser)
    for _ in range(3):
        attempt.refresh_from_db()
        race.add_reset(user=organiser, attempt=attempt, expected_version=attempt.version)
    over = lap(attempt, organiser, 12.0)
    assert over.resets == 3 and not over.valid
    attempt.refresh_from_db()
    with pytest.raises(ValidationError, match="stays invalid"):
        race.restore_lap(user=organiser, lap=over, reason="x", expected_version=attempt.version)
    attempt.refresh_from_db()
    with pytest.raises(ValidationError, match="no reset"):
        race.remove_reset(user=organiser, attempt=attempt, expected_version=attempt.version)


@pytest.mark.django_db
def test_throttle_and_dnf(attempt, organiser):
    with pytest.raises(ValidationError, match="0 to 100"):
        race.set_throttle(user=organiser, attempt=attempt, expected_version=attempt.version, percent=120)
    race.set_throttle(user=organiser, attempt=attempt, expected_version=attempt.version, percent=65)
    started(Attempt.objects.get(pk=attempt.pk), organiser)
    attempt.refresh_from_db()
    race.dnf(user=organiser, attempt=attempt, expected_version=attempt.version, reason="battery", now=at(40))
    attempt.refresh_from_db()
    assert (attempt.throttle_percent, attempt.status, attempt.ended_at) == (65, "dnf", at(40))
    entry = AuditEntry.objects.get(action="throttle_set")
    assert (entry.old["throttle_percent"], entry.new["throttle_percent"]) == (None, 65)
    assert AuditEntry.objects.get(action="dnf").reason == "battery"
    attempt.refresh_from_db()
    with pytest.raises(ValidationError, match="capture a lap"):
        race.capture_lap(user=organiser, attempt=attempt, expected_version=attempt.version)


@pytest.mark.django_db
def test_one_team_on_track_and_attempt_limits(event, organiser, team_a, team_b, make_team):
    first = race.create_attempt(user=organiser, event=event, team=team_a)
    with pytest.raises(ValidationError, match="had its 1 attempt"):
        race.create_attempt(user=organiser, event=event, team=team_a)
    other = race.create_attempt(user=organiser, event=event, team=team_b)
    started(first, organiser)
    with pytest.raises(ValidationError, match="already on track"):
        race.start(user=organiser, attempt=other, expected_version=other.version)
    with pytest.raises(ValidationError, match="not a registered"):
        race.create_attempt(user=organiser, event=event, team=make_team("Unregistered"))


@pytest.mark.django_db
def test_who_may_keep_time(event, attempt, make_user, make_league, make_event, team_a):
    stranger = make_user("stranger")
    with pytest.raises(PermissionDenied):
        race.start(user=stranger, attempt=attempt, expected_version=attempt.version)
    # The organiser of another league can do nothing here, not even with the right version.
    other_org = make_user("other-org")
    make_organiser(other_org, make_league("Other League"))
    for action in (race.start, race.add_reset, race.undo_last):
        with pytest.raises(PermissionDenied):
            action(user=other_org, attempt=attempt, expected_version=attempt.version)
    with pytest.raises(PermissionDenied):
        race.create_attempt(user=other_org, event=event, team=team_a)
    assert not AuditEntry.objects.exists()
    # An appointed timekeeper may.
    timekeeper = make_user("tk")
    event.timekeepers.add(timekeeper)
    race.start(user=timekeeper, attempt=attempt, expected_version=attempt.version)
    # A stale version from a stranger is still a permission error (nothing leaks about the state).
    with pytest.raises(PermissionDenied):
        race.pause(user=stranger, attempt=attempt, expected_version=1)


@pytest.mark.django_db
def test_every_change_notifies_the_live_viewers_once_committed(attempt, organiser, django_capture_on_commit_callbacks,
                                                              monkeypatch):
    from webapp.leagues import live

    sent = []
    monkeypatch.setattr(live, "_send", lambda event_id, version: sent.append(event_id))
    with django_capture_on_commit_callbacks(execute=True):
        started(attempt, organiser)
        lap(attempt, organiser, 8.0)
    assert sent == [attempt.event_id, attempt.event_id]


@pytest.mark.django_db
def test_physical_leaderboard_ranks_console_laps_not_team_reports(attempt, organiser, team_b):
    from webapp.leagues import selectors

    started(attempt, organiser)
    lap(attempt, organiser, 9.0)
    LapResult.objects.create(event=attempt.event, team=team_b, lap_number=1, lap_time_s=5.0,
                             source=LapResult.Source.AGENT)
    board = selectors.leaderboard(attempt.event)
    assert [(s.team.name, s.rank) for s in board] == [("Team Alpha", 1), ("Team Bravo", None)]


@pytest.mark.django_db(transaction=True)
def test_two_consoles_pressing_at_the_same_moment(make_league, make_event, make_user, team_a):
    """Two threads (two consoles) capture a lap on the same version at once: one lap, one refusal."""
    import threading

    from django.db import connection

    league = make_league()
    organiser, timekeeper = make_user("org"), make_user("tk")
    make_organiser(organiser, league)
    event = make_event(league, kind=Event.Kind.PHYSICAL)
    event.registrations.create(team=team_a)
    event.timekeepers.add(timekeeper)
    attempt = race.create_attempt(user=organiser, event=event, team=team_a)
    attempt = race.start(user=organiser, attempt=attempt, expected_version=attempt.version, now=at(0))
    seen = attempt.version
    barrier = threading.Barrier(2)
    outcomes = []

    def press(user):
        try:
            barrier.wait()
            race.capture_lap(user=user, attempt=Attempt(pk=attempt.pk), expected_version=seen, now=at(8))
            outcomes.append("lap")
        except race.StaleAttempt:
            outcomes.append("stale")
        finally:
            connection.close()

    threads = [threading.Thread(target=press, args=(user,)) for user in (organiser, timekeeper)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(outcomes) == ["lap", "stale"]
    assert LapResult.objects.count() == 1
    assert Attempt.objects.get(pk=attempt.pk).version == seen + 1


@pytest.mark.django_db
def test_the_console_state_survives_a_reload(attempt, organiser):
    from webapp.leagues import selectors

    started(attempt, organiser)
    lap(attempt, organiser, 8.0)
    attempt.refresh_from_db()
    race.add_reset(user=organiser, attempt=attempt, expected_version=attempt.version)
    reloaded = Attempt.objects.get(pk=attempt.pk)  # a fresh page or a second browser
    state = selectors.attempt_state(reloaded, now=at(11.5))
    assert state["status"] == "running" and state["version"] == reloaded.version
    assert (state["elapsed_s"], state["remaining_s"], state["lap_running_s"]) == (11.5, 108.5, 3.5)
    assert state["current_resets"] == 1 and [lap["lap_time_s"] for lap in state["laps"]] == [8.0]


@pytest.mark.django_db
def test_an_admin_edit_does_not_block_undo(attempt, organiser):
    from webapp.leagues import services

    started(attempt, organiser)
    first = lap(attempt, organiser, 8.0)
    lap(attempt, organiser, 16.0)
    first.note = "checked on video"
    services.save_lap(first, user=organiser, reason="note")  # audited as lap_edited on the attempt
    attempt.refresh_from_db()
    race.undo_last(user=organiser, attempt=attempt, expected_version=attempt.version)
    assert list(LapResult.objects.values_list("lap_number", flat=True)) == [1]
