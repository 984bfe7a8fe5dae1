"""A dataset is one uploaded driving log (driving_log.csv + IMG/), extracted on local disk where
training reads it; its figures and sample frames go to the default storage for the pages."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone


class Dataset(models.Model):
    class Status(models.TextChoices):
        UPLOADED = "uploaded", "Uploaded"
        INGESTING = "ingesting", "Ingesting"
        READY = "ready", "Ready"
        FAILED = "failed", "Failed"

    team = models.ForeignKey("accounts.Team", on_delete=models.CASCADE, related_name="datasets")
    name = models.CharField(max_length=120)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True)
    created = models.DateTimeField(default=timezone.now)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.UPLOADED, db_index=True)
    job = models.ForeignKey("jobs.Job", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")

    source_name = models.CharField(max_length=255, blank=True, help_text="The uploaded file's name.")
    upload_bytes = models.BigIntegerField(default=0)
    # The uploaded zip (absolute, local) until ingestion has consumed it.
    upload_path = models.CharField(max_length=500, blank=True)
    # The extracted recording, relative to PITLANE_DATASET_ROOT (local disk: training reads it).
    directory = models.CharField(max_length=300, blank=True)

    frames = models.PositiveIntegerField(default=0)
    rows_total = models.PositiveIntegerField(default=0)
    rows_skipped = models.PositiveIntegerField(default=0)
    stats = models.JSONField(default=dict, blank=True, help_text="Duration, rate, cameras, speed, steering.")
    report = models.JSONField(default=dict, blank=True, help_text="What was wrong, by kind, with row numbers.")
    error = models.TextField(blank=True)
    # Storage names (default_storage) of figures and sample frames, for the dataset page.
    figures = models.JSONField(default=dict, blank=True)
    samples = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["-created"]
        indexes = [models.Index(fields=["team", "-created"])]

    def __str__(self) -> str:
        return f"{self.name} (#{self.pk})"

    def get_absolute_url(self) -> str:
        return reverse("dataset_detail", args=[self.team.slug, self.pk])

    @property
    def is_ready(self) -> bool:
        return self.status == self.Status.READY

    @property
    def skip_warning(self) -> str:
        """Says so when a large share of the log's rows was skipped (`validation.skip_warning`)."""
        from .validation import skip_warning

        return skip_warning(self.rows_skipped, self.rows_total)

    @property
    def path(self) -> Path | None:
        """Where the recording lies on this machine (None before ingestion)."""
        if not self.directory:
            return None
        return Path(settings.PITLANE_DATASET_ROOT) / self.directory

    @property
    def storage_prefix(self) -> str:
        return f"teams/{self.team_id}/datasets/{self.pk}"


class RecoverySegment(models.Model):
    """Frames (inclusive range of frame indices of the cleaned log) where the car recovers
    from the road edge; training may keep, drop, or weight them."""

    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="recoveries")
    start = models.PositiveIntegerField()
    end = models.PositiveIntegerField()
    note = models.CharField(max_length=200, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True)
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["start", "end"]
        constraints = [models.CheckConstraint(condition=models.Q(end__gte=models.F("start")),
                                              name="recovery_end_after_start")]

    def __str__(self) -> str:
        return f"frames {self.start}-{self.end}"

    @property
    def frames(self) -> int:
        return self.end - self.start + 1
