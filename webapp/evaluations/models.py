"""Evaluations of a team's trained models in our simulator, the cached lap-time limits of tracks,
and the submissions of evaluations to virtual league events."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.urls import reverse
from django.utils import timezone

from simulator.car import MPH, get_profile

DIRECTIONS = [("counterclockwise", "Counter-clockwise"), ("clockwise", "Clockwise")]

# Bounds of an evaluation request (the model validates them; the form shows the same ones).
TRIALS = (1, 10)
OFF_TRACK_PENALTY_S = (0, 60)
TIME_LIMIT_S = (5, 3600)
MIN_SET_SPEED = 0.1

#: The unit an evaluation's set speed is given in, per car, and its size in m/s: the drive agent's
#: speed controller speaks mph on the Udacity car (as that simulator's telemetry does), m/s on DeepRacer.
SET_SPEED_UNITS = {"udacity": ("mph", MPH), "deepracer": ("m/s", 1.0)}


def set_speed_unit(profile: str) -> str:
    return SET_SPEED_UNITS[profile][0]


def max_set_speed(profile: str) -> float:
    """The highest set speed for a car: its top speed (`simulator.car`), in its set-speed unit."""
    metres_per_s = SET_SPEED_UNITS[profile][1]
    return round(get_profile(profile).max_speed / metres_per_s, 6)


def _set_speed_help() -> str:
    return ("The speed controller's target: mph for the Udacity car (up to "
            f"{max_set_speed('udacity'):g}), m/s for DeepRacer (up to {max_set_speed('deepracer'):g}). "
            "Empty: the drive agent's default.")


def evaluation_file_path(instance: Evaluation, filename: str) -> str:
    return f"teams/{instance.team_id}/evaluations/{instance.pk}/{filename}"


class Evaluation(models.Model):
    """N trials of one model on one track under DeepRacer evaluation rules.

    The job row holds the live state (queued, running, progress); this row holds the request and,
    once the job succeeded, the results and the DeepRacer-format files.
    """

    team = models.ForeignKey("accounts.Team", on_delete=models.CASCADE, related_name="evaluations")
    model = models.ForeignKey("garage.TrainedModel", on_delete=models.CASCADE, related_name="evaluations")
    job = models.OneToOneField("jobs.Job", on_delete=models.SET_NULL, null=True, blank=True,
                               related_name="evaluation")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True)
    created = models.DateTimeField(default=timezone.now)

    track = models.CharField(max_length=80)
    direction = models.CharField(max_length=20, choices=DIRECTIONS, default="counterclockwise")
    trials = models.PositiveSmallIntegerField(
        default=3, validators=[MinValueValidator(TRIALS[0]), MaxValueValidator(TRIALS[1])])
    off_track_penalty_s = models.FloatField(
        default=2.0, validators=[MinValueValidator(OFF_TRACK_PENALTY_S[0]), MaxValueValidator(OFF_TRACK_PENALTY_S[1])])
    time_limit_s = models.FloatField(
        default=180.0, validators=[MinValueValidator(TIME_LIMIT_S[0]), MaxValueValidator(TIME_LIMIT_S[1])],
        help_text="Simulated seconds per trial.")
    profile = models.CharField(max_length=12, help_text="The car: deepracer or udacity (from the model's camera).")
    # The per-car limit is the service's check (start_evaluation); the field holds the widest one.
    set_speed = models.FloatField(
        null=True, blank=True,
        validators=[MinValueValidator(MIN_SET_SPEED),
                    MaxValueValidator(max(max_set_speed(profile) for profile in SET_SPEED_UNITS))],
        help_text=_set_speed_help(),
    )
    # Seeded trial-to-trial variation (drive_agent.evaluation.TrialVariation): each trial its own
    # start, steering noise and lighting from the seed; the same seed drives the same laps again.
    vary = models.BooleanField(default=False, help_text="Vary each trial's start, steering noise and lighting.")
    seed = models.PositiveIntegerField(null=True, blank=True, validators=[MaxValueValidator(2**31 - 1)],
                                       help_text="Seed of the variation (recorded; chosen at random when empty).")

    # Filled in when the job succeeds.
    summary = models.JSONField(default=dict, blank=True, help_text="Per-trial results (laps, off-tracks, resets...).")
    simtrace = models.FileField(upload_to=evaluation_file_path, blank=True)
    metrics_file = models.FileField(upload_to=evaluation_file_path, blank=True)
    trace_file = models.FileField(upload_to=evaluation_file_path, blank=True,
                                  help_text="Per-step x, y, speed, steering (JSON) for the track plot.")

    class Meta:
        ordering = ["-created"]
        indexes = [models.Index(fields=["team", "-created"])]

    def __str__(self) -> str:
        return f"Evaluation {self.pk} of {self.model_id} on {self.track}"

    def get_absolute_url(self) -> str:
        return reverse("evaluation_detail", args=[self.team.slug, self.pk])

    @property
    def is_clockwise(self) -> bool:
        return self.direction == "clockwise"

    @property
    def status(self) -> str:
        return self.job.status if self.job else "failed"

    @property
    def is_done(self) -> bool:
        return bool(self.summary)

    @property
    def best_lap_s(self) -> float | None:
        return self.summary.get("best_lap_time")


class TrackLimit(models.Model):
    """The physics' minimum lap time of a track for a car: seconds to compute, so kept here."""

    track = models.CharField(max_length=80)
    direction = models.CharField(max_length=20, choices=DIRECTIONS)
    profile = models.CharField(max_length=12)
    physics = models.CharField(max_length=16, default="", help_text="simulator.limit.physics_fingerprint of "
                               "the car profile and solver this limit was computed with.")
    lap_time_s = models.FloatField(null=True, blank=True)
    line_length_m = models.FloatField(null=True, blank=True)
    error = models.CharField(max_length=300, blank=True, help_text="Why no limit exists (the solver's message).")
    computed = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["track", "direction", "profile", "physics"],
                                               name="one_limit_per_track_and_physics")]

    def __str__(self) -> str:
        return f"{self.track} {self.direction} {self.profile}: {self.lap_time_s}"


class Submission(models.Model):
    """An evaluation published to a virtual event: its laps became the event's LapResults."""

    evaluation = models.ForeignKey(Evaluation, on_delete=models.CASCADE, related_name="submissions")
    event = models.ForeignKey("leagues.Event", on_delete=models.CASCADE, related_name="evaluation_submissions")
    submitted_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True)
    created = models.DateTimeField(default=timezone.now)
    lap_count = models.PositiveSmallIntegerField(default=0)
    # The laps this submission published, and whether the team picked it as the one that counts in the
    # event (only that submission's laps rank; with none picked, the team's latest counts).
    laps = models.ManyToManyField("leagues.LapResult", related_name="submissions", blank=True)
    counts = models.BooleanField(default=False, help_text="Picked by the team as its entry that counts.")

    class Meta:
        ordering = ["-created"]
        constraints = [models.UniqueConstraint(fields=["evaluation", "event"], name="submit_evaluation_once")]

    def __str__(self) -> str:
        return f"{self.evaluation} -> {self.event}"
