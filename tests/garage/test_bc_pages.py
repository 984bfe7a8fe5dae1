"""Training and model pages a team can read (issue 13, behavioural cloning): the form shows and
reads only the chosen network's fields; the ETA comes from measured batches; the loss history is
recorded per epoch for the live chart; the model page says which epoch's weights the model keeps
and shows one loss column when the loss is the MAE; the validation plot keeps blocks apart; heat
maps are labelled; the grid page shows the varied parameters and evaluates the best N."""

from __future__ import annotations

import numpy as np
import pytest

from tests.garage.helpers import ready_dataset, train_form_data
from training.bc import plots
from training.bc.eta import BatchRateEta
from webapp.evaluations.models import Evaluation
from webapp.evaluations.tracks import profile_for_card, tracks_for_profile
from webapp.garage import jobs as garage_jobs
from webapp.garage.models import TrainedModel
from webapp.garage.services import heatmap_labels

pytestmark = pytest.mark.django_db


@pytest.fixture
def dataset(client, team_a, real_sample, tmp_path):
    return ready_dataset(client, team_a, real_sample, tmp_path)


# --- 1. the form's fields follow the network ----------------------------------------------------

def test_pilotnet_run_ignores_the_inception_fields(client, team_a, dataset):
    """Inception-only fields (hidden for PilotNet) cannot block a PilotNet run, and it keeps their defaults."""
    data = train_form_data(dataset, architecture="pilotnet", inception_cut="not a layer!",
                           head_conv_filters="lots", head_dense_units="", weights="team:999")
    response = client.post(f"/teams/{team_a.slug}/models/train/", data)
    assert response.status_code == 302, response.content.decode()[:2000]
    model = TrainedModel.objects.get()
    assert model.config["inception_cut"] == "mixed0" and model.config["head_conv_filters"] == 64
    assert model.options["weights"] == "none"


def test_inception_run_still_validates_its_fields(client, team_a, dataset):
    data = train_form_data(dataset, architecture="inception_transfer", resize="80x200", color_space="rgb",
                           head_conv_filters="lots", weights="none")
    response = client.post(f"/teams/{team_a.slug}/models/train/", data)
    assert response.status_code == 200 and "comma-separated list" in response.content.decode()
    assert not TrainedModel.objects.exists()


def test_form_marks_which_network_reads_a_field(client, team_a, dataset):
    page = client.get(f"/teams/{team_a.slug}/models/train/").content.decode()
    for name in ("inception_cut", "head_conv_filters", "head_dense_units", "use_bottleneck_cache", "weights"):
        block = page[page.index(f'for="id_{name}"') - 300:page.index(f'for="id_{name}"')]
        assert 'data-networks="inception_transfer"' in block, name
    # Without JavaScript every field shows: the help says which network reads it.
    assert page.count("Only for Inception v3 transfer learning.") == 5
    assert 'data-networks' not in page[page.index('for="id_learning_rate"') - 300:page.index('for="id_learning_rate"')]
    assert "js/bc_train.js" in page


# --- 2. ETA from measured batches; per-epoch history for the live chart ---------------------------

def test_eta_leaves_the_compiling_first_batch_out():
    """The case of the issue: a 3-minute run whose first batch compiled for 20 s read "94m 53s"."""
    epochs, steps, batch_s, compile_s, validation_s = 3, 60, 0.9, 20.0, 2.0
    eta = BatchRateEta(epochs * steps)
    now = compile_s
    eta.batch_end(1, now)
    assert eta.eta_s(epoch_ends_left=3) is None          # nothing measured yet: no guess
    for done in range(2, 11):
        now += batch_s
        eta.batch_end(done, now)
    left = epochs * steps - 10
    assert eta.batches_per_s() == pytest.approx(1 / batch_s)
    assert eta.eta_s(epoch_ends_left=3) == pytest.approx(left * batch_s)  # no epoch end measured yet
    old_guess = now / 10 * left                           # the former elapsed / done x left
    assert old_guess > 2.5 * eta.eta_s(3)
    # An epoch end (validation pass, checkpoint) is timed apart: it neither slows the batch rate
    # nor is forgotten.
    for done in range(11, steps + 1):
        now += batch_s
        eta.batch_end(done, now)
    eta.pause_begin(now)
    now += validation_s
    eta.pause_end(now)
    now += batch_s
    eta.batch_end(steps + 1, now)
    assert eta.batches_per_s() == pytest.approx(1 / batch_s)
    assert eta.eta_s(epoch_ends_left=2) == pytest.approx((epochs * steps - steps - 1) * batch_s + 2 * validation_s)


