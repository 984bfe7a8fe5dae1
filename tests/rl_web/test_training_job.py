"""RL training through a REAL Celery worker, the real trainer and the real reward sandbox, with
budgets of seconds: a run becomes a ready model (TFLite, card, DeepRacer files, console archive,
logs) served by the pages, the downloads and the API; a run cancelled mid-training is cloned with
a new action space and continues from its checkpoint; a reward function that fails in training
fails the job with its line and the step's params; a killed worker's run resumes on another."""

import hashlib
import io
import json
import zipfile

import pytest
from django.urls import reverse

from tests.rl_web.helpers import FAILS_LATER, TINY, form_data, validated_version
from tests.support.waiting import wait_for
from webapp.garage.models import TrainedModel
from webapp.jobs.models import Job
from webapp.rl.models import TrainingIteration

pytestmark = [pytest.mark.worker, pytest.mark.slow, pytest.mark.django_db(transaction=True),
              pytest.mark.usefixtures("pitlane_dirs")]


def _start(client, team, version, query="", **config) -> TrainedModel:
    data = form_data(version, advanced_json=json.dumps({**TINY, **config}))
    response = client.post(reverse("rl_train", args=[team.slug]) + query, data)
    assert response.status_code == 302, response.content.decode()[-3000:]
    return TrainedModel.objects.order_by("-pk").first()


def _job(model) -> Job:
    return Job.objects.get(pk=model.job_id)


def _finished(model, timeout_s=300) -> Job:
    wait_for(lambda: _job(model).is_finished, timeout_s=timeout_s, interval_s=0.5, message=f"job of {model.name}")
    return _job(model)


def _body(response) -> bytes:
    return b"".join(response.streaming_content)


def test_worker_trains_a_ready_rl_model_served_everywhere(client, team_a, team_b, celery_worker_process):
    version = validated_version(team_a)
    client.force_login(team_a.captain)
    model = _start(client, team_a, version)
    job = _finished(model)
    assert job.status == Job.Status.SUCCEEDED, (job.error, job.log_tail[-3000:])
    model.refresh_from_db()
    assert model.status == TrainedModel.Status.READY and model.is_ready
    assert TrainedModel.objects.ready().filter(pk=model.pk).exists()
    # The job row's small figures; one TrainingIteration row per iteration with its episodes.
    assert {"iteration", "episodes", "reward", "eval_completion", "steps_per_s", "eta"} <= set(job.metrics)
    rows = list(TrainingIteration.objects.filter(trained_model=model))
    assert rows and [r.iteration for r in rows] == list(range(len(rows)))
    assert rows[0].episodes and {"episode", "reward", "progress", "status"} <= set(rows[0].episodes[0])
    assert model.metrics["iterations"] == len(rows) and model.metrics["best_iteration"] is not None
    assert len(model.history["iterations"]) == len(rows)

    # The model card and TFLite: what the drive agent reads.
    blob = model.tflite.read()
    assert hashlib.sha256(blob).hexdigest() == model.tflite_sha256 == model.card["tflite"]["sha256"]
    assert model.card["kind"] == "discrete_actions" and len(model.card["action_space"]) == 10
    assert model.card["input"]["camera"] == "deepracer_front"
    from drive_agent.model_card import parse_model_card

    parse_model_card(model.card)

    base = reverse("rl_model", args=[team_a.slug, model.pk])
    history = client.get(base + "history.json").json()
    assert [r["iteration"] for r in history["iterations"]] == [r.iteration for r in rows]
    assert history["status"] == "ready" and history["episodes"]
    page = client.get(base).content.decode()
    assert "Result and downloads" in page and "Console / DRfC archive" in page and f"?clone={model.pk}" in page

    def download(what):
        response = client.get(reverse("rl_download", args=[team_a.slug, model.pk, what]))
        assert response.status_code == 200, what
        return _body(response)

    assert download("tflite") == blob
    assert json.loads(download("card"))["tflite"]["sha256"] == model.tflite_sha256
    metadata = json.loads(download("metadata"))
    assert metadata["action_space_type"] == "discrete" and len(metadata["action_space"]) == 10
    assert json.loads(download("hyperparameters"))["batch_size"] == TINY["batch_size"]
    assert download("reward").decode() == version.source
    archive = download("console")
    with zipfile.ZipFile(io.BytesIO(archive)) as zf:
        names = zf.namelist()
    assert any(n.endswith("model_metadata.json") for n in names), names
    assert any(n.endswith("reward_function.py") for n in names), names
    # The training logs are published beside the export (the analysis page reads them).
    assert any(name.startswith("training-simtrace/") for name in model.artifacts["logs"])

    # The API serves it like any ready model.
    api = client.get(f"/api/v1/models/{model.pk}/").json()
    assert api["kind"] == "rl" and api["card"]["kind"] == "discrete_actions"
    assert api["tflite_sha256"] == model.tflite_sha256
    assert _body(client.get(f"/api/v1/models/{model.pk}/tflite")) == blob
    # Another team sees none of it.
    client.force_login(team_b.captain)
    assert client.get(base).status_code == 404
    assert client.get(reverse("rl_download", args=[team_a.slug, model.pk, "tflite"])).status_code == 404
    assert client.get(f"/api/v1/models/{model.pk}/").status_code == 404


