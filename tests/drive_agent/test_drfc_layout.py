"""The agent's `--out DIR` is a deepracer-for-cloud model folder that deepracer-utils' own
`DeepRacerLog` places and loads, and the prepare row's closest_waypoint is AWS's (0 at the line)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from deepracer.logs import AnalysisUtils, DeepRacerLog
from deepracer.logs.misc import LogFolderType

from drive_agent.evaluation import run_sim_evaluation
from simulator.car import UDACITY, Command
from simulator.episode import Session
from simulator.rules import EVALUATION_RULES
from simulator.simtrace import evaluation_stamp, evaluation_zip
from simulator.track import list_tracks, load_track
from tests.drive_agent.helpers import load_tiny


def test_out_dir_is_a_drfc_model_folder_deepracer_utils_loads(tiny_models: Path, tmp_path: Path) -> None:
    model, card = load_tiny(tiny_models, "regression_float")
    result = run_sim_evaluation(model, "pitlane_loop_road", n_trials=2, rules=EVALUATION_RULES, max_time_s=3.0,
                                out_dir=tmp_path, stamp="20261201120000", set_speed=10.0)
    folder = tmp_path / "evaluation-20261201120000"
    assert result.simtrace_path == folder / "evaluation-simtrace" / "0-iteration.csv"
    assert result.metrics_path == folder / "metrics.json" and (folder / "summary.json").is_file()
    assert not (tmp_path / "evaluation-simtrace").exists()  # the layout deepracer-utils could not place
    metadata = json.loads((tmp_path / "model" / "model_metadata.json").read_text())
    assert metadata["action_space_type"] == "continuous" and metadata["pitlane_model_kind"] == card.kind
    # A steering model drives at its set speed: 10 mph in m/s, the Udacity car's 25 degree lock.
    assert metadata["action_space"]["speed"]["high"] == pytest.approx(10 * 0.44704, abs=1e-3)
    assert metadata["action_space"]["steering_angle"] == {"low": -25.0, "high": 25.0}

    log = DeepRacerLog(str(tmp_path))
    assert log.fh.type is LogFolderType.DRFC_MODEL_UPLOAD
    log.load_evaluation_trace()  # with model_metadata.json: action space and network read from it
    assert log.action_space() == metadata["action_space"]
    df = log.dataframe()
    assert len(df) == len(result.trace) and set(df["stream"]) == {"20261201120000"}
    assert sorted(df["episode"].unique()) == [0, 1]
    agg = AnalysisUtils.simulation_agg(df, is_eval=True).sort_values("episode")
    for row, trial in zip(agg.itertuples(), result.trials, strict=True):
        assert row.progress == pytest.approx(trial.completion_pct, abs=0.01)


def test_a_second_evaluation_sits_beside_the_first(tiny_models: Path, tmp_path: Path) -> None:
    model, _ = load_tiny(tiny_models, "regression_float")
    for stamp in ("20261201120000", "20261201130000"):
        run_sim_evaluation(model, "pitlane_loop_road", n_trials=1, rules=EVALUATION_RULES, max_time_s=1.0,
                           out_dir=tmp_path, stamp=stamp)
    log = DeepRacerLog(str(tmp_path))
    log.load_evaluation_trace()
    assert set(log.dataframe()["stream"]) == {"20261201120000", "20261201130000"}


def test_the_zip_layout_unzips_into_a_folder_deepracer_utils_loads(tiny_models: Path, tmp_path: Path) -> None:
    import zipfile

    model, card = load_tiny(tiny_models, "deepracer_discrete")
    result = run_sim_evaluation(model, "pitlane_loop", n_trials=1, rules=EVALUATION_RULES, max_time_s=2.0,
                                out_dir=tmp_path / "run", stamp="20261201120000")
    metadata = json.loads((tmp_path / "run" / "model" / "model_metadata.json").read_text())
    assert metadata["action_space_type"] == "discrete"
    assert [a["index"] for a in metadata["action_space"]] == list(range(len(card.action_space.actions)))
    data = evaluation_zip("20261201120000", result.simtrace_path.read_bytes(), result.metrics_path.read_bytes(),
                          metadata)
    (tmp_path / "eval.zip").write_bytes(data)
    with zipfile.ZipFile(tmp_path / "eval.zip") as archive:
        archive.extractall(tmp_path / "unzipped")
    log = DeepRacerLog(str(tmp_path / "unzipped"))
    log.load_evaluation_trace()
    assert len(log.dataframe()) == len(result.trace)
    assert set(log.dataframe()["action"]) <= set(range(len(metadata["action_space"])))


def test_evaluation_stamp_is_14_digits_utc() -> None:
    from datetime import datetime, timedelta, timezone

    when = datetime(2026, 12, 1, 14, 5, 9, tzinfo=timezone(timedelta(hours=2)))
    assert evaluation_stamp(when) == "20261201120509"
    assert len(evaluation_stamp()) == 14


@pytest.mark.parametrize("name", [t for t in list_tracks() if t.endswith("_road")])
def test_prepare_row_is_at_waypoint_0_not_its_closing_copy(name: str) -> None:
    """A car on the start line is 0 m into the lap at waypoint 0 (AWS logs 0), not at the
    repeated closing waypoint N (480 of 481 on pitlane_loop_road)."""
    track = load_track(name)
    session = Session(track, UDACITY)
    first = session.step(Command(steering_deg=0.0, speed=1.0))
    assert first.status.value == "prepare"
    assert first.closest_waypoint == 0 and first.progress == 0.0
    assert first.params is not None and first.params["closest_waypoints"] == [0, 1]


def test_simtrace_prepare_rows_of_an_evaluation_name_waypoint_0(tiny_models: Path, tmp_path: Path) -> None:
    model, _ = load_tiny(tiny_models, "regression_float")
    result = run_sim_evaluation(model, "pitlane_loop_road", n_trials=2, rules=EVALUATION_RULES, max_time_s=1.0,
                                out_dir=tmp_path, stamp="20261201120000")
    rows = list(csv.DictReader(result.simtrace_path.open()))
    prepare = [r for r in rows if r["episode_status"] == "prepare"]
    assert len(prepare) == 2 and {r["closest_waypoint"] for r in prepare} == {"0"}
