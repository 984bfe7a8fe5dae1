"""Reward function validation: static checks with lines, the four synthetic cars, the preview drive."""

from __future__ import annotations

import json
import math
import time

import pytest

from simulator.track import load_track
from training.rl.reward_check import static_issues, synthetic_cars, validate

CENTRE = """
def reward_function(params):
    if not params["all_wheels_on_track"]:
        return 1e-3
    return 1.0 - params["distance_from_center"] / params["track_width"]
"""


def messages(source: str) -> list[tuple[int | None, str]]:
    return [(issue.line, issue.message) for issue in static_issues(source)]


# --------------------------------------------------------------------------- static
def test_syntax_error_has_line_and_column():
    [issue] = static_issues("def reward_function(params):\n    return (1 +\n")
    assert issue.kind == "syntax" and issue.line == 2 and issue.column is not None
    assert issue.message.startswith("syntax error:")


def test_undefined_names_have_lines():
    source = "import math\n\ndef reward_function(params):\n    speed = params['speed']\n    return sped * math.pi\n"
    assert messages(source) == [(5, "undefined name 'sped'")]


def test_imports_are_limited_to_the_console_libraries():
    allowed = ("import math, random\nimport numpy as np\nimport numpy.linalg\nfrom scipy import spatial\n"
               "import shapely.geometry\nfrom shapely.geometry import Point\n\n"
               "def reward_function(params):\n    return 1.0\n")
    assert static_issues(allowed) == []
    refused = ("import os\nfrom subprocess import run\nimport socket, math\nfrom . import x\n\n"
               "def reward_function(params):\n    import ctypes\n    return 1.0\n")
    found = messages(refused)
    assert (1, "import of 'os' is not allowed: reward functions may import only math, random, numpy, "
               "scipy, shapely") in found
    assert [line for line, _ in found] == [1, 2, 3, 4, 7]
    assert "relative imports" in found[3][1]


@pytest.mark.parametrize("name", ["open", "eval", "exec", "__import__", "input", "compile"])
def test_dangerous_builtins_are_refused(name):
    source = f"def reward_function(params):\n    x = 1\n    return {name}('1')\n"
    assert messages(source) == [(3, f"'{name}' is not available to reward functions")]


def test_introspection_attributes_are_refused():
    source = "def reward_function(params):\n    return len(params.__class__.__subclasses__())\n"
    assert messages(source) == [(2, "attribute '__subclasses__' is not allowed in a reward function")]


@pytest.mark.parametrize(("source", "text"), [
    ("def reward(params):\n    return 1.0\n", "define a function reward_function(params)"),
    ("def reward_function(params):\n    return 1.0\n\ndef reward_function(params):\n    return 2.0\n",
     "defined 2 times (lines 1, 4)"),
    ("def reward_function(params, other):\n    return 1.0\n", "exactly one argument"),
    ("def reward_function():\n    return 1.0\n", "must take one argument"),
    ("async def reward_function(params):\n    return 1.0\n", "not async"),
    ("class Box:\n    def reward_function(self, params):\n        return 1.0\n", "at the top level"),
])
def test_exactly_one_reward_function_of_params(source, text):
    found = static_issues(source)
    assert len(found) == 1 and found[0].kind == "signature" and text in found[0].message


def test_static_problems_stop_before_the_sandbox():
    report = validate("import os\n\ndef reward_function(params):\n    return os.getpid()\n")
    assert not report.ok and report.backend is None and report.cars == [] and report.preview == []


# --------------------------------------------------------------------------- synthetic cars
def test_four_synthetic_cars_from_the_track():
    track = load_track("reinvent_base")
    cars = dict(synthetic_cars(track))
    assert list(cars) == ["start", "mid_lap", "off_track", "finishing"]
    for params in cars.values():
        assert len(params) == 27 and params["waypoints"] == track.waypoints
        assert params["track_length"] == track.length and -180 <= params["heading"] <= 180
    assert cars["start"]["progress"] < 1 and cars["start"]["all_wheels_on_track"]
    assert 45 < cars["mid_lap"]["progress"] < 55 and cars["mid_lap"]["is_left_of_center"]
    assert cars["mid_lap"]["all_wheels_on_track"] and cars["mid_lap"]["distance_from_center"] > 0.05
    off = cars["off_track"]
    assert off["is_offtrack"] and not off["all_wheels_on_track"] and not off["is_left_of_center"]
    assert off["distance_from_center"] > off["track_width"] / 2
    assert cars["finishing"]["progress"] == 100.0


