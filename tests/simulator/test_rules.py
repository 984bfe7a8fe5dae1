"""Race rules: lap timing, off-track resets with penalties, reversed, immobilised, time up."""

import itertools
import math
from dataclasses import replace

import pytest

from simulator.car import DEEPRACER, Command, anticipated_pose, steering_command_deg
from simulator.episode import Session
from simulator.rules import EVALUATION_RULES, TRAINING_RULES, EpisodeStatus, RaceRules
from simulator.track import load_track


@pytest.fixture(scope="module")
def track():
    return load_track("pitlane_speedway")


def follower(session: Session, speed: float, look: float = 0.6) -> Command:
    """Pure pursuit of the centre line, from where the car will be when the command tells."""
    x, y, yaw = anticipated_pose(DEEPRACER, session.state)
    p = session.track.project_local(x, y, session._hint)
    tx, ty, _ = session.track.pose_at(p.distance + look)
    alpha = math.atan2(ty - y, tx - x) - yaw
    alpha = (alpha + math.pi) % (2 * math.pi) - math.pi
    return Command(steering_command_deg(DEEPRACER, math.atan2(2 * DEEPRACER.wheelbase * math.sin(alpha), look)), speed)


def run(session: Session, policy, max_steps: int = 5000):
    out = []
    for _ in range(max_steps):
        r = session.step(policy(session))
        out.append(r)
        if r.done:
            break
    return out


def test_lap_time_and_progress(track):
    session = Session(track, rules=TRAINING_RULES)
    steps = run(session, lambda s: follower(s, 1.5))
    assert steps[0].status is EpisodeStatus.PREPARE and steps[0].sim_time == 0.0
    last = steps[-1]
    assert last.status is EpisodeStatus.LAP_COMPLETE and last.progress == 100.0
    # Progress starts 0.14 m ahead of the start (DeepRacer's x, y point) and never jumps back.
    assert steps[0].progress == pytest.approx(0.14 / track.length * 100, rel=1e-6)
    progress = [r.progress for r in steps]
    assert all(b >= a - 0.05 for a, b in itertools.pairwise(progress))
    # The lap time is the step clock when the line is crossed: about length / speed (the car runs
    # at the speed gain times the command).
    assert last.lap_time == pytest.approx(last.sim_time)
    speed = 1.5 * DEEPRACER.speed_gain
    assert track.length / speed < last.lap_time < track.length / speed * 1.15
    assert all(r.status is EpisodeStatus.IN_PROGRESS for r in steps[1:-1])


def test_two_laps(track):
    session = Session(track, rules=replace(TRAINING_RULES, laps=2))
    steps = run(session, lambda s: follower(s, 2.0))
    laps = [r.lap_time for r in steps if r.lap_time is not None]
    assert len(laps) == 2 and steps[-1].status is EpisodeStatus.LAP_COMPLETE
    assert laps[1] < laps[0]  # the flying lap beats the standing start


def off_then_follow(session: Session) -> Command:
    """Steer hard left for the first second, then follow the line."""
    return Command(30.0, 2.0) if session.steps < 15 and session.referee.reset_count == 0 else follower(session, 2.0)


def test_training_off_track_ends_episode(track):
    steps = run(Session(track, rules=TRAINING_RULES), off_then_follow)
    assert steps[-1].status is EpisodeStatus.OFF_TRACK and steps[-1].done
    assert not steps[-1].all_wheels_on_track
    # Some wheels left earlier than all of them.
    assert any(not r.all_wheels_on_track for r in steps[:-1])


@pytest.mark.parametrize("penalty", [2.0, 5.0])
def test_evaluation_off_track_resets_with_penalty(track, penalty):
    rules = replace(EVALUATION_RULES, off_track_penalty_s=penalty)
    steps = run(Session(track, rules=rules), off_then_follow)
    statuses = [r.status for r in steps]
    assert statuses.count(EpisodeStatus.OFF_TRACK) == 1
    assert statuses[-1] is EpisodeStatus.LAP_COMPLETE
    pauses = [r for r in steps if r.status is EpisodeStatus.PAUSE]
    assert len(pauses) == round(penalty * DEEPRACER.action_hz)
    assert pauses[-1].pause_duration == pytest.approx(penalty)
    assert len({(r.state.x, r.state.y) for r in pauses}) == 1  # held still
    clean = run(Session(track, rules=rules), lambda s: follower(s, 2.0))
    # The penalty is in the lap time (plus the time lost by the excursion itself).
    assert steps[-1].lap_time >= clean[-1].lap_time + penalty


def test_max_resets_ends_episode(track):
    rules = replace(EVALUATION_RULES, max_resets=0)
    steps = run(Session(track, rules=rules), off_then_follow)
    assert steps[-1].status is EpisodeStatus.OFF_TRACK and steps[-1].done


def test_reversed(track):
    session = Session(track, rules=TRAINING_RULES)
    session.reset(start_distance=5.0)
    x, y, heading = track.pose_at(5.0)
    session.car.reset(session.state._replace(yaw=heading + math.pi))
    steps = run(session, lambda s: Command(0.0, 1.0), 300)
    assert steps[-1].status is EpisodeStatus.REVERSED
    assert steps[-1].params["is_reversed"]
    assert all(r.params["is_reversed"] for r in steps)
    forward = run(Session(track, rules=TRAINING_RULES), lambda s: follower(s, 1.0), 30)
    assert not any(r.params["is_reversed"] for r in forward)


def test_immobilized(track):
    session = Session(track, rules=replace(TRAINING_RULES, immobilized_s=1.0))
    steps = run(session, lambda s: Command(0.0, 0.0), 100)
    assert steps[-1].status is EpisodeStatus.IMMOBILIZED
    assert steps[-1].sim_time == pytest.approx(1.0 + 2 / 15, abs=0.1)


def test_time_up(track):
    session = Session(track, rules=replace(TRAINING_RULES, time_limit_s=3.0))
    steps = run(session, lambda s: follower(s, 1.0))
    assert steps[-1].status is EpisodeStatus.TIME_UP
    assert steps[-1].sim_time == pytest.approx(3.0, abs=1 / 15 + 1e-9)


def test_time_limit_is_per_trial_when_trials_share_a_clock(track):
    from simulator.episode import run_trials

    rules = replace(EVALUATION_RULES, time_limit_s=3.0)
    seen = []
    result = run_trials(lambda state: Command(0.0, 0.5), track, n_trials=3, rules=rules,
                        on_reset=seen.append)
    assert seen == [0, 1, 2]
    assert [t.status for t in result.trials] == [EpisodeStatus.TIME_UP] * 3
    for trial in result.trials:
        assert trial.elapsed_s == pytest.approx(3.0, abs=2 / 15)
    assert result.trials[2].start_time_s > 6.0  # one clock across trials, as AWS logs it


def test_statuses_are_deepracer_names():
    assert [s.value for s in EpisodeStatus] == [
        "prepare", "in_progress", "off_track", "lap_complete", "crashed", "pause",
        "reversed", "time_up", "immobilized", "park",
    ]
    with pytest.raises(ValueError):
        RaceRules(laps=0)
