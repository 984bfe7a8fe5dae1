"""Leagues, their events (race days and virtual races), team registrations and lap results, and the
race operations of an event: rounds and their heats, attempts on track, timer devices and their line
crossings, and the audit log of every change to a lap. Rules live in `ranking`, `brackets` (pure) and
`race` (the timekeeper and lap-timer services); these models only store."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.urls import reverse
from django.utils import timezone

from webapp.core.slugs import unique_slug

from . import ranking

# Formula 1's points for the top ten: the default points table of a league's season standings.
F1_POINTS = (25, 18, 15, 12, 10, 8, 6, 4, 2, 1)


def default_points_table() -> list[int]:
    return list(F1_POINTS)


# The default tie-break chain, spelled out so that migrations stay fixed; a test holds it equal to
# `ranking.DEFAULT_TIE_BREAK`.
DEFAULT_TIE_BREAK_CHAIN = "next_best_lap,fewer_resets,earliest"


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
    points_table = models.JSONField(
        default=default_points_table, blank=True,
        help_text="Season points per finishing place (1st, 2nd, ...), e.g. [25, 18, 15, 12, 10, 8, 6, 4, 2, 1].",
    )

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

    def clean(self):
        table = self.points_table
        if not isinstance(table, list) or not all(isinstance(p, int) and not isinstance(p, bool) and p >= 0
                                                  for p in table):
            raise ValidationError({"points_table": "A list of whole, non-negative points per place, "
                                                   "e.g. [25, 18, 15, 12, 10, 8, 6, 4, 2, 1]."})

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
        TOTAL_TIME = "total_time", "Total time of the first laps"

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
    tie_break = models.CharField(
        max_length=200, blank=True, default=DEFAULT_TIE_BREAK_CHAIN,
        help_text="Comma-separated tie-break chain, in order: next_best_lap, fewer_resets, earliest, more_laps.",
    )
    attempt_time_s = models.FloatField(default=120.0, validators=[MinValueValidator(1.0)],
                                       help_text="Race time of one attempt, in seconds.")
    attempts_per_team = models.PositiveSmallIntegerField(default=1, validators=[MinValueValidator(1)])
    laps_per_attempt = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1)], help_text="Empty: unlimited.",
    )
    min_plausible_lap_s = models.FloatField(
        null=True, blank=True,
        help_text="A lap faster than this needs an explicit confirmation (e.g. the car's physical limit).",
    )
    requires_approval = models.BooleanField(
        default=False, help_text="Registrations wait for an organiser's approval before the team races.",
    )
    timekeepers = models.ManyToManyField(
        settings.AUTH_USER_MODEL, related_name="timed_events", blank=True,
        help_text="People who may run the timekeeper console of this event (organisers always may).",
    )
    # Virtual events
    submissions_per_day = models.PositiveSmallIntegerField(default=3, validators=[MinValueValidator(1)])
    hidden_track = models.CharField(
        max_length=80, blank=True,
        help_text="A final track whose results stay private until the organisers reveal them.",
    )
    results_revealed = models.BooleanField(default=True)
    # Bumped by `live.notify_event` with every change to the event's results: the key under which
    # each web process keeps the leaderboard it computed (webapp.leagues.boards).
    board_version = models.PositiveIntegerField(default=0, editable=False)

    class Meta:
        ordering = ["starts"]

    def __str__(self) -> str:
        return f"{self.league}: {self.name}"

    def get_absolute_url(self) -> str:
        return reverse("event_detail", args=[self.league.slug, self.pk])

    def clean(self):
        if self.starts and self.ends and self.ends < self.starts:
            raise ValidationError({"ends": "An event cannot end before it starts."})
        if self.tie_break:
            unknown = [name for name in self.tie_break_chain if name not in ranking.TIE_BREAKS]
            if unknown:
                raise ValidationError({"tie_break": f"Unknown tie-break(s): {', '.join(unknown)}."})

    @property
    def tie_break_chain(self) -> tuple[str, ...]:
        return tuple(name.strip() for name in self.tie_break.split(",") if name.strip())


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


class Round(models.Model):
    """A stage of an event: qualifying, groups, a knockout bracket or the final. Its ranking rule and
    N default to the event's (blank)."""

    class Kind(models.TextChoices):
        QUALIFYING = "qualifying", "Qualifying"
        GROUPS = "groups", "Groups"
        SINGLE_ELIMINATION = "single_elimination", "Single elimination"
        DOUBLE_ELIMINATION = "double_elimination", "Double elimination"
        FINAL = "final", "Final"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        RUNNING = "running", "Running"
        FINISHED = "finished", "Finished"

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="rounds")
    name = models.CharField(max_length=80)
    order = models.PositiveSmallIntegerField(default=1)
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.QUALIFYING)
    ranking_rule = models.CharField(max_length=20, choices=Event.RankingRule.choices, blank=True,
                                    help_text="Empty: the event's rule.")
    consecutive_laps = models.PositiveSmallIntegerField(null=True, blank=True, validators=[MinValueValidator(1)],
                                                        help_text="Empty: the event's N.")
    group_count = models.PositiveSmallIntegerField(null=True, blank=True, validators=[MinValueValidator(1)])
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    seeded_from = models.ForeignKey("self", on_delete=models.SET_NULL, null=True, blank=True,
                                    related_name="seeded_rounds")
    seeding = models.JSONField(default=list, blank=True,
                               help_text="Team ids in seed order (1st seed first), as the bracket was drawn.")
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["event", "order", "pk"]

    def __str__(self) -> str:
        return f"{self.event.name}: {self.name}"

    @property
    def rule(self) -> str:
        return self.ranking_rule or self.event.ranking_rule

    @property
    def n(self) -> int:
        return self.consecutive_laps or self.event.consecutive_laps

    @property
    def is_bracket(self) -> bool:
        return self.kind in (self.Kind.SINGLE_ELIMINATION, self.Kind.DOUBLE_ELIMINATION)


