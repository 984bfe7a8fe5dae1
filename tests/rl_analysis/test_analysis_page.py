"""The log-analysis page of an RL model: the six figures of seed 004's workflow for a range of
iterations (from the run's DeepRacer logs, through training.rl.analysis/plots), the raw logs as
downloads, the range selector's refusals, a cache per run and range, the run's own folder while it
trains, and team scoping (another team's model, a behavioural-cloning model, an unlisted file: 404)."""

from __future__ import annotations

import json
import re
import time

import pytest

from tests.rl_analysis.helpers import publish_logs, write_run
from webapp.garage.models import TrainedModel
from webapp.rl import analysis_views
from webapp.rl.services import run_dir

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("pitlane_dirs")]

FIGURE_KEYS = [key for key, *_ in analysis_views.FIGURES]


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory):
    """One logged run of 3 iterations x 4 episodes (+ an evaluation trial each), shared read-only."""
    return write_run(tmp_path_factory.mktemp("run") / "run")


@pytest.fixture
def published(team_a, make_ready_rl_model, run_folder):
    model = make_ready_rl_model(team_a, name="PPO loop")
    publish_logs(model, run_folder)
    return model


def url(model, query: str = "") -> str:
    return f"/teams/{model.team.slug}/rl/models/{model.pk}/analysis/{query}"


def figures_of(html: str) -> dict:
    match = re.search(r'<script id="analysis-figures" type="application/json">(.*?)</script>', html, re.S)
    assert match, "the page embeds its figures"
    return json.loads(match.group(1))


def test_the_page_shows_every_figure_and_the_raw_logs(client, team_a, published, run_folder):
    client.force_login(team_a.captain)
    response = client.get(url(published))
    assert response.status_code == 200
    html = response.content.decode()
    assert "/static/vendor/plotly/plotly.min.js" in html and "cdn" not in html.lower()
    figures = figures_of(html)
    for key in FIGURE_KEYS:
        assert f'data-analysis-figure="{key}"' in html
        assert figures[key]["data"], f"{key} has traces"
    assert re.search(r"data-range>0–2<", html)
    heat = figures["reward_heatmap"]["data"]
    assert heat[0]["type"] == "heatmap" and {"inner border", "outer border"} <= {t.get("name") for t in heat}
    paths = [t["name"] for t in figures["paths"]["data"]]
    assert any(n.startswith("best 1:") for n in paths) and any(n.startswith("worst 1:") for n in paths)
    assert figures["completion"]["data"][0]["x"] == [0, 1, 2]

    links = re.findall(r'href="(/teams/[^"]+/analysis/logs/[^"]+)"', html)
    names = [link.split("/analysis/logs/", 1)[1] for link in links]
    assert names[:2] == ["logs/robomaker.log", "metrics/TrainingMetrics.json"]
    assert [n for n in names if n.startswith("training-simtrace/")] == [
        f"training-simtrace/{n}-iteration.csv" for n in range(3)]
    assert [n for n in names if n.startswith("evaluation-simtrace/")] == [
        f"evaluation-simtrace/{n}-iteration.csv" for n in range(3)]
    download = client.get(links[names.index("training-simtrace/1-iteration.csv")])
    assert download.status_code == 200 and "attachment" in download["Content-Disposition"]
    assert b"".join(download.streaming_content) == (run_folder / "training-simtrace/1-iteration.csv").read_bytes()
    log = b"".join(client.get(links[0]).streaming_content).decode()
    assert "SIM_TRACE_LOG:" in log


def test_the_range_selector_picks_iterations_and_refuses_bad_ranges(client, team_a, published):
    client.force_login(team_a.captain)
    html = client.get(url(published, "?first=1&last=2")).content.decode()
    assert re.search(r"data-range>1–2<", html) and "8 episodes" in html
    assert figures_of(html)["completion"]["data"][0]["x"] == [1, 2]
    by_progress = client.get(url(published, "?first=1&last=2&by=progress")).content.decode()
    assert 'value="progress" selected' in by_progress
    assert "Best and worst episodes by progress" in json.dumps(figures_of(by_progress)["paths"]["layout"])
    whole = client.get(url(published)).content.decode()
    assert "12 episodes" in whole
    assert figures_of(html) != figures_of(whole)

    backwards = client.get(url(published, "?first=2&last=1")).content.decode()
    assert "The range starts after it ends (2 &gt; 1)." in backwards and re.search(r"data-range>0–2<", backwards)
    outside = client.get(url(published, "?first=7&last=9")).content.decode()
    assert "No iteration between 7 and 9: this run has iterations 0-2." in outside
    assert "Ensure this value is greater than or equal to 0" in client.get(url(published, "?first=-1")).content.decode()


def test_other_teams_bc_models_and_unlisted_files_are_404(client, team_a, team_b, published, make_ready_model):
    client.force_login(team_b.captain)
    assert client.get(url(published)).status_code == 404
    assert client.get(url(published, "").replace(team_a.slug, team_b.slug)).status_code == 404
    assert client.get(url(published) + "logs/logs/robomaker.log").status_code == 404

    client.force_login(team_a.captain)
    assert client.get(url(make_ready_model(team_a))).status_code == 404  # not an RL model
    for path in ("training_config.json", "logs/columns/training-0.npz", "../../../settings.py",
                 "training-simtrace/9-iteration.csv", "training-simtrace/../metrics/TrainingMetrics.json"):
        assert client.get(url(published) + f"logs/{path}").status_code == 404, path


