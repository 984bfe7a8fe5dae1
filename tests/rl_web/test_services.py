"""webapp.rl.services: the rules of starting an RL run (RLConfig's, the reward version's, a clone's)
hold for every caller, and iteration rows are kept for the live page."""

import pytest
from django.core.exceptions import ValidationError

from tests.rl_web.helpers import validated_version
from training.rl.config import RLConfig
from webapp.garage.models import TrainedModel
from webapp.jobs.models import Job
from webapp.rl import selectors, services
from webapp.rl.models import TrainingIteration

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("pitlane_dirs")]


def _start(team, version, **config):
    return services.start_rl_training(team=team, user=team.captain, name="Run", reward_version=version,
                                      config={**RLConfig().to_dict(), **config})


def test_start_creates_a_training_rl_model_and_its_job(team_a):
    version = validated_version(team_a)
    model = _start(team_a, version, tracks=[{"name": "reinvent_base", "reverse": True}], lr=0.0001)
    model.refresh_from_db()
    assert model.kind == TrainedModel.Kind.REINFORCEMENT and model.status == TrainedModel.Status.TRAINING
    assert model.config["lr"] == 0.0001 and model.config["tracks"] == [{"name": "reinvent_base", "reverse": True}]
    assert RLConfig.from_dict(model.config).lr == 0.0001
    assert model.options["reward_source"] == version.source and model.options["reward_version_id"] == version.pk
    assert model.artifacts_dir == f"teams/{team_a.pk}/models/{model.pk}"
    job = Job.objects.get(pk=model.job_id)
    assert job.kind == "rl.train" and job.queue == "training" and job.params == {"model_id": model.pk}
    assert services.run_dir(model).name == f"model_{model.pk}"


@pytest.mark.parametrize(("change", "field", "text"), [
    ({"max_minutes": 5}, "max_minutes", "max_minutes must be in [10, 1440]"),
    ({"max_minutes": 2000}, "max_minutes", "max_minutes must be in [10, 1440]"),
    ({"lr": 0.5}, "lr", "lr must be in"),
    ({"action_space": [{"steering_angle": 45, "speed": 1.0}, {"steering_angle": 0, "speed": 1.0}]},
     "action_space", "steering"),
    ({"action_space": [{"steering_angle": 0, "speed": 9.0}, {"steering_angle": 10, "speed": 1.0}]},
     "action_space", "speed"),
    ({"tracks": [{"name": "no_such_track", "reverse": False}]}, "tracks", "unknown track"),
    ({"batch_size": 100}, "batch_size", "batch_size must be one of"),
])
def test_config_rules_are_refused_on_the_field(team_a, change, field, text):
    version = validated_version(team_a)
    with pytest.raises(ValidationError) as caught:
        _start(team_a, version, **change)
    assert field in caught.value.error_dict
    assert text in " ".join(caught.value.message_dict[field])
    assert not TrainedModel.objects.exists() and not Job.objects.exists()


def test_reward_version_must_be_the_teams_and_validated(team_a, team_b):
    theirs = validated_version(team_b, name="Bravo secret")
    with pytest.raises(ValidationError, match="not the team's"):
        _start(team_a, theirs)
    untested = validated_version(team_a, name="Untested")
    untested.ok = None
    untested.save(update_fields=["ok"])
    with pytest.raises(ValidationError, match="has not been validated yet"):
        _start(team_a, untested)
    failed = validated_version(team_a, name="Failed", ok=False)
    with pytest.raises(ValidationError, match="failed validation"):
        _start(team_a, failed)
    assert not TrainedModel.objects.exists()


def test_clone_rules(team_a, team_b):
    version = validated_version(team_a)
    parent = _start(team_a, version)
    with pytest.raises(ValidationError, match="once it is ready or was cancelled"):
        services.start_rl_training(team=team_a, user=team_a.captain, name="c", reward_version=version,
                                   config=RLConfig().to_dict(), cloned_from=parent)
    parent.status = TrainedModel.Status.CANCELLED
    parent.save(update_fields=["status"])
    # Another network or input cannot continue from the parent's weights (clone_plan's rule).
    with pytest.raises(ValidationError) as caught:
        services.start_rl_training(team=team_a, user=team_a.captain, name="c", reward_version=version,
                                   config={**RLConfig().to_dict(), "network": "deepracer_shallow"}, cloned_from=parent)
    assert "network" in caught.value.error_dict and "A clone cannot change this" in str(caught.value)
    # Another team cannot clone it, nor a BC model be cloned into RL.
    bravo_version = validated_version(team_b, name="B")
    with pytest.raises(ValidationError, match="not the team's"):
        services.start_rl_training(team=team_b, user=team_b.captain, name="c", reward_version=bravo_version,
                                   config=RLConfig().to_dict(), cloned_from=parent)
    bc = TrainedModel.objects.create(team=team_a, name="bc", status=TrainedModel.Status.READY)
    with pytest.raises(ValidationError, match="Only a reinforcement-learning model"):
        services.start_rl_training(team=team_a, user=team_a.captain, name="c", reward_version=version,
                                   config=RLConfig().to_dict(), cloned_from=bc)
    # A changed action space is allowed; the explanation says what happens to the policy head.
    faster = [{"steering_angle": s, "speed": v} for s in (-30, 0, 30) for v in (1.0, 2.0, 3.0)]
    clone = services.start_rl_training(team=team_a, user=team_a.captain, name="c", reward_version=version,
                                       config={**RLConfig().to_dict(), "action_space": faster}, cloned_from=parent)
    assert clone.cloned_from == parent
    explanation = services.clone_explanation(parent, RLConfig.from_dict(clone.config))
    assert "from 10 to 9 actions" in explanation and "policy head" in explanation


def test_iteration_rows_and_history(team_a):
    model = _start(team_a, validated_version(team_a))
    for i in range(3):
        services.record_iteration(model, {
            "phase": "iteration", "iteration": i, "episodes": 5 * (i + 1), "reward_mean": float(i), "kl": 0.01,
            "eval_completion_pct": 10.0 * i, "best_iteration": i, "huge_extra": list(range(1000)),
            "episode_rows": [{"episode": 5 * i + k, "reward": 1.0, "progress": 12.5, "steps": 40,
                              "status": "off_track", "x": [0.0] * 50} for k in range(5)],
        })
    # A re-run after a lost worker reports iteration 2 again: the row is replaced, not doubled.
    services.record_iteration(model, {"iteration": 2, "episodes": 15, "reward_mean": 9.0, "episode_rows": []})
    assert TrainingIteration.objects.filter(trained_model=model).count() == 3
    data = selectors.history(model, after=0)
    assert [row["iteration"] for row in data["iterations"]] == [1, 2]
    assert data["iterations"][1]["reward_mean"] == 9.0 and "huge_extra" not in data["iterations"][0]
    assert [e["episode"] for e in data["episodes"]] == [5, 6, 7, 8, 9]
    assert set(data["episodes"][0]) == {"episode", "track", "reward", "progress", "steps", "status", "lap_time",
                                        "iteration"}
    assert data["last"] == 2 and data["more"] is False and data["time_limit_s"] == 3600.0
    assert selectors.history(model, after=2)["iterations"] == []