class Heat(models.Model):
    """A stored match of a bracket round (`brackets.Match`, same key) or a team's place in a group
    (group number set, team_b empty): two teams' attempts compared decide the winner."""

    round = models.ForeignKey(Round, on_delete=models.CASCADE, related_name="heats")
    key = models.CharField(max_length=20)
    bracket = models.CharField(max_length=10, blank=True)
    round_index = models.PositiveSmallIntegerField(default=0)
    position = models.PositiveSmallIntegerField(default=0)
    team_a = models.ForeignKey("accounts.Team", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    team_b = models.ForeignKey("accounts.Team", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    seed_a = models.PositiveSmallIntegerField(null=True, blank=True)
    seed_b = models.PositiveSmallIntegerField(null=True, blank=True)
    source_a = models.CharField(max_length=40, blank=True)
    source_b = models.CharField(max_length=40, blank=True)
    winner = models.ForeignKey("accounts.Team", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    group = models.PositiveSmallIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["round", "group", "round_index", "position", "key"]
        constraints = [models.UniqueConstraint(fields=["round", "key"], name="one_heat_per_key")]

    def __str__(self) -> str:
        return f"{self.round.name} {self.key}"


class Attempt(models.Model):
    """A team's run on track: the race timer (started, paused, ended) and the lap in progress live on
    the server, so a reload or a second console sees the same state. `version` grows with every change:
    an action carries the version it saw and a stale one is refused (optimistic concurrency)."""

    class Status(models.TextChoices):
        READY = "ready", "Ready"
        RUNNING = "running", "Running"
        PAUSED = "paused", "Paused"
        FINISHED = "finished", "Finished"
        DNF = "dnf", "Did not finish"

    ON_TRACK = (Status.RUNNING, Status.PAUSED)

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="attempts")
    round = models.ForeignKey(Round, on_delete=models.CASCADE, null=True, blank=True, related_name="attempts")
    heat = models.ForeignKey(Heat, on_delete=models.SET_NULL, null=True, blank=True, related_name="attempts")
    team = models.ForeignKey("accounts.Team", on_delete=models.CASCADE, related_name="attempts")
    number = models.PositiveSmallIntegerField(default=1)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.READY)
    started_at = models.DateTimeField(null=True, blank=True)
    paused_at = models.DateTimeField(null=True, blank=True)
    paused_total_s = models.FloatField(default=0.0)
    ended_at = models.DateTimeField(null=True, blank=True)
    time_limit_s = models.FloatField(default=120.0)
    throttle_percent = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MinValueValidator(0), MaxValueValidator(100)],
    )
    # The lap in progress: when it started (server clock, or the device clock of the crossing that
    # started it), the pause time inside it, and its off-track resets so far.
    lap_started_at = models.DateTimeField(null=True, blank=True)
    lap_started_device_us = models.BigIntegerField(null=True, blank=True)
    lap_paused_s = models.FloatField(default=0.0)
    current_resets = models.PositiveSmallIntegerField(default=0)
    version = models.PositiveIntegerField(default=1)
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["event", "created", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["event", "round", "team", "number"], name="attempt_number_per_round"),
            # One team on track per event: the lap timer's crossings go to it.
            models.UniqueConstraint(fields=["event"], condition=models.Q(status__in=["running", "paused"]),
                                    name="one_attempt_on_track_per_event"),
            models.CheckConstraint(
                condition=models.Q(throttle_percent__isnull=True) | models.Q(throttle_percent__lte=100),
                name="throttle_percent_at_most_100",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.team} attempt {self.number}"

    def elapsed_s(self, now=None) -> float:
        """Race time used so far (pauses excluded), or by the moment `now` when that is earlier than the
        end or the pause (a timer crossing placed in an attempt that has ended since)."""
        if self.started_at is None:
            return 0.0
        stopped = self.ended_at or self.paused_at
        until = min(stopped, now) if stopped is not None and now is not None else (stopped or now or timezone.now())
        return max(0.0, (until - self.started_at).total_seconds() - self.paused_total_s)

    def remaining_s(self, now=None) -> float:
        return max(0.0, self.time_limit_s - self.elapsed_s(now))


