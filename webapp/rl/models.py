"""What an RL training run reports while it trains, one row per PPO iteration, so the live page
can fetch the rows it has not drawn yet. The model itself is a `garage.TrainedModel` of kind
REINFORCEMENT (config, card, artifacts, cloned_from); appending each iteration to its `history`
JSON would rewrite the whole history every few seconds, so iterations get rows of their own."""

from __future__ import annotations

from django.db import models
from django.utils import timezone


class TrainingIteration(models.Model):
    trained_model = models.ForeignKey("garage.TrainedModel", on_delete=models.CASCADE, related_name="rl_iterations")
    iteration = models.PositiveIntegerField()
    # The iteration's figures (reward mean/min/max, evaluation completion, entropy, KL, losses,
    # steps/s, episodes/hour, ETA...) and its episodes (episode, reward, progress, steps, status).
    metrics = models.JSONField(default=dict)
    episodes = models.JSONField(default=list)
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["trained_model", "iteration"]
        constraints = [models.UniqueConstraint(fields=["trained_model", "iteration"],
                                               name="rl_iteration_unique_per_model")]

    def __str__(self) -> str:
        return f"{self.trained_model_id} iteration {self.iteration}"
