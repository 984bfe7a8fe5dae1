"""Model download API for the drive agent: list, detail (card, checksum, URL) and TFLite bytes,
team-scoped (token or session); and end to end, the real drive_agent.fetch against Daphne."""

from __future__ import annotations

import hashlib
import json

import pytest

from drive_agent.fetch import FetchError, cache_dir_for, fetch_model
from webapp.api.models import ApiToken
from webapp.garage.models import TrainedModel

pytestmark = pytest.mark.django_db


@pytest.fixture
def token_a(team_a) -> str:
    return ApiToken.issue(team=team_a, user=team_a.captain, name="car")[1]


def auth(token: str) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


def test_own_model_detail_and_bytes_with_a_team_token(client, team_a, token_a, make_ready_model,
                                                      tiny_steering_model):
    model = make_ready_model(team_a)
    data = tiny_steering_model[0].read_bytes()
    detail = client.get(f"/api/v1/models/{model.pk}/", **auth(token_a))
    assert detail.status_code == 200
    body = detail.json()
    assert body["id"] == model.pk and body["name"] == model.name and body["kind"] == "bc"
    assert body["card"]["schema"] == "pitlane.model_card/1"
    assert body["tflite_sha256"] == hashlib.sha256(data).hexdigest()
    assert body["tflite_url"] == f"/api/v1/models/{model.pk}/tflite"

    download = client.get(body["tflite_url"], **auth(token_a))
    assert download.status_code == 200
    payload = b"".join(download.streaming_content)
    assert payload == data
    assert download["X-Checksum-SHA256"] == hashlib.sha256(payload).hexdigest() == body["tflite_sha256"]


def test_list_is_team_scoped_and_session_auth_works(client, team_a, team_b, token_a, make_ready_model):
    ours = make_ready_model(team_a, name="ours")
    training = make_ready_model(team_a, name="ours, training", status=TrainedModel.Status.TRAINING)
    make_ready_model(team_b, name="theirs")
    listed = client.get("/api/v1/models/", **auth(token_a)).json()["results"]
    assert {m["name"]: m["ready"] for m in listed} == {"ours": True, "ours, training": False}
    ready_only = client.get("/api/v1/models/?ready=1", **auth(token_a)).json()["results"]
    assert [m["id"] for m in ready_only] == [ours.pk]
    assert next(m for m in listed if m["id"] == training.pk)["tflite_url"] is None

    client.force_login(team_a.captain)
    assert client.get(f"/api/v1/models/{ours.pk}/").status_code == 200
    assert client.get(f"/api/v1/models/{ours.pk}/tflite").status_code == 200


def test_other_team_404_bad_token_401_not_ready_409(client, team_a, team_b, token_a, make_ready_model):
    theirs = make_ready_model(team_b)
    for url in (f"/api/v1/models/{theirs.pk}/", f"/api/v1/models/{theirs.pk}/tflite"):
        assert client.get(url, **auth(token_a)).status_code == 404
        assert client.get(url, **auth("plt_not-a-real-token")).status_code == 401
        assert client.get(url).status_code in (401, 403)
    training = make_ready_model(team_a, name="Half baked", status=TrainedModel.Status.TRAINING)
    for url in (f"/api/v1/models/{training.pk}/", f"/api/v1/models/{training.pk}/tflite"):
        response = client.get(url, **auth(token_a))
        assert response.status_code == 409
        assert "is not ready to drive" in response.json()["detail"] and "Half baked" in response.json()["detail"]


@pytest.mark.slow
def test_drive_agent_fetch_downloads_verifies_and_caches_through_daphne(daphne_server, team_a, team_b, token_a,
                                                                        make_ready_model, tmp_path):
    model = make_ready_model(team_a)
    fetched = fetch_model(model.pk, daphne_server, token_a, cache_root=tmp_path)
    assert not fetched.from_cache and fetched.sha256 == model.tflite_sha256
    assert hashlib.sha256(fetched.model_path.read_bytes()).hexdigest() == model.tflite_sha256
    assert fetched.card.kind == "regression_steering" and fetched.card.input.camera == "deepracer_front"
    cache = cache_dir_for(daphne_server, model.pk, tmp_path)
    assert json.loads((cache / "meta.json").read_text())["sha256"] == model.tflite_sha256

    # A second fetch finds the verified copy in the cache and does not download the bytes again.
    mtime = fetched.model_path.stat().st_mtime_ns
    again = fetch_model(model.pk, daphne_server, token_a, cache_root=tmp_path)
    assert again.model_path == fetched.model_path and fetched.model_path.stat().st_mtime_ns == mtime

    with pytest.raises(FetchError, match="404"):
        fetch_model(make_ready_model(team_b).pk, daphne_server, token_a, cache_root=tmp_path)
    with pytest.raises(FetchError, match="401"):
        fetch_model(model.pk, daphne_server, "plt_wrong", cache_root=tmp_path)