class TimerDevice(models.Model):
    """An automated lap timer on one event's track. Only a SHA-256 of its token is stored; the token
    is shown once, when the device is created."""

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="timer_devices")
    name = models.CharField(max_length=80)
    prefix = models.CharField(max_length=16, help_text="The first characters, to recognise a token.")
    token_hash = models.CharField(max_length=64, unique=True)
    debounce_s = models.FloatField(default=2.0, validators=[MinValueValidator(0.0)],
                                   help_text="Crossings of one sensor closer than this to the last counted one "
                                             "are ignored as bounces.")
    active = models.BooleanField(default=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True)
    created = models.DateTimeField(default=timezone.now)
    last_seen = models.DateTimeField(null=True, blank=True)
    # The device's clock against the server's (`race.ingest_crossing`): offset = server time - device
    # time, the smallest seen (a crossing that arrived at once) in the current clock epoch; an epoch
    # ends when the device clock jumps (a reboot restarts it near zero, a bad clock leaps ahead).
    clock_offset_us = models.BigIntegerField(null=True, blank=True)
    clock_offset_at = models.DateTimeField(null=True, blank=True, help_text="When that offset was seen.")
    clock_epoch = models.PositiveIntegerField(default=0)
    clock_epoch_first_us = models.BigIntegerField(null=True, blank=True,
                                                  help_text="The lowest device time seen in the clock epoch.")

    class Meta:
        ordering = ["event", "name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"


class Crossing(models.Model):
    """One line crossing reported by a timer device, with the device's own clock."""

    class Status(models.TextChoices):
        COUNTED = "counted", "Counted"
        DEBOUNCED = "debounced", "Debounced (too soon after the last one)"
        IGNORED = "ignored", "Ignored by the timekeeper"
        DUPLICATE = "duplicate", "Duplicate"
        NO_ATTEMPT = "no_attempt", "No team on track"
        PAUSED = "paused", "During a pause"

    device = models.ForeignKey(TimerDevice, on_delete=models.CASCADE, related_name="crossings")
    crossing_id = models.CharField(max_length=64)
    sensor = models.CharField(max_length=40, blank=True)
    device_time_us = models.BigIntegerField()
    received = models.DateTimeField(default=timezone.now)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.COUNTED)
    attempt = models.ForeignKey(Attempt, on_delete=models.SET_NULL, null=True, blank=True, related_name="crossings")
    lap = models.ForeignKey("LapResult", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    # When it happened on the server's clock (device time + the device's clock offset), which decides
    # the attempt it belongs to; device times compare only within one clock epoch of the device.
    at = models.DateTimeField(null=True, blank=True)
    clock_epoch = models.PositiveIntegerField(default=0)
    note = models.CharField(max_length=200, blank=True,
                            help_text="Why it started a new lap instead of closing one, when it did.")

    class Meta:
        ordering = ["device", "clock_epoch", "device_time_us", "pk"]
        constraints = [models.UniqueConstraint(fields=["device", "crossing_id"], name="one_crossing_per_id")]

    def __str__(self) -> str:
        return f"{self.device.name} {self.crossing_id} ({self.status})"


class LapResult(models.Model):
    """One lap, virtual (from an evaluation) or physical (recorded by an organiser or a lap timer).

    Record laps through `webapp.leagues.services.record_lap` / `save_lap` or the timekeeper and
    lap-timer services (`webapp.leagues.race`): they apply the event's race rules
    (`ranking.lap_is_valid`) that decide `valid`, and number the laps (per event and team; never typed)."""

    class Source(models.TextChoices):
        EVALUATION = "evaluation", "Virtual evaluation"
        ORGANISER = "organiser", "Recorded by an organiser"
        LAP_TIMER = "lap_timer", "Automated lap timer"
        TIMEKEEPER = "timekeeper", "Timekeeper console"
        AGENT = "agent", "Reported by the team's drive agent"

    # Who may put a lap on a physical leaderboard: never a team's own report.
    PHYSICAL_SOURCES = (Source.ORGANISER, Source.LAP_TIMER, Source.TIMEKEEPER)

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
    attempt = models.ForeignKey(Attempt, on_delete=models.SET_NULL, null=True, blank=True, related_name="laps")
    round = models.ForeignKey(Round, on_delete=models.SET_NULL, null=True, blank=True, related_name="laps")
    ends_at_s = models.FloatField(null=True, blank=True,
                                  help_text="Race time into the attempt when the lap ended (pauses excluded).")
    confirmed_implausible = models.BooleanField(
        default=False, help_text="Faster than the event's plausible minimum, and confirmed by a timekeeper.",
    )
    invalidated_reason = models.CharField(max_length=200, blank=True)
    crossing = models.ForeignKey(Crossing, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")

    class Meta:
        ordering = ["event", "team", "lap_number"]
        constraints = [
            models.CheckConstraint(condition=models.Q(lap_time_s__gt=0), name="lap_time_positive"),
            # Numbers run per event and team across its rounds and attempts (the server assigns them).
            models.UniqueConstraint(fields=["event", "team", "lap_number"], name="one_lap_number_per_team"),
        ]

    def __str__(self) -> str:
        return f"{self.team} lap {self.lap_number}: {self.lap_time_s:.3f} s"


class AuditEntry(models.Model):
    """One change to a lap or an attempt: who (a user, or a label such as "timer device Finish line"),
    when, the old and new values, and why. Undo writes an "undo" entry and marks the undone one."""

    class Action(models.TextChoices):
        LAP_ADDED = "lap_added", "Lap added"
        LAP_REMOVED = "lap_removed", "Lap removed"
        LAP_INVALIDATED = "lap_invalidated", "Lap invalidated"
        LAP_RESTORED = "lap_restored", "Lap restored"
        LAP_EDITED = "lap_edited", "Lap edited"
        RESET_ADDED = "reset_added", "Reset added"
        RESET_REMOVED = "reset_removed", "Reset removed"
        ATTEMPT_STARTED = "attempt_started", "Attempt started"
        ATTEMPT_PAUSED = "attempt_paused", "Attempt paused"
        ATTEMPT_RESUMED = "attempt_resumed", "Attempt resumed"
        ATTEMPT_ENDED = "attempt_ended", "Attempt ended"
        DNF = "dnf", "Did not finish"
        THROTTLE_SET = "throttle_set", "Throttle set"
        CROSSING_IGNORED = "crossing_ignored", "Crossing ignored"
        CROSSING_RESTORED = "crossing_restored", "Crossing restored"
        TIMER_NEW_LAP = "timer_new_lap", "Timer crossing started a new lap"
        UNDO = "undo", "Undo"

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="audit_entries")
    lap = models.ForeignKey(LapResult, on_delete=models.SET_NULL, null=True, blank=True, related_name="audit_entries")
    attempt = models.ForeignKey(Attempt, on_delete=models.SET_NULL, null=True, blank=True,
                                related_name="audit_entries")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                              related_name="+")
    actor_label = models.CharField(max_length=120, blank=True)
    at = models.DateTimeField(default=timezone.now)
    action = models.CharField(max_length=20, choices=Action.choices)
    old = models.JSONField(null=True, blank=True)
    new = models.JSONField(null=True, blank=True)
    reason = models.TextField(blank=True)
    undone_by = models.ForeignKey("self", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")

    class Meta:
        ordering = ["event", "at", "pk"]
        verbose_name_plural = "audit entries"

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.actor_label} {self.get_action_display()}"