def test_training_callback_reports_the_measured_eta(monkeypatch):
    """ProgressReporter (what train() reports through) uses the measured rate, and says so."""
    from training.bc import callbacks

    clock = [100.0]
    monkeypatch.setattr(callbacks.time, "monotonic", lambda: clock[0])
    events: list[dict] = []
    reporter = callbacks.ProgressReporter(events.append, None, epochs=3, steps_per_epoch=60, start_epoch=0,
                                          last_val_loss=None, report_interval_s=0.0)
    reporter.on_epoch_begin(0)
    clock[0] += 20.0                       # tracing and XLA compilation in the first batch
    reporter.on_train_batch_end(0, {"loss": 0.5})
    assert events[-1]["eta_s"] is None and events[-1]["batches_done"] == 1
    for batch in range(1, 10):
        clock[0] += 0.9
        reporter.on_train_batch_end(batch, {"loss": 0.4})
    event = events[-1]
    assert event["batches_done"] == 10 and event["batches_total"] == 180
    assert event["batches_per_s"] == pytest.approx(1 / 0.9)
    assert event["eta_s"] == pytest.approx(170 * 0.9)   # about 2.5 min, not the former 6 min
    assert event["elapsed_s"] == pytest.approx(28.1)
    # The epoch's end (validation, checkpoint: 3 s) is measured once the next epoch's first batch begins.
    for batch in range(10, 60):
        clock[0] += 0.9
        reporter.on_train_batch_end(batch, {"loss": 0.4})
    clock[0] += 3.0
    reporter.on_epoch_end(0, {"loss": 0.4, "val_loss": 0.3})
    reporter.on_epoch_begin(1)
    reporter.on_train_batch_begin(0)
    clock[0] += 0.9
    reporter.on_train_batch_end(0, {"loss": 0.4})
    event = events[-1]
    assert event["batches_per_s"] == pytest.approx(1 / 0.9)
    assert event["eta_s"] == pytest.approx(119 * 0.9 + 2 * 3.0)


def test_later_epoch_ends_replace_the_compiling_first():
    eta = BatchRateEta(10)
    for start, seconds in ((0.0, 9.0), (20.0, 1.0), (40.0, 3.0)):
        eta.pause_begin(start)
        eta.pause_end(start + seconds)
    assert eta.pause_s() == pytest.approx(2.0)


def test_eta_text_says_measuring_then_minutes():
    assert garage_jobs._eta(None) == "measuring…"
    assert garage_jobs._eta(185.4) == "3m 05s" and garage_jobs._eta(7300) == "2h 01m"


def test_epoch_logs_become_the_models_history(team_a):
    class Reporter:
        def __init__(self):
            self.calls = []

        def progress(self, percent, message=None, *, force=False, **metrics):
            self.calls.append(metrics)

    model = TrainedModel.objects.create(team=team_a, name="m", config={"epochs": 3})
    reporter = Reporter()
    on_progress = garage_jobs.progress_callback(reporter, model)
    base = {"epochs": 3, "batch": 5, "batches": 5, "loss": 0.3, "val_loss": None, "eta_s": None,
            "percent": 10.0, "batches_per_s": 4.0}
    on_progress({**base, "phase": "batch", "epoch": 1})
    on_progress({**base, "phase": "epoch_end", "epoch": 1, "epoch_logs": {"loss": 0.3, "val_loss": 0.25}})
    on_progress({**base, "phase": "epoch_end", "epoch": 2, "epoch_logs": {"loss": 0.2, "val_loss": 0.27}})
    model.refresh_from_db()
    assert model.history == {"loss": [0.3, 0.2], "val_loss": [0.25, 0.27]}
    assert reporter.calls[0]["speed"] == "4.0 batches/s" and reporter.calls[0]["eta"] == "measuring…"
    # When the run is done the job's val_loss is the kept (best) epoch's, not the last epoch's.
    on_progress({**base, "phase": "done", "epoch": 2, "val_loss": 0.25, "percent": 100.0})
    assert reporter.calls[-1]["val_loss"] == 0.25
    # A resumed run that repeats epoch 2 replaces it.
    assert garage_jobs.record_epoch(model.history, 2, {"loss": 0.1, "val_loss": 0.2}) == {
        "loss": [0.3, 0.1], "val_loss": [0.25, 0.2]}


