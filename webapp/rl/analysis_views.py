"""The log-analysis page of an RL model (seed 004's workflow, built in): reward heat map on the
track, action choices along the track, paths of the best and worst episodes, % of episodes
completed, reward and evaluation lap times per iteration, for a chosen range of iterations; and
the raw logs (simtrace CSVs, robomaker log, metrics JSON) as downloads. Team-scoped: another
team's model is 404.

The figures come from `training.rl.analysis` / `training.rl.plots` (pure, on the run's DeepRacer
logs); this module only finds the logs, picks the range and keeps each range's figures in a cache
file so that a page of a long run is served from disk after its first view.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

from django import forms
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404
from django.shortcuts import render
from django.utils.http import urlencode

from training.rl.analysis import AnalysisError
from webapp.accounts.selectors import membership_or_404
from webapp.garage.models import TrainedModel

from . import selectors

#: Bump when the figures' content changes: old cache files are then ignored.
ANALYSIS_VERSION = 2
TRAINING_SIMTRACE = re.compile(r"^training-simtrace/(\d+)-iteration\.csv$")
EVALUATION_SIMTRACE = re.compile(r"^evaluation-simtrace/(\d+)-iteration\.csv$")
ROBOMAKER_LOG = "logs/robomaker.log"
BY = [("reward", "total reward"), ("progress", "progress")]
METRICS_JSON = "metrics/TrainingMetrics.json"
#: The figures of the page, in order: (key, title, what it shows, drawn on the track map).
FIGURES = (
    ("reward_heatmap", "Reward on the track", "Mean reward per step, binned on the track.", True),
    ("actions", "Action choices along the track", "The mean steering and speed the policy chose on each stretch.",
     True),
    ("paths", "Best and worst episodes", "The paths of the best and worst episodes (by the measure chosen above).",
     True),
    ("action_histogram", "How often each action was chosen", "Per stretch of the lap, for each action of the "
     "model's action space.", False),
    ("completion", "Episodes completed per iteration", "% of training episodes that completed the lap, and the "
     "evaluation trials' completion.", False),
    ("reward", "Reward per iteration", "Mean, lowest and highest episode reward.", False),
    ("lap_times", "Evaluation lap times", "Lap times of the evaluation trials after each iteration.", False),
)


class IterationRange(forms.Form):
    first = forms.IntegerField(label="From iteration", min_value=0, required=False)
    last = forms.IntegerField(label="To iteration", min_value=0, required=False)
    by = forms.ChoiceField(label="Best and worst episodes by", choices=BY, initial="reward", required=False)
    # A run on several tracks: the maps show one (default: the track most steps ran on).
    track = forms.CharField(max_length=120, required=False, widget=forms.HiddenInput)

    def __init__(self, *args, iterations: list[int], **kwargs):
        super().__init__(*args, **kwargs)
        self.iterations = iterations
        low, high = (iterations[0], iterations[-1]) if iterations else (0, 0)
        for name, initial in (("first", low), ("last", high)):
            field = self.fields[name]
            field.initial = initial
            field.widget.attrs.update(min=low, max=high)

    def clean(self):
        data = super().clean()
        if not self.iterations:
            return data
        first = data.get("first")
        last = data.get("last")
        first = self.iterations[0] if first is None else first
        last = self.iterations[-1] if last is None else last
        if first > last:
            raise forms.ValidationError(f"The range starts after it ends ({first} > {last}).")
        if not any(first <= n <= last for n in self.iterations):
            raise forms.ValidationError(f"No iteration between {first} and {last}: this run has iterations "
                                        f"{self.iterations[0]}-{self.iterations[-1]}.")
        data.update(first=first, last=last, by=data.get("by") or "reward", track=data.get("track") or "")
        return data


# -- where the logs are --------------------------------------------------------------------------

def _live_run_dir(model: TrainedModel) -> Path | None:
    """The training run's own folder, while it is on this machine (the worker writes it)."""
    from .services import run_dir

    folder = run_dir(model)
    return folder if (folder / "training-simtrace").is_dir() else None


def _published_run_dir(model: TrainedModel) -> Path | None:
    """The logs published with the model (`{artifacts_dir}/logs/`, the run's layout), as a local
    folder: the storage's own on a file system, else a copy under WORK_ROOT."""
    logs = list(model.artifacts.get("logs") or [])
    if not model.artifacts_dir or not logs:
        return None
    try:
        local = Path(default_storage.path(model.artifact_name("logs")))
    except NotImplementedError:  # e.g. S3
        local = None
    if local is not None and local.is_dir():
        return local
    folder = Path(settings.WORK_ROOT) / "rl-analysis" / f"model_{model.pk}" / "logs"
    for relative in logs:
        dest = folder / relative
        if not dest.exists():
            dest.parent.mkdir(parents=True, exist_ok=True)
            with default_storage.open(model.artifact_name(f"logs/{relative}")) as src, dest.open("wb") as dst:
                shutil.copyfileobj(src, dst)
    return folder


def run_logs(model: TrainedModel) -> Path | None:
    """The folder holding the model's training logs in the run's layout, or None (none yet)."""
    return _live_run_dir(model) or _published_run_dir(model)


def log_files(run: Path) -> list[str]:
    """The raw logs of a run (relative paths) that the page offers for download."""
    if not run.is_dir():
        return []
    names = [path.relative_to(run).as_posix() for folder in ("training-simtrace", "evaluation-simtrace")
             for path in sorted((run / folder).glob("*-iteration.csv"))]
    names += [name for name in (ROBOMAKER_LOG, METRICS_JSON) if (run / name).is_file()]
    return sorted(names, key=_download_order)


