"""The closed-loop result through the platform's own evaluation job.

`bench/closed_loop.py` trains a PilotNet on autopilot logs; this script hands that model to the
web app exactly as a team would have it (a ready TrainedModel with its TFLite file and card),
starts evaluations with the evaluation service and runs each job with the runner the Celery
task calls, in this process, on a scratch SQLite database. Ends with `RESULT {json}`.

    python bench/closed_loop.py            # once, to train the model
    python bench/evaluation_job.py [--model-dir DIR] [--set-speed 15]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_MODEL = Path(tempfile.gettempdir()) / "pitlane_closed_loop" / "full" / "model"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", type=Path, default=DEFAULT_MODEL, help="model.tflite + model_card.json")
    parser.add_argument("--set-speed", type=float, default=15.0, help="mph")
    parser.add_argument("--track", default="pitlane_loop_road")
    parser.add_argument("--unseen-track", default="pitlane_hairpin_road")
    args = parser.parse_args()
    if not (args.model_dir / "model.tflite").exists():
        parser.error(f"no model in {args.model_dir}: run bench/closed_loop.py first")

    scratch = Path(tempfile.mkdtemp(prefix="pitlane-evaljob-"))
    os.environ["PITLANE_VAR_DIR"] = str(scratch)
    os.environ["DJANGO_SETTINGS_MODULE"] = "webapp.settings"
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.files.base import ContentFile
    from django.core.management import call_command

    import webapp.jobs.dispatch as job_dispatch
    from webapp.accounts.services import create_team
    from webapp.evaluations.models import TrackLimit
    from webapp.evaluations.services import start_evaluation
    from webapp.garage.models import TrainedModel
    from webapp.jobs.models import Job
    from webapp.jobs.runner import execute_job

    call_command("migrate", verbosity=0)
    job_dispatch.enqueue = lambda job: None  # the job runs below, in this process
    user = get_user_model().objects.create(username="bench")
    team = create_team(user=user, name="Bench")
    card = json.loads((args.model_dir / "model_card.json").read_text())
    model = TrainedModel.objects.create(team=team, name="closed-loop PilotNet", status="ready", card=card,
                                        tflite_sha256=card["tflite"]["sha256"], created_by=user)
    model.tflite.save("model.tflite", ContentFile((args.model_dir / "model.tflite").read_bytes()))

    results = {}
    for track, trials in ((args.track, 3), (args.unseen_track, 1)):
        evaluation = start_evaluation(team=team, user=user, model=model, track=track, direction="counterclockwise",
                                      trials=trials, off_track_penalty_s=2.0, time_limit_s=900.0,
                                      set_speed=args.set_speed)
        print(f"evaluating on {track} ({trials} trial(s)) at {args.set_speed:g} mph...", flush=True)
        execute_job(evaluation.job.pk, worker="bench")
        evaluation.refresh_from_db()
        job = Job.objects.get(pk=evaluation.job.pk)
        limit = TrackLimit.objects.get(track=track, direction="counterclockwise", profile="udacity").lap_time_s
        laps = [t["lap_time"] for t in evaluation.summary["trials"]]
        results[track] = {
            "job_status": job.status, "lap_times_s": laps, "off_track_count": evaluation.summary["off_track_count"],
            "completion_pct": evaluation.summary["completion_pct"], "limit_s": round(limit, 2),
            "lap_to_limit_ratio": [round(t / limit, 3) if t else None for t in laps],
            "latency_ms": evaluation.summary["latency_ms"]["total"],
        }
        print(json.dumps(results[track]), flush=True)
    seen = results[args.track]
    verdict = seen["job_status"] == "succeeded" and seen["off_track_count"] == 0 and all(seen["lap_times_s"])
    print("RESULT " + json.dumps({"set_speed_mph": args.set_speed, "three_clean_laps": verdict, **results}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