def test_history_endpoint_is_team_scoped_and_names_the_best_epoch(client, team_a, team_b):
    model = TrainedModel.objects.create(team=team_a, name="m", config={"epochs": 5, "loss": "mae"},
                                        history={"loss": [0.3, 0.2, 0.15], "val_loss": [0.25, 0.18, 0.19]})
    client.force_login(team_a.captain)
    data = client.get(f"/teams/{team_a.slug}/models/{model.pk}/history.json").json()
    assert data["history"]["val_loss"] == [0.25, 0.18, 0.19] and data["kept_epoch"] == 2 and data["epochs"] == 5
    page = client.get(model.get_absolute_url()).content.decode()
    assert "data-bc-live" in page and "js/bc_live.js" in page and "vendor/plotly/plotly.min.js" in page
    client.force_login(team_b.captain)
    assert client.get(f"/teams/{team_a.slug}/models/{model.pk}/history.json").status_code == 404


# --- 3. which epoch the model is; one loss column for MAE -----------------------------------------

def _ready(make_ready_model, team, loss="mae", **fields):
    model = make_ready_model(team, name=fields.pop("name", "Run"))
    model.config = {"architecture": "pilotnet", "loss": loss, "epochs": 3, "learning_rate": 0.001,
                    "batch_size": 32, "inception_cut": "mixed0", **fields.pop("config", {})}
    model.history = {"loss": [0.3, 0.2, 0.15], "val_loss": [0.2, 0.1654, 0.1779]}
    model.metrics = {"val_loss": 0.1654, "val_mae": 0.1654, "val_mse": 0.05, "best_epoch": 2.0,
                     "epochs_completed": 3, "stopped_early": False, **fields.pop("metrics", {})}
    for key, value in fields.items():
        setattr(model, key, value)
    model.save()
    return model


def test_model_page_says_which_epoch_was_kept(client, team_a, make_ready_model):
    model = _ready(make_ready_model, team_a)
    client.force_login(team_a.captain)
    page = client.get(model.get_absolute_url()).content.decode()
    facts = page[page.index("data-validation-facts"):page.index("</dl>", page.index("data-validation-facts"))]
    assert "Validation loss (MAE)" in facts and "0.16540" in facts
    assert "epoch 2 kept" in facts and "restore-best" in facts and "the last epoch, 3, had 0.17790" in facts
    assert "Validation MAE" not in facts            # the loss is the MAE: one value, not two
    # The inception-only settings are not listed for a PilotNet model.
    assert "<th>inception_cut</th>" not in page and "<th>learning_rate</th>" in page


def test_mse_model_shows_its_mae_too(client, team_a, make_ready_model):
    model = _ready(make_ready_model, team_a, loss="mse", metrics={"val_loss": 0.04, "val_mae": 0.15})
    client.force_login(team_a.captain)
    page = client.get(model.get_absolute_url()).content.decode()
    assert "Validation loss (MSE)" in page and "Validation MAE" in page and "0.15000" in page


def test_loss_figure_marks_the_kept_epoch():
    figure = plots.loss_curves({"loss": [0.3, 0.2, 0.15], "val_loss": [0.2, 0.1654, 0.1779]})
    kept = [t for t in figure["data"] if t["name"].startswith("kept")]
    assert kept and kept[0]["x"] == [2] and kept[0]["y"] == [0.1654]
    assert plots.kept_epoch([0.3, 0.2, 0.2, 0.25]) == 2 and plots.kept_epoch([]) is None


# --- 4. validation blocks apart, full width, range slider; labelled heat maps ---------------------

def test_validation_blocks_are_separate_segments():
    frames = np.array([*range(100, 110), *range(500, 505), *range(505, 508), *range(900, 902)])
    assert plots.validation_blocks(frames) == [(0, 10), (10, 18), (18, 20)]
    true = np.linspace(-1, 1, frames.size)
    figure = plots.predictions_over_time(true, true * 0.5, frames)
    trace = figure["data"][0]
    gaps = [i for i, x in enumerate(trace["x"]) if x is None]
    assert len(gaps) == 2 and all(trace["y"][i] is None for i in gaps)
    assert trace["x"][:10] == list(range(100, 110)) and trace["x"][11] == 500
    assert figure["layout"]["xaxis"]["rangeslider"]["visible"] is True
    assert figure["layout"]["xaxis"]["range"] == [100, 100 + plots.INITIAL_WINDOW_FRAMES]
    assert "3 blocks" in figure["layout"]["title"]["text"]


