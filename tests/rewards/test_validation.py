"""Validation from the editor, through the real sandbox (training.rl.reward_check): the report is
stored on the version and shown (verdict, issues with their line and the step's params, the four
synthetic cars, the preview's heat map and trace); a busy server answers 429, a server without a
sandbox 503 with the operator's sentence, a validation past the time limit is given up; nothing is
stored in those cases."""

from __future__ import annotations

import json
import time

import pytest
from django.urls import reverse

from tests.rewards.helpers import BROKEN, CENTRE, make_function
from webapp.rewards import services

pytestmark = pytest.mark.django_db

TRACK = "pitlane_loop"  # built in: no shared data needed


def _validate(client, function, number=1, source=None, track=TRACK):
    version = function.versions.get(number=number)
    url = reverse("reward_version", args=[function.team.slug, function.pk, number])
    return client.post(url, {"source": source if source is not None else version.source, "action": "validate",
                             "track": track})


def _figure(html: str, element_id: str) -> dict:
    start = html.index(f'<script id="{element_id}" type="application/json">') + len(
        f'<script id="{element_id}" type="application/json">')
    return json.loads(html[start:html.index("</script>", start)])


def test_a_good_function_passes_and_its_report_is_shown(client, team_a):
    function = make_function(team_a)
    client.force_login(team_a.captain)
    response = _validate(client, function)
    assert response.status_code == 302 and response.url.endswith("/v1/#validation")
    version = function.versions.get()
    assert version.ok is True and version.validated_track == TRACK and version.validated is not None
    report = version.validation
    assert report["ok"] is True and report["issues"] == [] and report["track"] == TRACK
    assert [car["name"] for car in report["cars"]] == ["start", "mid_lap", "off_track", "finishing"]
    assert report["cars"][0]["reward"] == 1.0 and report["cars"][2]["reward"] == pytest.approx(1e-3)
    assert len(report["preview"]) == services.PREVIEW_STEPS
    services.check_trainable(version)  # training may use it now

    html = client.get(response.url.split("#")[0]).content.decode()
    assert "Passed" in html and "passed validation on pitlane_loop" in html
    assert html.count("data-car=") == 4 and "Off track" in html
    heatmap = _figure(html, "reward-heatmap-figure")
    points = [trace for trace in heatmap["data"] if trace.get("name") == "Reward"][0]
    assert len(points["x"]) == services.PREVIEW_STEPS
    assert points["marker"]["color"] == [step["reward"] for step in report["preview"]]
    assert [trace["name"] for trace in heatmap["data"][:3]] == ["Inner border", "Outer border", "Centre line"]
    trace = _figure(html, "reward-trace-figure")
    assert trace["data"][0]["y"] == [step["reward"] for step in report["preview"]]
    assert "/static/vendor/plotly/plotly.min.js" in html
    assert f'{reverse("rl_train", args=[team_a.slug])}?reward={version.pk}' in html  # train with it


def test_a_failing_function_shows_its_line_and_the_params_that_broke_it(client, team_a):
    function = make_function(team_a, source=BROKEN)
    client.force_login(team_a.captain)
    _validate(client, function)
    version = function.versions.get()
    assert version.ok is False
    issue = version.validation["issues"][0]
    assert issue["kind"] == "runtime" and issue["line"] == 4 and issue["step"] == "off_track"
    assert "KeyError" in issue["message"] and issue["params"]["all_wheels_on_track"] is False

    html = client.get(version.get_absolute_url()).content.decode()
    assert "Failed" in html and 'data-jump-line="4"' in html
    assert "data-train-link" not in html
    assert "reward function error" in html and "KeyError: &#x27;no_such_key&#x27;" in html
    assert "synthetic car: Off track" in html
    assert "&quot;all_wheels_on_track&quot;: false" in html  # the step's params, pretty JSON
    with pytest.raises(Exception, match="failed validation on pitlane_loop"):
        services.check_trainable(version)


def test_static_issues_have_their_lines(client, team_a):
    source = "import os\n\ndef reward_function(params):\n    return undefined_thing + 1\n"
    function = make_function(team_a, source=source)
    client.force_login(team_a.captain)
    _validate(client, function)
    version = function.versions.get()
    lines = sorted((issue["line"], issue["kind"]) for issue in version.validation["issues"])
    assert (1, "not_allowed") in lines and (4, "undefined_name") in lines
    html = client.get(version.get_absolute_url()).content.decode()
    assert 'data-jump-line="1"' in html and 'data-jump-line="4"' in html


