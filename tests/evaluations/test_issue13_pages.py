"""Issue 13's outside test, evaluation pages: a refused start re-renders the model page's form with
its errors and values; completion has one rounding rule on the pages and in metrics.json; the
breadcrumb has no trailing slash; an empty best lap says why; the model list shows the latest
evaluation's completion."""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest

from simulator.episode import EpisodeStatus
from simulator.simtrace import completion_percentage, evaluation_metrics
from webapp.evaluations.models import Evaluation
from webapp.evaluations.services import completion_percent

pytestmark = pytest.mark.django_db


def start_url(team, model) -> str:
    return f"/teams/{team.slug}/evaluations/model/{model.pk}/start/"


# --- 6. a refused start keeps the form, its errors and values ----------------------------------

def test_an_invalid_seed_re_renders_the_form_with_its_error_and_values(client, team_a, make_ready_model,
                                                                        monkeypatch):
    monkeypatch.setattr("webapp.jobs.dispatch.enqueue", lambda job: None)
    client.force_login(team_a.captain)
    model = make_ready_model(team_a)
    response = client.post(start_url(team_a, model), {
        "track": "pitlane_loop", "direction": "clockwise", "trials": 4, "off_track_penalty_s": 3,
        "time_limit_s": 75, "vary": "on", "seed": -5})
    assert response.status_code == 400  # not a redirect that drops the values
    page = response.content.decode()
    form = re.search(r'<form method="post" action="[^"#]*"[^>]*data-posted.*?</form>', page, re.S)
    assert form, "the model page's evaluation form comes back, bound to what was posted"
    html = form.group(0)
    assert re.search(r'<div class="field has-error">\s*<label for="id_seed">', html)
    assert "greater than or equal to 0" in html
    assert re.search(r'<input[^>]*name="seed"[^>]*autofocus', html)  # the browser scrolls to it
    assert 'name="trials" value="4"' in html and 'name="time_limit_s" value="75"' in html
    assert re.search(r'<option value="clockwise" selected>', html)
    assert not Evaluation.objects.exists()


def test_an_rl_models_page_also_comes_back_with_the_refused_form(client, team_a, make_ready_rl_model):
    client.force_login(team_a.captain)
    model = make_ready_rl_model(team_a)
    response = client.post(start_url(team_a, model), {
        "track": "pitlane_loop", "direction": "counterclockwise", "trials": 999, "off_track_penalty_s": 2,
        "time_limit_s": 60})
    assert response.status_code == 400
    section = response.content.decode().split('id="evaluations"', 1)[1]
    assert "data-posted" in section and 'name="trials" value="999"' in section and "has-error" in section
    assert "data-action-speeds" in section  # the RL model page's form, not the BC one


def test_a_refused_start_of_a_model_that_is_not_ready_still_says_why(client, team_a, make_ready_model):
    from webapp.garage.models import TrainedModel

    client.force_login(team_a.captain)
    model = make_ready_model(team_a, name="Still training", status=TrainedModel.Status.TRAINING)
    response = client.post(start_url(team_a, model), {
        "track": "pitlane_loop", "direction": "counterclockwise", "trials": 1, "off_track_penalty_s": 2,
        "time_limit_s": 60}, follow=True)
    assert "is not ready to drive" in response.content.decode()


def test_the_seed_help_says_a_seed_varies_the_trials(client, team_a, make_ready_model):
    client.force_login(team_a.captain)
    model = make_ready_model(team_a)
    page = client.get(model.get_absolute_url()).content.decode()
    assert "A seed varies the trials even without “Vary the trials” ticked." in page


# --- 7. one rounding rule for completion --------------------------------------------------------

def test_completion_percentage_rounds_half_to_even_instead_of_truncating():
    assert completion_percentage(23.9999) == 24  # int() made it 23
    assert completion_percentage(25.447) == 25
    assert completion_percentage(24.5) == 24 and completion_percentage(25.5) == 26


def trial(number: int, pct: float):
    return SimpleNamespace(trial=number, status=EpisodeStatus.OFF_TRACK if pct < 100 else EpisodeStatus.LAP_COMPLETE,
                           start_time_s=10.0 * number, elapsed_s=5.0, completion_pct=pct, crash_count=0,
                           immobilized_count=0, off_track_count=1, reversed_count=0, reset_count=1)


