"""The reward sandbox's API: batches in order, per-track waypoints, load errors, the backend
choice (bubblewrap, refusal, the unsafe opt-in), the network namespace on its own, and the cost."""

from __future__ import annotations

import os
import socket
import subprocess
import time

import numpy as np
import pytest

from simulator.car import Command
from simulator.episode import Session
from simulator.rules import EpisodeStatus
from simulator.track import load_track
from training.rl import sandbox as sandbox_module
from training.rl.sandbox import (
    RewardFunctionError,
    RewardSandbox,
    SandboxLimits,
    SandboxUnavailable,
    isolation_backend,
)

TRACK = load_track("reinvent_base")
REVERSED = TRACK.reversed()
WAYPOINTS = {"reinvent_base": TRACK.waypoints, "reinvent_base:reverse": REVERSED.waypoints}


def session_params(n: int, track=TRACK) -> list[dict]:
    """Rewarded steps' params of a real session (prepare steps left out, as callers do)."""
    session = Session(track)
    out = []
    while len(out) < n:
        result = session.step(Command(steering_deg=2.0, speed=1.2))
        if result.status is not EpisodeStatus.PREPARE:
            out.append(result.params)
        if result.done:
            session.reset()
    return out


def test_backend_is_bubblewrap_here():
    assert isolation_backend() == "bubblewrap"


def test_rewards_come_back_in_order_as_float64_per_track():
    source = ("import math\n\ndef reward_function(params):\n"
              "    first = params['waypoints'][0]\n"
              "    return params['x'] * 10 + params['steps'] + first[0] / 1000\n")
    batch = session_params(50)
    with RewardSandbox(source, waypoints=WAYPOINTS) as sandbox:
        forward = sandbox.rewards("reinvent_base", batch)
        backward = sandbox.rewards("reinvent_base:reverse", batch)
        assert sandbox.rewards("reinvent_base", []).shape == (0,)
        with pytest.raises(KeyError, match="no waypoints were given for track 'Oval_track'"):
            sandbox.rewards("Oval_track", batch)
    assert forward.dtype == np.float64 and forward.shape == (50,)
    expected = [p["x"] * 10 + p["steps"] + TRACK.waypoints[0][0] / 1000 for p in batch]
    np.testing.assert_allclose(forward, expected, rtol=0, atol=1e-12)
    np.testing.assert_allclose(backward - forward, (REVERSED.waypoints[0][0] - TRACK.waypoints[0][0]) / 1000,
                               atol=1e-12)


def test_params_keep_deepracer_types_inside():
    source = """
def reward_function(params):
    kinds = {k: type(v).__name__ for k, v in params.items()}
    assert kinds["all_wheels_on_track"] == "bool" and kinds["steps"] == "int", kinds
    assert kinds["x"] == "float" and kinds["closest_waypoints"] == "list", kinds
    assert kinds["waypoints"] == "list" and type(params["waypoints"][0]).__name__ == "tuple", kinds
    assert len(params) == 27, sorted(params)
    return 1.0
"""
    with RewardSandbox(source, waypoints=WAYPOINTS) as sandbox:
        assert sandbox.rewards("reinvent_base", session_params(5)).tolist() == [1.0] * 5


def test_a_raised_error_names_line_params_and_index_and_the_sandbox_goes_on():
    source = ("def reward_function(params):\n    if params['steps'] == 7:\n"
              "        return params['no_such_key']\n    return 1.0\n")
    batch = session_params(20)
    with RewardSandbox(source, waypoints=WAYPOINTS) as sandbox:
        with pytest.raises(RewardFunctionError) as caught:
            sandbox.rewards("reinvent_base", batch)
        error = caught.value
        assert error.kind == "raised" and error.line == 3
        index = [p["steps"] for p in batch].index(7)
        assert error.step_index == index and error.params == batch[index]
        assert str(error) == f"reward function error (line 3) at step {index} of the batch: KeyError: 'no_such_key'"
        assert sandbox.rewards("reinvent_base", batch[:3]).tolist() == [1.0, 1.0, 1.0]


@pytest.mark.parametrize(("source", "line", "text"), [
    ("x = 1\nraise RuntimeError('at import')\n", 2, "RuntimeError: at import"),
    ("import os\n", 1, "import of 'os' is not allowed"),
    ("def reward_function(params):\n    return open('/etc/passwd')\n", 2, "'open' is not available"),
    ("def reward_function(params)\n    return 1\n", 1, "SyntaxError"),
    ("def other(params):\n    return 1.0\n", None, "defines no function reward_function(params)"),
    ("while True:\n    pass\n", 1, "ran for more than 2 s"),
])
def test_load_errors(source, line, text):
    with pytest.raises(RewardFunctionError) as caught:
        RewardSandbox(source, waypoints=WAYPOINTS, limits=SandboxLimits(wall_s_per_call=1.0, wall_s_load=2.0))
    assert caught.value.line == line and text in str(caught.value)