def test_save_and_validate_saves_the_edit_first_and_revalidation_replaces_the_report(client, team_a):
    function = make_function(team_a, source=BROKEN)
    client.force_login(team_a.captain)
    response = _validate(client, function, source=CENTRE)
    assert response.url.endswith("/v2/#validation")
    v1, v2 = function.versions.get(number=1), function.versions.get(number=2)
    assert v1.ok is None and v2.ok is True
    _validate(client, function, number=2, track="pitlane_hairpin")
    v2.refresh_from_db()
    assert v2.validated_track == "pitlane_hairpin" and v2.validation["track"] == "pitlane_hairpin"
    assert function.versions.count() == 2  # validating unchanged code saves nothing new
    assert services.latest_valid_version(function) == v2


def test_unknown_track_is_refused(client, team_a):
    function = make_function(team_a)
    client.force_login(team_a.captain)
    response = _validate(client, function, track="pitlane_loop_road")  # a Udacity-scale road
    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode()
    with pytest.raises(Exception, match="Unknown track 'nowhere'"):
        services.validate_version(function.versions.get(), "nowhere")
    assert function.versions.get().ok is None


def test_a_busy_server_answers_429_and_stores_nothing(client, team_a, settings):
    settings.PITLANE_REWARD_VALIDATIONS_PER_PROCESS = 1
    function = make_function(team_a)
    client.force_login(team_a.captain)
    services.VALIDATION_SLOTS.acquire()  # another request is validating
    try:
        response = _validate(client, function)
    finally:
        services.VALIDATION_SLOTS.release()
    assert response.status_code == 429
    html = response.content.decode()
    assert "The server is already validating 1 reward function; try again in a few seconds." in html
    # Said above the editor, where the page opens (at the foot of the page it went unseen).
    assert html.index("data-validation-error") < html.index("data-reward-editor")
    assert function.versions.get().ok is None
    assert _validate(client, function).status_code == 302  # the slot is free again


def test_no_sandbox_answers_503_with_the_operators_sentence(client, team_a, monkeypatch):
    from training.rl import sandbox

    monkeypatch.setattr(sandbox, "isolation_backend", lambda: None)
    monkeypatch.delenv(sandbox.UNSAFE_ENV, raising=False)
    function = make_function(team_a)
    client.force_login(team_a.captain)
    response = _validate(client, function)
    html = response.content.decode()
    assert response.status_code == 503
    assert "Reward functions cannot be validated on this server: Reward functions cannot run" in html
    assert sandbox.UNSAFE_ENV in html
    assert function.versions.get().ok is None and services.VALIDATION_SLOTS.running == 0


def test_past_the_time_limit_the_request_gives_up_and_the_slot_comes_back(client, team_a, settings):
    settings.PITLANE_REWARD_VALIDATION_TIMEOUT_S = 1.0
    spin = "def reward_function(params):\n    while True:\n        pass\n"
    function = make_function(team_a, "Spinner", source=spin)
    client.force_login(team_a.captain)
    started = time.monotonic()
    response = _validate(client, function)
    assert time.monotonic() - started < 4.0
    assert response.status_code == 400
    assert "Validation took longer than 1 s and was given up" in response.content.decode()
    assert function.versions.get().ok is None
    # The sandbox's own per-call limit (5 s) ends the spinning call; then the slot is free.
    deadline = time.monotonic() + 30
    while services.VALIDATION_SLOTS.running and time.monotonic() < deadline:
        time.sleep(0.2)
    assert services.VALIDATION_SLOTS.running == 0


def test_nul_characters_and_non_finite_numbers_in_a_report_are_stored(client, team_a):
    """PostgreSQL's jsonb refuses NUL characters: what the team's code prints or raises may hold them."""
    source = r'''def reward_function(params):
    print("printed\x00nul")
    raise ValueError("message\x00nul")
'''
    function = make_function(team_a, "Nul", source=source)
    client.force_login(team_a.captain)
    assert _validate(client, function).status_code == 302
    version = function.versions.get()
    assert version.ok is False
    stored = json.dumps(version.validation)
    assert "\\u0000" not in stored and "message\\\\x00nul" in stored
    assert services.storable({"a": [float("nan"), float("inf"), 1.5], "b\x00": "x\x00"}) == \
        {"a": [None, None, 1.5], "b\\x00": "x\\x00"}


def test_a_lone_surrogate_in_the_functions_exception_keeps_the_page_readable(client, team_a):
    """Raised text with a lone surrogate made the version page a 500 (UTF-8 cannot encode it)."""
    source = "def reward_function(params):\n    raise ValueError('bad ' + chr(0xD800) + ' text')\n"
    function = make_function(team_a, "Surrogate", source=source)
    client.force_login(team_a.captain)
    assert _validate(client, function).status_code == 302
    page = client.get(reverse("reward_version", args=[team_a.slug, function.pk, 1]))
    assert page.status_code == 200 and "ValueError: bad ? text" in page.content.decode()
