"""The site's evaluation download in deepracer-for-cloud's layout: unzipped, deepracer-utils'
`DeepRacerLog` places and loads it, and it agrees with the evaluation's own results."""

from __future__ import annotations

import io
import json
import zipfile

import pytest
from deepracer.logs import AnalysisUtils, DeepRacerLog
from deepracer.logs.misc import LogFolderType

from simulator.simtrace import evaluation_stamp

pytestmark = pytest.mark.django_db


def test_the_zip_unzips_into_a_folder_deepracer_utils_loads(client, team_a, run_evaluation_now, tmp_path):
    evaluation = run_evaluation_now(team_a, trials=2)
    client.force_login(team_a.captain)
    page = client.get(evaluation.get_absolute_url()).content.decode()
    url = f"/teams/{team_a.slug}/evaluations/{evaluation.pk}/files/drfc/"
    assert f'href="{url}"' in page
    response = client.get(url)
    assert response.status_code == 200 and response["Content-Type"] == "application/zip"
    assert "deepracer-for-cloud.zip" in response["Content-Disposition"]
    stamp = evaluation_stamp(evaluation.created)
    with zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content))) as archive:
        assert sorted(archive.namelist()) == sorted([
            "model/model_metadata.json", f"evaluation-{stamp}/evaluation-simtrace/0-iteration.csv",
            f"evaluation-{stamp}/metrics.json"])
        archive.extractall(tmp_path)

    metadata = json.loads((tmp_path / "model" / "model_metadata.json").read_text())
    assert metadata["pitlane_model_kind"] == evaluation.model.card["kind"]
    assert metadata["action_space"]["speed"]["high"] == pytest.approx(1.5)  # the agent's default, m/s
    log = DeepRacerLog(str(tmp_path))
    assert log.fh.type is LogFolderType.DRFC_MODEL_UPLOAD
    log.load_evaluation_trace()
    df = log.dataframe()
    assert len(df) == evaluation.summary["steps"] and set(df["stream"]) == {stamp}
    agg = AnalysisUtils.simulation_agg(df, is_eval=True).sort_values("episode")
    for row, trial in zip(agg.itertuples(), evaluation.summary["trials"], strict=True):
        assert row.progress == pytest.approx(trial["completion_pct"], abs=0.01)
        if trial["lap_time"] is not None:
            assert row.time == pytest.approx(trial["lap_time"], abs=0.1)


def test_another_teams_zip_is_404(client, team_a, team_b, run_evaluation_now):
    evaluation = run_evaluation_now(team_a, trials=1)
    client.force_login(team_b.captain)
    assert client.get(f"/teams/{team_b.slug}/evaluations/{evaluation.pk}/files/drfc/").status_code == 404
    assert client.get(f"/teams/{team_a.slug}/evaluations/{evaluation.pk}/files/drfc/").status_code == 404