def test_without_a_backend_team_code_is_refused(monkeypatch):
    monkeypatch.setattr(sandbox_module, "isolation_backend", lambda: None)
    monkeypatch.delenv(sandbox_module.UNSAFE_ENV, raising=False)
    with pytest.raises(SandboxUnavailable, match="PITLANE_UNSAFE_REWARD_SANDBOX=1"):
        RewardSandbox("def reward_function(params):\n    return 1.0\n", waypoints=WAYPOINTS)


def test_the_unsafe_opt_in_still_has_a_clean_environment_rlimits_and_seccomp(monkeypatch, caplog):
    monkeypatch.setattr(sandbox_module, "isolation_backend", lambda: None)
    monkeypatch.setenv(sandbox_module.UNSAFE_ENV, "1")
    monkeypatch.setenv("SECRET_KEY", "unsafe-but-not-leaked")
    source = """
def os_globals():
    base = getattr(getattr((), "__cla" + "ss__"), "__ba" + "ses__")[0]
    for cls in getattr(base, "__subcla" + "sses__")():
        if cls.__name__ == "_wrap_close":
            return getattr(cls.__init__, "__glo" + "bals__")

def reward_function(params):
    g = os_globals()
    if "SECRET_KEY" in g["environ"]:
        return 2.0
    try:
        g["fork"]()
    except PermissionError:
        return 1.0
    return 3.0
"""
    with caplog.at_level("WARNING"), RewardSandbox(source, waypoints=WAYPOINTS) as sandbox:
        assert sandbox.backend == "unsafe-subprocess" and sandbox.seccomp
        assert sandbox.rewards("reinvent_base", session_params(2)).tolist() == [1.0, 1.0]
    assert "WITHOUT isolation" in caplog.text


def test_the_network_namespace_holds_without_seccomp():
    """bubblewrap alone (no seccomp filter, plain Python): the host's loopback is unreachable."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    port = server.getsockname()[1]
    try:
        cmd = sandbox_module._bwrap_command(sandbox_module.bwrap_binary(), SandboxLimits())
        cmd[cmd.index("--") + 1:] = [sandbox_module._python(), "-I", "-S", "-c", (
            "import socket\ntry:\n"
            f"    socket.create_connection(('127.0.0.1', {port}), timeout=1)\n    print('connected')\n"
            "except OSError as exc:\n    print(type(exc).__name__)\n")]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)
        assert done.stdout.strip() in ("ConnectionRefusedError", "OSError"), done.stdout + done.stderr
    finally:
        server.close()


def test_close_ends_the_process():
    sandbox = RewardSandbox("def reward_function(params):\n    return 1.0\n", waypoints=WAYPOINTS)
    pid = sandbox._proc.pid
    sandbox.close()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    with pytest.raises(RuntimeError, match="closed"):
        sandbox.rewards("reinvent_base", session_params(1))


def test_start_up_and_batch_cost():
    """Generous bounds (2 shared cores): bench/rl_sandbox.py measures the real figure."""
    source = ("import math\n\ndef reward_function(params):\n    if not params['all_wheels_on_track']:\n"
              "        return 1e-3\n    d = params['distance_from_center'] / (params['track_width'] / 2)\n"
              "    return max(1e-3, math.exp(-4 * d * d))\n")
    batch = session_params(1000)
    started = time.perf_counter()
    with RewardSandbox(source, waypoints=WAYPOINTS) as sandbox:
        start_s = time.perf_counter() - started
        sandbox.rewards("reinvent_base", batch)
        best = min(_timed(sandbox, batch) for _ in range(3))
    assert start_s < 10.0
    assert best / len(batch) < 200e-6


def _timed(sandbox: RewardSandbox, batch: list[dict]) -> float:
    started = time.perf_counter()
    sandbox.rewards("reinvent_base", batch)
    return time.perf_counter() - started


def test_the_allowed_libraries_work_inside_and_slow_imports_get_the_load_limit():
    source = """
import random
import numpy as np
from scipy.spatial import KDTree
from scipy import interpolate, optimize, stats
from shapely.geometry import LineString, Point

def reward_function(params):
    points = np.array(params["waypoints"])
    distance, _ = KDTree(points).query([params["x"], params["y"]])
    line = LineString(params["waypoints"]).distance(Point(params["x"], params["y"]))
    random.random()
    return float(abs(distance - line) < 1.0) + float(stats.norm.pdf(0.0) > 0.39)
"""
    with RewardSandbox(source, waypoints=WAYPOINTS, limits=SandboxLimits(wall_s_per_call=5.0)) as sandbox:
        assert sandbox.rewards("reinvent_base", session_params(3)).tolist() == [2.0, 2.0, 2.0]