def test_figures_are_cached_per_run_and_range(client, team_a, published, monkeypatch, settings):
    client.force_login(team_a.captain)
    calls = []
    compute = analysis_views.compute_figures
    monkeypatch.setattr(analysis_views, "compute_figures", lambda *a, **k: calls.append(a[1:3]) or compute(*a, **k))
    first = figures_of(client.get(url(published)).content.decode())
    again = figures_of(client.get(url(published)).content.decode())
    assert first == again and calls == [(0, 2)]
    client.get(url(published, "?first=0&last=1"))
    assert calls == [(0, 2), (0, 1)]
    cached = sorted(p.name for p in (settings.WORK_ROOT / "rl-analysis" / f"model_{published.pk}").iterdir())
    assert len(cached) == 2 and cached[0].startswith("0-1-") and cached[1].startswith("0-2-")


def test_a_run_in_training_is_analysed_from_its_own_folder(client, team_a, make_ready_rl_model):
    model = make_ready_rl_model(team_a, name="Still training")
    TrainedModel.objects.filter(pk=model.pk).update(status=TrainedModel.Status.TRAINING)
    client.force_login(team_a.captain)
    empty = client.get(url(model)).content.decode()
    assert "data-no-logs" in empty and "fills in as the car trains" in empty

    folder = write_run(run_dir(model), iterations=2)
    html = client.get(url(model)).content.decode()
    assert re.search(r"data-range>0–1<", html) and "8 episodes" in html
    # The trainer logs another iteration: the page's figures follow (the cache key changed).
    write_run(folder, iterations=3)
    assert re.search(r"data-range>0–2<", client.get(url(model)).content.decode())


def test_logs_in_a_storage_without_local_paths_are_copied(client, team_a, make_ready_rl_model, run_folder,
                                                          settings):
    """A storage without local paths (S3; here Django's in-memory one): the published logs are
    copied under WORK_ROOT and analysed there."""
    settings.STORAGES = {**settings.STORAGES, "default": {"BACKEND": "django.core.files.storage.InMemoryStorage"}}
    model = make_ready_rl_model(team_a, name="Remote logs")
    publish_logs(model, run_folder)
    client.force_login(team_a.captain)
    html = client.get(url(model)).content.decode()
    assert re.search(r"data-range>0–2<", html) and "12 episodes" in html
    copy = settings.WORK_ROOT / "rl-analysis" / f"model_{model.pk}" / "logs"
    assert sorted(p.relative_to(copy).as_posix() for p in copy.rglob("*") if p.is_file()) == sorted(
        model.artifacts["logs"])
    log = client.get(url(model) + "logs/metrics/TrainingMetrics.json")
    assert json.loads(b"".join(log.streaming_content))["metrics"]


def test_a_run_on_two_tracks_offers_the_other_track(client, team_a, make_ready_rl_model, tmp_path):
    model = make_ready_rl_model(team_a, name="Two tracks")
    publish_logs(model, write_run(tmp_path / "run", iterations=3, tracks=("pitlane_loop", "pitlane_hairpin")))
    client.force_login(team_a.captain)
    html = client.get(url(model)).content.decode()
    shown = re.search(r"<strong data-shown-track>([^<]+)</strong>", html).group(1)
    other = "pitlane_hairpin" if shown == "pitlane_loop" else "pitlane_loop"
    link = re.search(r'<a href="(\?[^"]*track=' + other + r')">', html).group(1)
    assert "on " + shown in json.dumps(figures_of(html)["reward_heatmap"]["layout"])

    switched = client.get(url(model, link.replace("&amp;", "&"))).content.decode()
    assert f"<strong data-shown-track>{other}</strong>" in switched
    assert "on " + other in json.dumps(figures_of(switched)["reward_heatmap"]["layout"])
    refused = client.get(url(model, "?track=reinvent_base")).content.decode()
    assert "data-analysis-error" in refused and "data-analysis-figure" not in refused
    assert "the run did not train on &#x27;reinvent_base&#x27;" in refused


@pytest.mark.slow
def test_a_long_run_renders_in_about_a_second(client, team_a, make_ready_rl_model, tmp_path):
    """100k+ logged steps: the first view computes within a few seconds, later ones come from the
    cache in well under one (figures printed with the machine's load)."""
    import os

    model = make_ready_rl_model(team_a, name="Long run")
    small = write_run(tmp_path / "small")
    steps_per_cycle = sum(len(path.read_text().splitlines()) - 1 for path in (small / "training-simtrace").iterdir())
    run = write_run(tmp_path / "long", repeat=-(-100_000 // steps_per_cycle))
    publish_logs(model, run)
    client.force_login(team_a.captain)
    start = time.perf_counter()
    html = client.get(url(model)).content.decode()
    first_s = time.perf_counter() - start
    steps = int(re.search(r"(\d+) steps", html).group(1))
    start = time.perf_counter()
    client.get(url(model))
    cached_s = time.perf_counter() - start
    print(f"analysis page: {steps} steps, first view {first_s:.2f} s, cached {cached_s:.3f} s, "
          f"load average {os.getloadavg()[0]:.2f}")
    assert steps >= 100_000
    assert first_s < 5.0 and cached_s < 0.5
