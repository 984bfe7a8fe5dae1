"""Evaluation jobs through a real Celery worker (queue "evaluation"): a tiny TFLite model drives
the simulator in-process; laps, completion, DeepRacer sim-trace and metrics come back readable;
the track's lap-time limit is cached; a cancel stops a running evaluation."""

from __future__ import annotations

import csv
import io
import json

import pytest
from django.db import transaction

from tests.support.waiting import wait_for
from webapp.evaluations.models import Evaluation, TrackLimit
from webapp.jobs.models import Job
from webapp.jobs.services import request_cancel, start_job

pytestmark = [pytest.mark.worker, pytest.mark.slow]


def test_evaluation_job_records_laps_files_and_limit(client, celery_worker_process, team_a, make_ready_model):
    model = make_ready_model(team_a)
    client.force_login(team_a.captain)
    response = client.post(f"/teams/{team_a.slug}/evaluations/model/{model.pk}/start/", {
        "track": "pitlane_loop", "direction": "counterclockwise", "trials": 2, "off_track_penalty_s": 2,
        "time_limit_s": 60,
    })
    evaluation = Evaluation.objects.get(model=model)
    assert response.status_code == 302 and response["Location"] == evaluation.get_absolute_url()
    assert evaluation.job.queue == "evaluation" and evaluation.profile == "deepracer"

    job = wait_for(lambda: Job.objects.filter(pk=evaluation.job_id, status__in=Job.FINISHED).first(),
                   timeout_s=90, message="the evaluation job to finish")
    assert job.status == Job.Status.SUCCEEDED, job.error
    assert job.progress == 100 and job.metrics["laps"] == 2
    evaluation.refresh_from_db()
    summary = evaluation.summary
    assert summary["completed_laps"] == 2 and summary["completion_pct"] == 100.0
    assert [t["trial"] for t in summary["trials"]] == [1, 2]
    assert all(5.0 < t["lap_time"] < 60.0 for t in summary["trials"])
    assert summary["best_lap_time"] == min(t["lap_time"] for t in summary["trials"])

    simtrace = client.get(f"/teams/{team_a.slug}/evaluations/{evaluation.pk}/files/simtrace/")
    assert simtrace.status_code == 200 and "attachment" in simtrace["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(b"".join(simtrace.streaming_content).decode())))
    assert rows[0].keys() >= {"episode", "steps", "X", "Y", "yaw", "steer", "throttle", "progress", "episode_status"}
    assert len(rows) == summary["steps"]
    assert {row["episode_status"] for row in rows} >= {"in_progress", "lap_complete"}

    metrics = json.loads(b"".join(client.get(
        f"/teams/{team_a.slug}/evaluations/{evaluation.pk}/files/metrics/").streaming_content))["metrics"]
    assert [m["trial"] for m in metrics] == [1, 2]
    assert all(m["completion_percentage"] == 100 and m["episode_status"] == "Lap complete" for m in metrics)

    with evaluation.trace_file.open("rb") as fh:
        trace = json.load(fh)
    assert len(trace["x"]) == summary["steps"] and max(trace["speed"]) > 0.5

    limit = TrackLimit.objects.get(track="pitlane_loop", direction="counterclockwise", profile="deepracer")
    assert 0 < limit.lap_time_s < summary["best_lap_time"] and not limit.error


def test_cancel_stops_a_running_evaluation(celery_worker_process, team_a, make_ready_model):
    """A long evaluation (the DeepRacer car on a kilometre-long road track) is cancelled mid-run."""
    model = make_ready_model(team_a)
    with transaction.atomic():  # the job is queued on commit, once its evaluation exists
        job = start_job(team=team_a, user=team_a.captain, kind="evaluation", title="Long evaluation")
        evaluation = Evaluation.objects.create(team=team_a, model=model, job=job, track="pitlane_lake_road",
                                               trials=3, time_limit_s=3600, profile="deepracer")
    wait_for(lambda: Job.objects.filter(pk=job.pk, status=Job.Status.RUNNING, progress__gt=0).exists(),
             timeout_s=60, message="the evaluation to make progress")
    request_cancel(job=Job.objects.get(pk=job.pk))
    job = wait_for(lambda: Job.objects.filter(pk=job.pk, status__in=Job.FINISHED).first(), timeout_s=30,
                   message="the cancel to land")
    assert job.status == Job.Status.CANCELLED
    assert job.progress < 50
    evaluation.refresh_from_db()
    assert evaluation.summary == {} and not evaluation.simtrace and not evaluation.trace_file
