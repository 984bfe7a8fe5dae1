"""The one record of every piece of background work: the database holds the truth about a job;
Celery only carries its id and the websocket only tells the browser to look again."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone


class Job(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    FINISHED = (Status.SUCCEEDED, Status.FAILED, Status.CANCELLED)
    LOG_TAIL_CHARS = 8000

    kind = models.CharField(max_length=40, db_index=True)
    team = models.ForeignKey("accounts.Team", on_delete=models.CASCADE, related_name="jobs")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True)
    title = models.CharField(max_length=200, blank=True)
    params = models.JSONField(default=dict, blank=True)
    result = models.JSONField(default=dict, blank=True)
    metrics = models.JSONField(default=dict, blank=True, help_text="Latest live figures (epoch, loss, ETA...).")
    group_key = models.CharField(max_length=40, blank=True, db_index=True, help_text="Jobs started together.")

    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED, db_index=True)
    progress = models.FloatField(default=0.0)
    message = models.CharField(max_length=300, blank=True)
    log_tail = models.TextField(blank=True)
    error = models.TextField(blank=True)
    cancel_requested = models.BooleanField(default=False)

    queue = models.CharField(max_length=20, default="training")
    celery_task_id = models.CharField(max_length=64, blank=True)
    dispatched = models.DateTimeField(
        null=True, blank=True,
        help_text="When its message last reached the broker; empty while the broker could not be reached.")
    worker = models.CharField(max_length=200, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)

    created = models.DateTimeField(default=timezone.now, db_index=True)
    started = models.DateTimeField(null=True, blank=True)
    finished = models.DateTimeField(null=True, blank=True)
    heartbeat = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created"]
        indexes = [models.Index(fields=["team", "-created"]), models.Index(fields=["status", "heartbeat"])]
        constraints = [
            models.CheckConstraint(condition=models.Q(progress__gte=0, progress__lte=100), name="progress_0_100"),
        ]

    def __str__(self) -> str:
        return f"Job {self.pk} {self.kind} ({self.status})"

    def get_absolute_url(self) -> str:
        return reverse("job_detail", args=[self.team.slug, self.pk])

    @property
    def is_finished(self) -> bool:
        return self.status in self.FINISHED

    @property
    def awaiting_dispatch(self) -> bool:
        """Queued, but its message never reached the broker: the reaper sends it when it can."""
        return self.status == self.Status.QUEUED and self.dispatched is None

    @property
    def duration_s(self) -> float | None:
        if not self.started:
            return None
        end = self.finished or timezone.now()
        return (end - self.started).total_seconds()

    @property
    def kind_label(self) -> str:
        return self.label_of_kind(self.kind)

    @staticmethod
    def label_of_kind(kind: str) -> str:
        spec = settings.PITLANE_JOB_KINDS.get(kind, {})
        return spec.get("label", kind)

    #: The columns an event is made of (`event_of`): what a snapshot of many jobs reads.
    EVENT_COLUMNS = ("id", "team_id", "kind", "title", "status", "progress", "message", "metrics", "error",
                     "cancel_requested")

    def as_event(self) -> dict:
        """What the browser needs to draw the job's row; also the websocket payload."""
        return self.event_of({name: getattr(self, name) for name in self.EVENT_COLUMNS}, self.get_absolute_url())

    @classmethod
    def event_of(cls, row: dict, url: str) -> dict:
        """`as_event` of the job whose EVENT_COLUMNS are `row` (e.g. a `values()` row) and whose
        page is `url`, without building the model instance."""
        return {
            "id": row["id"],
            "team_id": row["team_id"],
            "kind": row["kind"],
            "kind_label": cls.label_of_kind(row["kind"]),
            "title": row["title"],
            "status": row["status"],
            "status_label": str(_STATUS_LABELS.get(row["status"], row["status"])),
            "progress": round(row["progress"], 1),
            "message": row["message"],
            "metrics": row["metrics"],
            "error": row["error"],
            "cancel_requested": row["cancel_requested"],
            "url": url,
        }


#: What `get_status_display` answers, per status.
_STATUS_LABELS = dict(Job.Status.choices)