def test_cancelled_run_is_cloned_with_a_new_action_space(client, team_a, celery_worker_process):
    version = validated_version(team_a)
    client.force_login(team_a.captain)
    parent = _start(client, team_a, version, max_seconds=600)
    wait_for(lambda: TrainingIteration.objects.filter(trained_model=parent).exists(), timeout_s=180,
             interval_s=0.5, message="the first iteration of the long run")
    assert client.post(reverse("job_cancel", args=[team_a.slug, parent.job_id])).status_code == 302
    job = _finished(parent, timeout_s=60)
    assert job.status == Job.Status.CANCELLED, (job.error, job.log_tail[-2000:])
    parent.refresh_from_db()
    assert parent.status == TrainedModel.Status.CANCELLED and not parent.tflite

    faster = [{"steering_angle": s, "speed": v} for s in (-30, -15, 0, 15, 30) for v in (1.5, 2.5, 3.5)]
    data = form_data(version, name="Faster clone", action_space=json.dumps(faster), confirm_head_change="on",
                     advanced_json=json.dumps(TINY))
    response = client.post(reverse("rl_train", args=[team_a.slug]) + f"?clone={parent.pk}", data)
    assert response.status_code == 302, response.content.decode()[-3000:]
    clone = TrainedModel.objects.get(name="Faster clone")
    job = _finished(clone)
    assert job.status == Job.Status.SUCCEEDED, (job.error, job.log_tail[-3000:])
    assert f"Continuing from {parent.name} (model {parent.pk})" in job.log_tail
    assert "from 10 to 15 actions" in job.log_tail and "policy head" in job.log_tail
    clone.refresh_from_db()
    assert clone.is_ready and clone.cloned_from == parent and len(clone.card["action_space"]) == 15


def test_reward_error_in_training_fails_the_job_with_line_and_params(client, team_a, celery_worker_process):
    version = validated_version(team_a, name="Typo", source=FAILS_LATER)
    client.force_login(team_a.captain)
    model = _start(client, team_a, version)
    job = _finished(model)
    assert job.status == Job.Status.FAILED
    assert job.error.startswith("Reward function error (line 5)"), job.error
    assert "distance_from_centre" in job.error and "The step's params:" in job.error
    assert "\n  steps: " in job.error and '\n  waypoints: "[' in job.error  # one param a line, waypoints summarised
    assert "TypeError" not in job.error and "Traceback" not in job.error
    model.refresh_from_db()
    assert model.status == TrainedModel.Status.FAILED and not model.tflite
    page = client.get(reverse("rl_model", args=[team_a.slug, model.pk])).content.decode()
    assert "Reward function error (line 5)" in page


def test_killed_worker_resumes_from_the_last_iteration(client, team_a, make_worker):
    """(With a continuous action space, so that kind goes through the web to a card too.)"""
    version = validated_version(team_a)
    client.force_login(team_a.captain)
    doomed = make_worker(name="rl-doomed")
    space = {"steering_angle": {"low": -30, "high": 30}, "speed": {"low": 0.5, "high": 2.5}}
    model = _start(client, team_a, version, max_seconds=45, action_space_type="continuous", action_space=space)
    wait_for(lambda: TrainingIteration.objects.filter(trained_model=model, iteration__gte=1).exists(),
             timeout_s=240, interval_s=0.5, message="two iterations checkpointed")
    doomed.kill()
    make_worker(name="rl-rescuer")
    job = _finished(model, timeout_s=300)
    assert job.status == Job.Status.SUCCEEDED, (job.error, job.log_tail[-3000:])
    assert job.attempts == 2 and "Resuming from the last iteration's checkpoint" in job.log_tail
    model.refresh_from_db()
    iterations = [r.iteration for r in TrainingIteration.objects.filter(trained_model=model)]
    assert iterations == list(range(len(iterations))) and len(iterations) >= 3
    assert model.metrics["iterations"] == len(iterations) and model.is_ready
    assert model.card["kind"] == "continuous_actions" and model.card["action_space"]["speed"]["high"] == 2.5
