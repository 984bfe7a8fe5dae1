"""Evaluation workflows: start one as a job, publish one to a virtual league event."""

from __future__ import annotations

from datetime import timedelta

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from webapp.jobs.services import start_job
from webapp.leagues.models import Event, LapResult, Registration
from webapp.leagues.services import record_lap

from .models import SET_SPEED_UNITS, Evaluation, Submission, max_set_speed, set_speed_unit
from .selectors import submittable_events
from .tracks import action_speeds_text, profile_for_card, tracks_for_profile


def completion_percent(result) -> int | None:
    """Completion of an evaluation summary, or one trial of it, in whole percent, by the one rule
    metrics.json follows (simulator.simtrace.completion_percentage: round half to even). A summary
    recorded before it carried "completion_percentage" is rounded from its two-decimal value."""
    from simulator.simtrace import completion_percentage

    if not result:
        return None
    if result.get("completion_percentage") is not None:
        return int(result["completion_percentage"])
    pct = result.get("completion_pct")
    return None if pct is None else completion_percentage(pct)


def check_set_speed(profile: str, set_speed: float | None) -> None:
    """A set speed (None: the drive agent's default) may not exceed the car's top speed."""
    if set_speed is None:
        return
    limit = max_set_speed(profile)
    if set_speed > limit:
        raise ValidationError({"set_speed": f"The {profile} car's top speed is {limit:g} {set_speed_unit(profile)}; "
                                            f"a set speed of {set_speed:g} is above it."})


@transaction.atomic
def start_evaluation(*, team, user, model, track: str, direction: str, trials: int,
                     off_track_penalty_s: float, time_limit_s: float,
                     set_speed: float | None = None, vary: bool = False, seed: int | None = None) -> Evaluation:
    """Queue an evaluation. `vary` (or a `seed`) gives each trial its own seeded start, steering
    noise and lighting; without a seed one is drawn and recorded, so the run can be repeated."""
    if model.team_id != team.pk:
        raise ValidationError("This model belongs to another team.")
    if not model.is_ready:
        raise ValidationError(f"“{model.name}” is not ready to drive (status: {model.get_status_display()}).")
    profile = profile_for_card(model.card)
    if track not in tracks_for_profile(profile):
        raise ValidationError(f"{track} is not a {profile}-scale track.")
    speeds = action_speeds_text(model.card)
    if speeds and set_speed is not None:
        raise ValidationError({"set_speed": f"“{model.name}” drives at the speed of each action it chooses "
                                            f"({speeds}): a set speed does not apply."})
    check_set_speed(profile, set_speed)
    vary = vary or seed is not None
    if vary and seed is None:
        from drive_agent.evaluation import new_seed

        seed = new_seed()
    evaluation = Evaluation(team=team, model=model, created_by=user, track=track, direction=direction,
                            trials=trials, off_track_penalty_s=off_track_penalty_s, time_limit_s=time_limit_s,
                            profile=profile, set_speed=set_speed, vary=vary, seed=seed if vary else None)
    evaluation.full_clean(exclude=["job"])
    job = start_job(team=team, user=user, kind="evaluation", params={"model_id": model.pk},
                    title=f"Evaluate {model.name} on {track}")
    evaluation.job = job
    evaluation.save()
    return evaluation


def set_speed_ms(evaluation: Evaluation) -> float | None:
    """The speed (m/s) a steering model's controller aimed at: the evaluation's set speed, else the
    drive agent's default for the car; None for an action model (its actions command the speed)."""
    from drive_agent.speed import default_set_speed

    if action_speeds_text(evaluation.model.card):
        return None
    given = evaluation.set_speed if evaluation.set_speed is not None else default_set_speed(evaluation.profile)
    return given * SET_SPEED_UNITS[evaluation.profile][1]


