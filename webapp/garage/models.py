"""Trained driving models of a team, with the artifacts training produced (Keras and TFLite
models, model card, plots, heat maps). Behavioural cloning today; DeepRacer-style RL later."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone


def artifact_path(instance: TrainedModel, filename: str) -> str:
    return f"teams/{instance.team_id}/models/{instance.pk or 'new'}/{filename}"


class TrainedModelQuerySet(models.QuerySet):
    def ready(self) -> TrainedModelQuerySet:
        """The models that are ready to drive (`TrainedModel.READY_TO_DRIVE`)."""
        return self.filter(TrainedModel.READY_TO_DRIVE)


class TrainedModel(models.Model):
    class Kind(models.TextChoices):
        BEHAVIOURAL_CLONING = "bc", "Behavioural cloning (steering regression)"
        REINFORCEMENT = "rl", "Reinforcement learning (DeepRacer)"

    class Status(models.TextChoices):
        TRAINING = "training", "Training"
        READY = "ready", "Ready"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    team = models.ForeignKey("accounts.Team", on_delete=models.CASCADE, related_name="trained_models")
    name = models.CharField(max_length=120)
    kind = models.CharField(max_length=4, choices=Kind.choices, default=Kind.BEHAVIOURAL_CLONING)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.TRAINING)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True)
    created = models.DateTimeField(default=timezone.now)
    job = models.OneToOneField("jobs.Job", on_delete=models.SET_NULL, null=True, blank=True,
                               related_name="trained_model")
    cloned_from = models.ForeignKey("self", on_delete=models.SET_NULL, null=True, blank=True, related_name="clones")
    group_key = models.CharField(max_length=40, blank=True, db_index=True, help_text="Grid-search group.")

    config = models.JSONField(default=dict, help_text="The training configuration, as run.")
    card = models.JSONField(default=dict, blank=True, help_text="The model card the drive agent reads.")
    metrics = models.JSONField(default=dict, blank=True)
    history = models.JSONField(default=dict, blank=True)
    # Where the training run keeps its files (relative to MEDIA_ROOT / the storage backend).
    artifacts_dir = models.CharField(max_length=300, blank=True)
    tflite = models.FileField(upload_to=artifact_path, blank=True)
    tflite_sha256 = models.CharField(max_length=64, blank=True)
    # What it was trained on, and the web-side options around TrainConfig (Inception weights
    # source, recovery-segment handling); `artifacts` names the published files under artifacts_dir.
    datasets = models.ManyToManyField("datasets.Dataset", blank=True, related_name="trained_models")
    options = models.JSONField(default=dict, blank=True)
    artifacts = models.JSONField(default=dict, blank=True)

    objects = TrainedModelQuerySet.as_manager()

    # The one definition of a ready model: training published it (status READY) *and* its TFLite
    # file is recorded. This is the strict union of what the model page (status only), the
    # downloads, the API and the evaluations used to check each on their own. Only a ready model
    # is offered for download (web 404, API 409 otherwise), evaluation and the drive agent, and
    # only its page shows the results. `objects.ready()` filters on this condition; `is_ready`
    # below is its in-memory twin for one loaded model (tests/garage/test_ready_models.py checks
    # that the two agree for every status, with and without a file).
    READY_TO_DRIVE = Q(status=Status.READY) & ~Q(tflite="")

    class Meta:
        ordering = ["-created"]
        indexes = [models.Index(fields=["team", "-created"])]

    def __str__(self) -> str:
        return f"{self.name} (#{self.pk})"

    def get_absolute_url(self) -> str:
        return reverse("model_detail", args=[self.team.slug, self.pk])

    @property
    def is_ready(self) -> bool:
        """READY_TO_DRIVE, evaluated on this instance instead of in the database."""
        return self.status == self.Status.READY and bool(self.tflite)

    @property
    def val_loss(self) -> float | None:
        return self.metrics.get("val_loss")

    def artifact_name(self, relative: str) -> str:
        """Storage name of a published artifact (relative to the run's folder)."""
        return f"{self.artifacts_dir}/{relative}"


def weights_path(instance: InceptionWeights, filename: str) -> str:
    return f"teams/{instance.team_id}/weights/{filename}"


class InceptionWeights(models.Model):
    """An Inception v3 weights file a team uploaded for transfer learning (Keras ImageNet
    "notop" .h5 or a .weights.h5 saved from keras.applications.InceptionV3)."""

    team = models.ForeignKey("accounts.Team", on_delete=models.CASCADE, related_name="inception_weights")
    name = models.CharField(max_length=120)
    file = models.FileField(upload_to=weights_path)
    size = models.BigIntegerField(default=0)
    sha256 = models.CharField(max_length=64)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True)
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created"]
        verbose_name_plural = "Inception weights"

    def __str__(self) -> str:
        return self.name
