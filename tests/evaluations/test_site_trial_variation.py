"""Seeded trial variation on the site: an option on the evaluation form, recorded with the
evaluation (a seed is drawn when none is given), shown on its page; trials differ, the same seed
repeats them."""

from __future__ import annotations

import pytest

from webapp.evaluations.models import Evaluation

pytestmark = pytest.mark.django_db

FORM = {"track": "pitlane_loop", "direction": "counterclockwise", "trials": 2, "off_track_penalty_s": 2,
        "time_limit_s": 60}


def start(client, team, model, **extra) -> Evaluation:
    response = client.post(f"/teams/{team.slug}/evaluations/model/{model.pk}/start/", {**FORM, **extra})
    assert response.status_code == 302
    return Evaluation.objects.latest("pk")


def test_the_form_records_the_variation_and_a_seed(client, team_a, make_ready_model):
    model = make_ready_model(team_a)
    client.force_login(team_a.captain)
    assert 'name="vary"' in client.get(model.get_absolute_url()).content.decode()
    plain = start(client, team_a, model)
    assert not plain.vary and plain.seed is None
    drawn = start(client, team_a, model, vary="on")
    assert drawn.vary and drawn.seed is not None  # drawn, so the run can be repeated
    chosen = start(client, team_a, model, vary="on", seed=11)
    assert chosen.vary and chosen.seed == 11
    implied = start(client, team_a, model, seed=12)
    assert implied.vary and implied.seed == 12


def lap_figures(evaluation: Evaluation) -> list[tuple]:
    return [(t["completion_pct"], t["elapsed_s"], t["steps"]) for t in evaluation.summary["trials"]]


def test_varied_trials_differ_and_the_same_seed_repeats_them(client, team_a, run_evaluation_now):
    plain = run_evaluation_now(team_a, trials=2)
    first, second = lap_figures(plain)
    assert first == second  # a deterministic simulator: two trials, one result twice

    varied = run_evaluation_now(team_a, trials=2, vary=True, seed=5)
    again = run_evaluation_now(team_a, trials=2, vary=True, seed=5)
    assert lap_figures(varied) == lap_figures(again)
    assert lap_figures(varied)[0] != lap_figures(varied)[1]
    assert varied.simtrace.read() != plain.simtrace.read()
    assert varied.summary["variation"]["seed"] == 5 and plain.summary["variation"] is None

    client.force_login(team_a.captain)
    page = client.get(varied.get_absolute_url()).content.decode()
    assert "varied, seed 5" in page.split("data-variation>", 1)[1].split("</dd>", 1)[0]
    assert "alike" in client.get(plain.get_absolute_url()).content.decode().split("data-variation>", 1)[1]