def drfc_archive(evaluation: Evaluation) -> bytes:
    """The evaluation as a deepracer-for-cloud model folder in a zip (`model/model_metadata.json`,
    `evaluation-{stamp}/evaluation-simtrace/0-iteration.csv`, `.../metrics.json`): unzipped,
    deepracer-utils' `DeepRacerLog(folder)` loads it."""
    from drive_agent.evaluation import model_metadata
    from drive_agent.model_card import parse_model_card
    from simulator.simtrace import evaluation_stamp, evaluation_zip

    if not evaluation.simtrace or not evaluation.metrics_file:
        raise ValidationError("This evaluation has no DeepRacer files (yet).")
    with evaluation.simtrace.open("rb") as fh:
        simtrace = fh.read()
    with evaluation.metrics_file.open("rb") as fh:
        metrics = fh.read()
    metadata = model_metadata(parse_model_card(evaluation.model.card), set_speed_ms(evaluation))
    return evaluation_zip(evaluation_stamp(evaluation.created), simtrace, metrics, metadata)


def _next_lap_number(event: Event, team) -> int:
    return (LapResult.objects.filter(event=event, team=team).aggregate(n=Max("lap_number"))["n"] or 0) + 1


@transaction.atomic
def submit_to_event(*, evaluation: Evaluation, event: Event, user) -> Submission:
    """Publish the evaluation's trials as the team's laps in the event.

    A completed trial is a lap of its raw time (the leaderboard adds the event's penalty per
    reset); an unfinished trial is an invalid lap, so it breaks a run of consecutive laps."""
    if not evaluation.is_done:
        raise ValidationError("Only a finished evaluation can be submitted.")
    if not submittable_events(evaluation).filter(pk=event.pk).exists():
        raise ValidationError("This event does not take this evaluation: it must be an open virtual race your "
                              "team is registered for, on the same track and direction.")
    check_daily_limit(event, evaluation.team)
    try:
        with transaction.atomic():
            submission = Submission.objects.create(evaluation=evaluation, event=event, submitted_by=user)
    except IntegrityError:
        raise ValidationError("This evaluation was already submitted to this event.") from None
    number = _next_lap_number(event, evaluation.team)
    laps = []
    for offset, trial in enumerate(evaluation.summary["trials"]):
        done = trial["lap_time"] is not None
        laps.append(record_lap(
            event=event, team=evaluation.team, lap_number=number + offset,
            lap_time_s=trial["raw_lap_time"] if done else max(trial["elapsed_s"], 1e-3),
            resets=trial["reset_count"], valid=done, source=LapResult.Source.EVALUATION, recorded_by=user,
            note=(f"Evaluation {evaluation.pk}, trial {trial['trial']}" if done else
                  f"Evaluation {evaluation.pk}, trial {trial['trial']}: not completed "
                  f"({completion_percent(trial)} %)")[:200],
        ))
    submission.lap_count = len(laps)
    submission.save(update_fields=["lap_count"])
    submission.laps.set(laps)
    return submission


def submissions_today(event: Event, team, now=None) -> int:
    """The team's submissions to the event since midnight today (the site's time zone)."""
    start = timezone.localtime(now or timezone.now()).replace(hour=0, minute=0, second=0, microsecond=0)
    return Submission.objects.filter(event=event, evaluation__team=team, created__gte=start).count()


def check_daily_limit(event: Event, team) -> None:
    """Refuse a submission past the event's limit per day. The team's registration row is locked first
    (inside the submission's transaction), so two submissions at once cannot both take the last one."""
    Registration.objects.select_for_update().filter(event=event, team=team).first()
    used = submissions_today(event, team)
    if used >= event.submissions_per_day:
        tomorrow = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
        raise ValidationError(
            f"{team.name} has used its {event.submissions_per_day} submission"
            f"{'' if event.submissions_per_day == 1 else 's'} to {event.name} for today "
            f"(the limit is {event.submissions_per_day} a day): submit again from "
            f"{tomorrow:%Y-%m-%d %H:%M} {timezone.get_current_timezone_name()}.")