def test_metrics_json_and_the_pages_give_the_same_completion(client, team_a, make_ready_model):
    raw = [23.9999, 25.447, 26.5]
    metrics = evaluation_metrics([trial(i, pct) for i, pct in enumerate(raw)])
    in_file = [m["completion_percentage"] for m in metrics["metrics"]]
    assert in_file == [24, 25, 26]
    # What drive_agent.evaluation records in the summary (two decimals, and the file's number).
    summary = {"trials": [{"trial": i, "result": "Off track", "lap_time": None, "raw_lap_time": None,
                           "completion_pct": round(pct, 2), "completion_percentage": completion_percentage(pct),
                           "off_track_count": 1, "reset_count": 1, "elapsed_s": 5.0} for i, pct in enumerate(raw)],
               "completed_laps": 0, "best_lap_time": None, "completion_pct": round(sum(raw) / 3, 2),
               "completion_percentage": completion_percentage(sum(raw) / 3), "off_track_count": 3, "reset_count": 3}
    model = make_ready_model(team_a)
    evaluation = Evaluation.objects.create(team=team_a, model=model, track="pitlane_loop", trials=3,
                                           profile="deepracer", summary=summary)
    client.force_login(team_a.captain)
    page = client.get(evaluation.get_absolute_url()).content.decode()
    shown = [int(v) for v in re.findall(r'data-trial-completion>(\d+) %', page)]
    assert shown == in_file  # the page said 25.5 % (25.45 rounded again) where the file says 25
    assert re.search(r"data-completion>25 % on average", page)


def test_an_older_summary_is_rounded_by_the_same_rule():
    assert completion_percent({"completion_pct": 23.99}) == 24
    assert completion_percent({"completion_pct": 24.5}) == 24
    assert completion_percent({"completion_pct": 24.5, "completion_percentage": 25}) == 25
    assert completion_percent({}) is None


# --- 8. breadcrumb, empty best lap, model list --------------------------------------------------

@pytest.fixture
def lapless(team_a, make_ready_model):
    model = make_ready_model(team_a, name="tiny-bc")
    summary = {"trials": [], "completed_laps": 0, "best_lap_time": None, "completion_pct": 25.45,
               "completion_percentage": 25, "off_track_count": 2, "reset_count": 2}
    return Evaluation.objects.create(team=team_a, model=model, track="pitlane_loop", trials=2,
                                     profile="deepracer", summary=summary)


def test_breadcrumb_ends_with_the_evaluation_not_a_slash(client, team_a, lapless):
    client.force_login(team_a.captain)
    page = client.get(lapless.get_absolute_url()).content.decode()
    crumbs = re.search(r'<p class="crumbs"[^>]*>(.*?)</p>', page, re.S).group(1)
    assert not crumbs.rstrip().endswith("/")
    assert crumbs.rstrip().endswith(f"Evaluation {lapless.pk}") and "tiny-bc</a>" in crumbs


def test_an_empty_best_lap_says_no_lap_was_completed(client, team_a, lapless):
    client.force_login(team_a.captain)
    page = client.get(f"/teams/{team_a.slug}/evaluations/").content.decode()
    cell = re.search(r'<td class="num" data-best-lap>(.*?)</td>', page, re.S).group(1)
    assert "no complete lap" in cell
    assert re.search(r'<td class="num" data-completion>25 %</td>', page)


def test_model_list_shows_the_latest_evaluations_completion(client, team_a, lapless):
    client.force_login(team_a.captain)
    page = client.get(f"/teams/{team_a.slug}/models/").content.decode()
    cell = re.search(r'<td class="num" data-eval-completion>(.*?)</td>', page, re.S).group(1)
    assert ">25 %</a>" in cell and lapless.get_absolute_url() in cell
    newer = Evaluation.objects.create(team=team_a, model=lapless.model, track="pitlane_loop", trials=1,
                                      profile="deepracer",
                                      summary={**lapless.summary, "completion_percentage": 80})
    Evaluation.objects.create(team=team_a, model=lapless.model, track="pitlane_loop", trials=1,
                              profile="deepracer")  # still running: no results yet
    page = client.get(f"/teams/{team_a.slug}/models/").content.decode()
    cell = re.search(r'<td class="num" data-eval-completion>(.*?)</td>', page, re.S).group(1)
    assert ">80 %</a>" in cell and newer.get_absolute_url() in cell
