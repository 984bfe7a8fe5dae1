"""A team's reward functions (DeepRacer-style Python `reward_function(params)`) and their
versions. A version is immutable: editing saves a new one; the same source saved again is the
same version. A version is used for training only once validation passed on it
(`services.check_trainable`)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone

#: The largest reward function source accepted (bytes of UTF-8), from the editor or an upload.
MAX_SOURCE_BYTES = 64 * 1024


class RewardFunction(models.Model):
    team = models.ForeignKey("accounts.Team", on_delete=models.CASCADE, related_name="reward_functions")
    name = models.CharField(max_length=120)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="+")
    created = models.DateTimeField(default=timezone.now)
    archived = models.BooleanField(default=False, help_text="Hidden from the list; its versions stay usable.")

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["team", "name"], name="reward_function_name_unique_per_team")]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("reward_detail", args=[self.team.slug, self.pk])


class RewardFunctionVersion(models.Model):
    """One saved source of a reward function, numbered 1, 2, 3... per function by the server."""

    function = models.ForeignKey(RewardFunction, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    source = models.TextField()
    sha256 = models.CharField(max_length=64)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="+")
    created = models.DateTimeField(default=timezone.now)
    # The last validation report (training.rl.reward_check's ValidationReport.to_json()), the track
    # it ran on, and its verdict: None until validated, then True (passed) or False.
    validation = models.JSONField(default=dict, blank=True)
    validated_track = models.CharField(max_length=80, blank=True)
    validated = models.DateTimeField(null=True, blank=True)
    ok = models.BooleanField(null=True, blank=True)

    class Meta:
        ordering = ["function", "-number"]
        constraints = [models.UniqueConstraint(fields=["function", "number"], name="reward_version_number_unique")]

    #: The only fields a saved version may change: its latest validation.
    VALIDATION_FIELDS = frozenset({"validation", "validated_track", "validated", "ok"})

    def __str__(self) -> str:
        return f"{self.function.name} v{self.number}"

    def save(self, *args, **kwargs) -> None:
        """Versions are immutable: once saved, only the validation fields may be written."""
        if self.pk is not None and not self._state.adding:
            fields = kwargs.get("update_fields")
            if fields is None or not set(fields) <= self.VALIDATION_FIELDS:
                raise ValueError("A reward function version is immutable; save a new version instead.")
        super().save(*args, **kwargs)

    def get_absolute_url(self) -> str:
        return reverse("reward_version", args=[self.function.team.slug, self.function_id, self.number])

    @property
    def filename(self) -> str:
        """The download name: the function's name as a file name, with the version number."""
        stem = "".join(c if c.isalnum() or c in "-_" else "_" for c in self.function.name).strip("_") or "reward"
        return f"{stem}_v{self.number}.py"
