"""Training runs for the analysis page tests: real `Session` steps of tests.rl.synthetic_runs,
logged by `training.rl.logs.TrainingLog` (the trainer's own writer) into a run folder, then
published the way the RL job publishes a finished run (`{artifacts_dir}/logs/<run layout>`)."""

from __future__ import annotations

from pathlib import Path

TRACK = "pitlane_loop"


def write_run(out_dir: Path, iterations: int = 3, per_iteration: int = 4, repeat: int = 1,
              tracks: tuple[str, ...] = (TRACK,)) -> Path:
    """A run folder with `iterations x repeat` logged iterations (each of `per_iteration`
    episodes) and one evaluation trial after each; `repeat` logs the same episodes again under
    later iteration numbers, a cheap way to a long run; with several `tracks`, iteration n ran on
    tracks[n % len(tracks)] (round robin, as the trainer's)."""
    from simulator.track import load_track
    from tests.rl import synthetic_runs
    from training.rl.logs import TrainingLog

    loaded = [load_track(name) for name in tracks]
    batches = [synthetic_runs.iterations(track, iterations, per_iteration) for track in loaded]
    evaluations = [synthetic_runs.evaluation(track, n_trials=1) for track in loaded]
    log = TrainingLog(out_dir)
    for n in range(iterations * repeat):
        k = n % len(loaded)
        log.write_iteration(n, batches[k][n % iterations], loaded[k])
        log.write_evaluation(n, evaluations[k], loaded[k])
    synthetic_runs.write_run_files(out_dir)
    return out_dir


def publish_logs(model, run: Path) -> list[str]:
    """Copy the run's log folders into the model's storage (`{artifacts_dir}/logs/...`) and list
    them in `model.artifacts["logs"]`, as webapp.rl.services.publish does."""
    from django.core.files import File
    from django.core.files.storage import default_storage

    if not model.artifacts_dir:
        model.artifacts_dir = f"teams/{model.team_id}/models/{model.pk}"
    logs = []
    for folder in ("training-simtrace", "evaluation-simtrace", "metrics", "logs"):
        for path in sorted((run / folder).rglob("*")):
            if path.is_file():
                relative = path.relative_to(run).as_posix()
                with path.open("rb") as fh:
                    default_storage.save(model.artifact_name(f"logs/{relative}"), File(fh))
                logs.append(relative)
    model.artifacts = {**model.artifacts, "logs": logs}
    model.save(update_fields=["artifacts_dir", "artifacts"])
    return logs
