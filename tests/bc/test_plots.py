"""Plotly figure dicts are plain JSON with the expected traces."""

import json

import numpy as np

from training.bc import plots


def test_training_figures_are_json_with_traces():
    true = np.linspace(-0.5, 0.5, 20)
    predicted = true + 0.05
    figures = plots.training_figures({"loss": [0.3, 0.2], "val_loss": [0.25, 0.22]}, true,
                                     predicted, np.arange(20))
    for name, fig in figures.items():
        json.dumps(fig)
        assert fig["data"], name
    # The kept epoch (lowest validation loss, restored at the end) is marked on the loss curves.
    assert [t["name"] for t in figures["loss"]["data"]] == ["training loss", "validation loss",
                                                             "kept: epoch 2 (lowest val_loss)"]
    assert figures["predicted_vs_true"]["data"][0]["mode"] == "markers"


def test_smoothing_figure_shows_raw_exponential_and_gaussian():
    raw = np.zeros(50)
    raw[20:25] = 0.5
    fig = plots.dataset_figures(raw)["steering_smoothing"]
    json.dumps(fig)
    names = [t["name"] for t in fig["data"]]
    assert names[0] == "raw" and "exponential" in names[1] and "gaussian" in names[2]
    assert max(fig["data"][2]["y"]) < 0.5


def test_run_wrote_the_plot_files(trained_run):
    result, _, _ = trained_run
    loss = json.loads((result.out_dir / "plots" / "loss.json").read_text())
    assert len(loss["data"][0]["y"]) == 2