def test_heatmaps_are_labelled_with_true_and_predicted_steering(client, team_a, make_ready_model, tmp_path):
    npz = tmp_path / "validation.npz"
    np.savez(npz, true=np.array([0.1, -0.2, 0.3], dtype=np.float32),
             predicted=np.array([0.05, -0.25, 0.5], dtype=np.float32))
    labels = heatmap_labels(npz, [0, 2])
    assert labels == [{"true": 0.1, "predicted": 0.05}, {"true": 0.3, "predicted": 0.5}]
    model = _ready(make_ready_model, team_a, artifacts={"heatmaps": {
        "png": ["heatmaps/frame_000.png", "heatmaps/frame_001.png"], "gif": "", "labels": labels}})
    client.force_login(team_a.captain)
    page = client.get(model.get_absolute_url()).content.decode()
    assert page.count("data-heatmap-label") == 2
    assert "true <strong>0.300</strong> · predicted <strong>0.500</strong>" in page
    assert 'class="card figure-wide"' in page and "predictions_over_time.json" in page


# --- 5. the grid page: varied parameters, evaluate the best N -------------------------------------

@pytest.fixture
def grid(team_a, make_ready_model):
    runs = []
    for i, (rate, loss) in enumerate([(0.001, 0.09), (0.0003, 0.03), (0.0001, 0.05), (0.003, None)]):
        status = TrainedModel.Status.READY if loss is not None else TrainedModel.Status.TRAINING
        model = make_ready_model(team_a, name=f"Grid {i}", status=status)
        model.group_key = "g-one"
        model.config = {"architecture": "pilotnet", "loss": "mae", "learning_rate": rate, "batch_size": 32,
                        "resize": [66, 200]}
        model.metrics = {"val_loss": loss, "val_mae": loss} if loss is not None else {}
        model.save()
        runs.append(model)
    return runs


def test_grid_page_shows_the_varied_parameters_and_one_mae_column(client, team_a, grid):
    client.force_login(team_a.captain)
    page = client.get(f"/teams/{team_a.slug}/models/groups/g-one/").content.decode()
    assert page.count("data-varied-param") == 1 and '<th data-varied-param="learning_rate">Learning rate</th>' in page
    assert "<code>0.0003</code>" in page and "batch_size</th>" not in page
    assert "val_loss (MAE)" in page and "val MAE" not in page
    assert "data-evaluate-best" in page and 'name="count"' in page


def _evaluation_data(model, count) -> dict:
    track = tracks_for_profile(profile_for_card(model.card))[0]
    return {"count": str(count), "track": track, "direction": "counterclockwise", "trials": "1",
            "off_track_penalty_s": "2", "time_limit_s": "60"}


def test_evaluate_the_best_n_starts_one_evaluation_per_best_run(client, team_a, grid):
    client.force_login(team_a.captain)
    response = client.post(f"/teams/{team_a.slug}/models/groups/g-one/evaluate/", _evaluation_data(grid[0], 2))
    assert response.status_code == 302 and response.url == f"/teams/{team_a.slug}/evaluations/"
    evaluated = set(Evaluation.objects.values_list("model_id", flat=True))
    assert evaluated == {grid[1].pk, grid[2].pk}             # val_loss 0.03 and 0.05
    assert all(e.job.kind == "evaluation" and e.team == team_a for e in Evaluation.objects.all())


def test_evaluate_best_refuses_more_than_the_ready_runs_and_other_teams(client, team_a, team_b, grid):
    client.force_login(team_a.captain)
    response = client.post(f"/teams/{team_a.slug}/models/groups/g-one/evaluate/", _evaluation_data(grid[0], 4))
    assert response.status_code == 200 and "less than or equal to 3" in response.content.decode()
    assert not Evaluation.objects.exists()
    client.force_login(team_b.captain)
    assert client.post(f"/teams/{team_a.slug}/models/groups/g-one/evaluate/",
                       _evaluation_data(grid[0], 1)).status_code == 404
    assert client.post(f"/teams/{team_b.slug}/models/groups/g-one/evaluate/",
                       _evaluation_data(grid[0], 1)).status_code == 404
    assert not Evaluation.objects.exists()


def test_model_list_shows_one_validation_loss_and_the_mae_only_beside_an_mse(client, team_a, make_ready_model):
    _ready(make_ready_model, team_a, name="MAE run")
    _ready(make_ready_model, team_a, name="MSE run", loss="mse", metrics={"val_loss": 0.04, "val_mae": 0.15})
    client.force_login(team_a.captain)
    page = client.get(f"/teams/{team_a.slug}/models/").content.decode()
    assert "val MAE</th>" not in page and page.count("data-validation-loss") == 2
    assert '0.1654 <small class="muted">MAE</small>' in page
    assert '0.0400 <small class="muted">MSE · MAE 0.1500</small>' in page