def _download_order(name: str) -> tuple:
    match = TRAINING_SIMTRACE.match(name) or EVALUATION_SIMTRACE.match(name)
    return (name.split("/")[0], int(match.group(1)) if match else -1, name)


def iterations_of(files: list[str]) -> list[int]:
    return sorted(int(m.group(1)) for m in map(TRAINING_SIMTRACE.match, files) if m)


# -- the figures, cached per run and range ----------------------------------------------------------

def _cache_key(run: Path, files: list[str], first: int, last: int, by: str, track: str) -> str:
    """Changes when a file of the range (or the metrics) changes: a training run that goes on, or
    an iteration written again after a resume, gets fresh figures."""
    stamp = []
    for name in files:
        match = TRAINING_SIMTRACE.match(name) or EVALUATION_SIMTRACE.match(name)
        if match and not first <= int(match.group(1)) <= last:
            continue
        info = (run / name).stat()
        stamp.append((name, info.st_size, info.st_mtime_ns))
    payload = json.dumps([ANALYSIS_VERSION, str(run), first, last, by, track, stamp])
    return hashlib.sha256(payload.encode()).hexdigest()[:24]


def analysis_figures(model: TrainedModel, run: Path, files: list[str], first: int, last: int,
                     by: str = "reward", track: str = "") -> dict[str, Any]:
    """The page's figures for iterations first..last (Plotly dicts by FIGURES key) and the
    range's totals, from the cache file when the logs have not changed since."""
    folder = Path(settings.WORK_ROOT) / "rl-analysis" / f"model_{model.pk}"
    prefix = f"{first}-{last}-{by}-{hashlib.sha256(track.encode()).hexdigest()[:8]}-"
    path = folder / f"{prefix}{_cache_key(run, files, first, last, by, track)}.json"
    if path.is_file():
        return json.loads(path.read_text())
    result = compute_figures(run, first, last, by=by, track=track)
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob(f"{prefix}*.json"):  # the same view of older logs
        stale.unlink(missing_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(result, separators=(",", ":")))
    tmp.replace(path)
    return result


def compute_figures(run: Path, first: int, last: int, *, by: str = "reward", track: str = "") -> dict[str, Any]:
    """training.rl.analysis on the run's logs -> {"figures": {key: figure}, "totals": {...},
    "tracks": [the range's tracks]}; `track` "" is the one most steps ran on."""
    from training.rl import plots
    from training.rl.analysis import load_run

    data = load_run(run, first, last, by=by, track=track or None)
    figures = plots.analysis_figures(data)
    figures["paths"] = plots.paths_figure(data.result["paths"], data.track, by=by)  # titled by the measure
    return {"figures": figures, "totals": data.totals(), "tracks": list(data.result["tracks"])}


# -- pages ---------------------------------------------------------------------------------------

@login_required
def rl_analysis(request, team_slug: str, model_id: int):
    team = membership_or_404(request.user, team_slug).team
    model = selectors.rl_model_of_team_or_404(team, model_id)
    run = run_logs(model)
    files = log_files(run) if run else []
    iterations = iterations_of(files)
    form = IterationRange(request.GET or None, iterations=iterations)
    result = chosen = None
    error = ""
    if iterations:
        valid = form.is_bound and form.is_valid()
        chosen = (form.cleaned_data["first"], form.cleaned_data["last"]) if valid else (iterations[0], iterations[-1])
        by, track = (form.cleaned_data["by"], form.cleaned_data["track"]) if valid else ("reward", "")
        try:
            result = analysis_figures(model, run, files, *chosen, by=by, track=track)
        except AnalysisError as exc:
            error = str(exc)
    context = {
        "team": team, "model": model, "form": form, "iterations": iterations, "result": result,
        "figures": FIGURES, "range": chosen, "error": error,
        "track_links": _track_links(result, chosen, form) if result else [],
        "training_logs": [name for name in files if TRAINING_SIMTRACE.match(name)],
        "evaluation_logs": [name for name in files if EVALUATION_SIMTRACE.match(name)],
        "other_logs": [name for name in files if name in (ROBOMAKER_LOG, METRICS_JSON)],
    }
    return render(request, "rl/analysis.html", context)


def _track_links(result: dict[str, Any], chosen: tuple[int, int], form: IterationRange) -> list[tuple[str, str, bool]]:
    """(track, query string, shown) for each track of a range that ran on several."""
    tracks = result.get("tracks") or []
    if len(tracks) < 2:
        return []
    by = form.cleaned_data.get("by", "reward") if form.is_bound and form.is_valid() else "reward"
    shown = result["totals"]["track"]
    return [(key, urlencode({"first": chosen[0], "last": chosen[1], "by": by, "track": key}), key == shown)
            for key in tracks]


@login_required
def rl_analysis_log(request, team_slug: str, model_id: int, path: str):
    """One raw log file of the model's run, as a download (only the files the page lists)."""
    team = membership_or_404(request.user, team_slug).team
    model = selectors.rl_model_of_team_or_404(team, model_id)
    run = run_logs(model)
    if run is None or path not in log_files(run):
        raise Http404("This run has no such log.")
    content_type = "text/csv" if path.endswith(".csv") else (
        "application/json" if path.endswith(".json") else "text/plain")
    return FileResponse((run / path).open("rb"), as_attachment=True, content_type=content_type,
                        filename=f"model-{model.pk}-{path.replace('/', '-')}")
