"""The Drive agent page: exact commands with the team's model ids, and the agent wheel built from
this repository (drive_agent + simulator only, no Django app or workers)."""

from __future__ import annotations

import io
import zipfile

import pytest

from webapp.garage.models import TrainedModel

pytestmark = pytest.mark.django_db


@pytest.fixture
def wheel_cache(settings, tmp_path):
    settings.VAR_DIR = tmp_path  # a fresh cache: the test really builds the wheel
    return tmp_path


def test_page_shows_commands_with_the_teams_model_ids(client, team_a, team_b, make_ready_model):
    ready = make_ready_model(team_a, name="Fast one")
    training = make_ready_model(team_a, name="Still training", status=TrainedModel.Status.TRAINING)
    foreign = make_ready_model(team_b, name="Bravo secret")
    client.force_login(team_a.captain)
    html = client.get(f"/teams/{team_a.slug}/agent/").content.decode()
    assert f"drive_agent --model-id {ready.pk} --server http://testserver --token $PITLANE_TOKEN" in html
    assert (f"--model-id {ready.pk} --server http://testserver --token $PITLANE_TOKEN --target sim "
            "--track pitlane_loop") in html
    assert f"--model-id {training.pk}" not in html and "Still training" in html
    assert "Bravo secret" not in html and f"--model-id {foreign.pk} " not in html
    assert "pip install ./pitlane_drive_agent-" in html and f"/teams/{team_a.slug}/agent/wheel/" in html


def test_wheel_is_built_once_and_packages_only_the_agent(client, team_a, wheel_cache):
    client.force_login(team_a.captain)
    response = client.get(f"/teams/{team_a.slug}/agent/wheel/")
    assert response.status_code == 200
    filename = response["Content-Disposition"].split("filename=")[1].strip('"')
    assert filename.startswith("pitlane_drive_agent-") and filename.endswith("-py3-none-any.whl")
    data = b"".join(response.streaming_content)
    names = zipfile.ZipFile(io.BytesIO(data)).namelist()
    tops = {name.split("/")[0] for name in names}
    assert {"drive_agent", "simulator"} <= tops
    assert not tops & {"webapp", "training", "tests", "bench"}
    assert "drive_agent/fetch.py" in names and "simulator/tracks/designs.json" in names
    meta = zipfile.ZipFile(io.BytesIO(data)).read(next(n for n in names if n.endswith("METADATA"))).decode()
    for requirement in ("numpy", "pillow", "python-socketio", "simple-websocket", "websocket-client", "requests",
                        "ai-edge-litert"):
        assert f"Requires-Dist: {requirement}" in meta
    entry_points = zipfile.ZipFile(io.BytesIO(data)).read(next(n for n in names if n.endswith("entry_points.txt")))
    assert b"drive_agent = drive_agent.cli:main" in entry_points

    built = list(wheel_cache.glob("agent-wheel/*/*.whl"))
    assert len(built) == 1
    mtime = built[0].stat().st_mtime_ns
    client.get(f"/teams/{team_a.slug}/agent/wheel/")
    assert built[0].stat().st_mtime_ns == mtime, "the second download reuses the cached wheel"