def test_validate_calls_the_cars_and_previews_300_steps():
    report = validate(CENTRE, "reinvent_base")
    assert report.ok, report.issues
    assert report.backend == "bubblewrap"
    assert [car.name for car in report.cars] == ["start", "mid_lap", "off_track", "finishing"]
    rewards = {car.name: car.reward for car in report.cars}
    assert rewards["off_track"] == 1e-3 and rewards["start"] > rewards["mid_lap"] > 0.5
    assert all("waypoints" not in car.params for car in report.cars)
    assert len(report.preview) == 300
    assert all(step.status != "prepare" for step in report.preview)
    assert {"x", "y", "reward", "progress", "speed", "steering", "status"} <= set(vars(report.preview[0]))
    assert max(step.progress for step in report.preview) > 30  # it drove a good part of the lap
    assert len({round(step.steering, 1) for step in report.preview}) > 10  # noisy: it explores
    data = json.loads(json.dumps(report.to_json()))
    assert data["ok"] is True and len(data["preview"]) == 300 and data["track"] == "reinvent_base"


def test_preview_rewards_are_the_functions_values_at_each_step():
    report = validate("def reward_function(params):\n    return params['x'] + 10 * params['y']\n",
                      "reInvent2019_track", preview_steps=120)
    assert report.ok and len(report.preview) == 120
    for step in report.preview:
        assert step.reward == pytest.approx(step.x + 10 * step.y, abs=1e-3)


def test_a_raising_function_reports_line_params_and_the_preview_until_then():
    source = ("def reward_function(params):\n    if params['progress'] > 20 and params['steps'] > 40:\n"
              "        raise ValueError('too far: %.1f' % params['progress'])\n    return 1.0\n")
    report = validate(source, preview_steps=300)
    assert not report.ok
    issues = [issue for issue in report.issues if isinstance(issue.step, int)]
    assert len(issues) == 1
    issue = issues[0]
    assert issue.kind == "runtime" and issue.line == 3 and "ValueError: too far" in issue.message
    assert issue.params["progress"] > 20 and issue.params["steps"] > 40 and "waypoints" not in issue.params
    assert issue.message.startswith(f"in the preview drive, step {issue.step} (line 3)")
    assert len(report.preview) == issue.step + 1
    assert all(step.reward == 1.0 for step in report.preview[:-1]) and report.preview[-1].reward is None
    # The cars that reach the condition failed too, each with its own params.
    car_issues = [issue for issue in report.issues if isinstance(issue.step, str)]
    assert [issue.step for issue in car_issues] == ["mid_lap", "off_track", "finishing"]
    assert car_issues[0].params["progress"] == pytest.approx(report.cars[1].params["progress"])


@pytest.mark.parametrize(("body", "text"), [
    ("return None", "returned NoneType None, not a number"),
    ("return 'fast'", "returned str 'fast'"),
    ("return float('nan')", "returned nan"),
    ("return 1e6", "finite float within +-100000"),
])
def test_bad_returns_fail_on_the_first_car(body, text):
    report = validate(f"def reward_function(params):\n    {body}\n")
    assert not report.ok and report.issues[0].step == "start" and text in report.issues[0].message
    assert report.issues[0].params["steps"] == 2


def test_a_slow_function_fails_within_the_five_seconds():
    source = "import math\n\ndef reward_function(params):\n    while True:\n        math.sqrt(2.0)\n"
    started = time.monotonic()
    report = validate(source)
    assert time.monotonic() - started < 12
    [issue] = report.issues
    assert issue.step == "start" and issue.line in (4, 5) and "more than 5 s" in issue.message
    assert report.preview == []


def test_an_error_at_import_time_has_its_line():
    report = validate("import math\nLIMIT = math.sqrt(-1)\n\ndef reward_function(params):\n    return 1.0\n")
    [issue] = report.issues
    assert issue.line == 2 and "ValueError: math domain error" in issue.message


def test_prints_come_back_capped():
    report = validate("def reward_function(params):\n    print('steps', params['steps'])\n    return 1.0\n",
                      preview_steps=5)
    assert report.ok and "steps 2" in report.output


def test_unknown_track():
    report = validate(CENTRE, "no_such_track")
    assert not report.ok and "unknown track 'no_such_track'" in report.issues[0].message


def test_report_json_carries_issue_fields():
    report = validate("def reward_function(params):\n    return params['nope']\n", preview_steps=10)
    data = report.to_json()
    issue = data["issues"][0]
    assert set(issue) == {"message", "kind", "line", "column", "params", "step"}
    assert issue["line"] == 2 and issue["step"] == "start" and math.isfinite(issue["params"]["x"])
    json.dumps(data)


def test_a_variable_named_like_a_removed_builtin_is_the_teams_own():
    source = ("def reward_function(params):\n    input = params['speed']\n    compile = 2.0\n"
              "    return input * compile\n")
    assert static_issues(source) == []
    report = validate(source, preview_steps=5)
    assert report.ok and report.cars[0].reward == 2.0
