"""Leagues, their events (race days and virtual races), team registrations and lap results."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.urls import reverse
from django.utils import timezone

from webapp.core.slugs import unique_slug


class League(models.Model):
    class Visibility(models.TextChoices):
        PUBLIC = "public", "Public"
        INVITE_ONLY = "invite", "Invite only"

    name = models.CharField(max_length=100, unique=True)
    slug = models.SlugField(max_length=110, unique=True)
    description = models.TextField(blank=True)
    visibility = models.CharField(max_length=10, choices=Visibility.choices, default=Visibility.PUBLIC)
    organisers = models.ManyToManyField(settings.AUTH_USER_MODEL, related_name="organised_leagues", blank=True)
    invited_teams = models.ManyToManyField(
        "accounts.Team", related_name="league_invitations", blank=True,
        help_text="For invite-only leagues: the teams that may see the league and register.",
    )
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs):
        if not self.slug:
            self.slug = unique_slug(self, self.name, fallback="league", max_length=100)
        super().save(*args, **kwargs)

    def get_absolute_url(self) -> str:
        return reverse("league_detail", args=[self.slug])

    @property
    def is_public(self) -> bool:
        return self.visibility == self.Visibility.PUBLIC


class Event(models.Model):
    class Kind(models.TextChoices):
        VIRTUAL = "virtual", "Virtual race"
        PHYSICAL = "physical", "Physical race day"

    class RankingRule(models.TextChoices):
        BEST_LAP = "best_lap", "Best lap time"
        BEST_AVERAGE = "best_average", "Best average of consecutive laps"
        FIRST_CONSECUTIVE = "first_consecutive", "Average of the first consecutive laps"

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        OPEN = "open", "Open for registration"
        RUNNING = "running", "Racing"
        FINISHED = "finished", "Finished"
        CANCELLED = "cancelled", "Cancelled"

    league = models.ForeignKey(League, on_delete=models.CASCADE, related_name="events")
    name = models.CharField(max_length=120)
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.VIRTUAL)
    track = models.CharField(max_length=80, help_text="Track name, e.g. reinvent_base or a built-in track.")
    direction = models.CharField(
        max_length=20, choices=[("counterclockwise", "Counter-clockwise"), ("clockwise", "Clockwise")],
        default="counterclockwise",
    )
    starts = models.DateTimeField()
    ends = models.DateTimeField()
    location = models.CharField(max_length=200, blank=True)
    ranking_rule = models.CharField(max_length=20, choices=RankingRule.choices, default=RankingRule.BEST_LAP)
    consecutive_laps = models.PositiveSmallIntegerField(
        default=3, validators=[MinValueValidator(1)],
        help_text="N for the two average rules: how many consecutive valid laps count.",
    )
    off_track_penalty_s = models.FloatField(default=2.0)
    max_resets_per_lap = models.PositiveSmallIntegerField(default=3)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)

    class Meta:
        ordering = ["starts"]

    def __str__(self) -> str:
        return f"{self.league}: {self.name}"

    def get_absolute_url(self) -> str:
        return reverse("event_detail", args=[self.league.slug, self.pk])

    def clean(self):
        if self.starts and self.ends and self.ends < self.starts:
            raise ValidationError({"ends": "An event cannot end before it starts."})


class Registration(models.Model):
    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="registrations")
    team = models.ForeignKey("accounts.Team", on_delete=models.CASCADE, related_name="registrations")
    registered_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True)
    created = models.DateTimeField(default=timezone.now)
    approved = models.BooleanField(default=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["event", "team"], name="one_registration_per_team")]
        ordering = ["created"]

    def __str__(self) -> str:
        return f"{self.team} at {self.event}"


class LapResult(models.Model):
    """One lap, virtual (from an evaluation) or physical (recorded by an organiser or a lap timer).

    Record laps through `webapp.leagues.services.record_lap` / `save_lap`: they apply the event's
    race rules (`ranking.lap_is_valid`) that decide `valid`."""

    class Source(models.TextChoices):
        EVALUATION = "evaluation", "Virtual evaluation"
        ORGANISER = "organiser", "Recorded by an organiser"
        LAP_TIMER = "lap_timer", "Automated lap timer"

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="laps")
    team = models.ForeignKey("accounts.Team", on_delete=models.CASCADE, related_name="laps")
    lap_number = models.PositiveSmallIntegerField()
    lap_time_s = models.FloatField(
        help_text="Raw lap time in seconds; the leaderboard adds resets x the event's off-track penalty.",
    )
    resets = models.PositiveSmallIntegerField(default=0)
    valid = models.BooleanField(default=True)
    source = models.CharField(max_length=12, choices=Source.choices, default=Source.ORGANISER)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True)
    recorded = models.DateTimeField(default=timezone.now)
    note = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["event", "team", "lap_number"]
        constraints = [
            models.CheckConstraint(condition=models.Q(lap_time_s__gt=0), name="lap_time_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.team} lap {self.lap_number}: {self.lap_time_s:.3f} s"
