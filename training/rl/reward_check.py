"""Validate a team's reward function before it costs training time, and preview what it rewards.

`validate(source, track)` does what the DeepRacer console's Validate does, and more:

1. statically (no team code runs): syntax errors, undefined names (pyflakes), imports other than
   math/random/numpy/scipy/shapely, `open`/`eval`/`exec`/`__import__`/`input` and introspection
   attributes, and exactly one module-level `reward_function(params)`; each issue with its line;
2. in the sandbox (`training.rl.sandbox`): the function is called on four synthetic cars built
   from the chosen track (start, mid-lap, off track, finishing) with the full params dict, and must
   return a finite float within +-1e5 within 5 s per call;
3. a preview drive: `preview_steps` steps of a reference driver (pure pursuit on the centre line,
   with steering noise and a slow weave so it also explores the track's width and sometimes leaves
   it) through `simulator.episode.Session` with the DeepRacer profile and training rules, rewarded
   in one sandbox batch. The 'prepare' step that opens each episode is not rewarded (AWS does not
   call the reward function on it) and is left out of the preview.

A reward function that raises is reported with its line (from the traceback inside the sandbox,
restricted to the team's file) and the params of the step that made it fail. Issue params leave
out `waypoints` (the track's centre line, the same at every step).

No Django and no TensorFlow here: the web process imports this module.
"""

from __future__ import annotations

import ast
import contextlib
import math
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from simulator.autopilot import Autopilot, AutopilotConfig
from simulator.car import DEEPRACER, CarState, reference_point, wheel_positions
from simulator.deepracer import build_params
from simulator.episode import Session
from simulator.rules import TRAINING_RULES, EpisodeStatus
from simulator.track import Track, load_track
from training.rl import sandbox_child
from training.rl.sandbox import (
    REWARD_FILENAME,
    RewardFunctionError,
    RewardSandbox,
    SandboxLimits,
    SandboxUnavailable,
)

DEFAULT_TRACK = "reinvent_base"
PREVIEW_STEPS = 300
CALL_LIMIT_S = 5.0


@dataclass
class Issue:
    """One problem found: where (line, column: 1-based line, 0-based column), what, and for a
    runtime failure the step's params (without `waypoints`)."""

    message: str
    kind: str  # "syntax", "undefined_name", "not_allowed", "signature", "runtime", "sandbox"
    line: int | None = None
    column: int | None = None
    params: dict[str, Any] | None = None
    step: str | int | None = None  # the synthetic car's name or the preview step's index


@dataclass
class CarCheck:
    """The reward of one synthetic car (None when the call failed)."""

    name: str
    reward: float | None
    params: dict[str, Any]


@dataclass
class PreviewStep:
    x: float
    y: float
    reward: float | None
    progress: float
    speed: float
    steering: float
    status: str


@dataclass
class ValidationReport:
    track: str
    issues: list[Issue] = field(default_factory=list)
    cars: list[CarCheck] = field(default_factory=list)
    preview: list[PreviewStep] = field(default_factory=list)
    backend: str | None = None
    output: str = ""  # what the function printed (capped)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.issues

    def to_json(self) -> dict[str, Any]:
        """A JSON-serialisable dict of the whole report."""
        data = asdict(self)
        data["ok"] = self.ok
        return data


# --------------------------------------------------------------------------- static checks
def static_issues(source: str) -> list[Issue]:
    """Problems found without running anything: syntax, undefined names, the import and builtin
    policy and the `reward_function(params)` signature."""
    try:
        tree = ast.parse(source, REWARD_FILENAME)
    except SyntaxError as exc:
        return [Issue(f"syntax error: {exc.msg}", "syntax", exc.lineno,
                      None if exc.offset is None else max(exc.offset - 1, 0))]
    except ValueError as exc:  # e.g. a NUL byte in the source
        return [Issue(f"the source cannot be read as Python: {exc}", "syntax")]
    issues = [Issue(message, "not_allowed", line, col)
              for line, col, message in sandbox_child.policy_violations(tree)]
    issues += _undefined_names(tree)
    issues += _signature_issues(tree)
    issues.sort(key=lambda issue: (issue.line or 0, issue.column or 0))
    return issues


def _undefined_names(tree: ast.Module) -> list[Issue]:
    from pyflakes import checker, messages

    found = checker.Checker(tree, filename=REWARD_FILENAME)
    wanted = (messages.UndefinedName, messages.UndefinedLocal, messages.UndefinedExport)
    return [Issue(str(m.message % m.message_args), "undefined_name", m.lineno, m.col)
            for m in found.messages if isinstance(m, wanted)]


def _signature_issues(tree: ast.Module) -> list[Issue]:
    defs = [node for node in tree.body
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == "reward_function"]
    if not defs:
        return [Issue("define a function reward_function(params) at the top level of the file", "signature")]
    if len(defs) > 1:
        lines = ", ".join(str(node.lineno) for node in defs)
        return [Issue(f"reward_function is defined {len(defs)} times (lines {lines}); keep exactly one",
                      "signature", defs[-1].lineno, defs[-1].col_offset)]
    node = defs[0]
    if isinstance(node, ast.AsyncFunctionDef):
        return [Issue("reward_function must be a plain def, not async", "signature", node.lineno, node.col_offset)]
    args = node.args
    positional = args.posonlyargs + args.args
    required = len(positional) - len(args.defaults)
    if not positional and args.vararg is None:
        return [Issue("reward_function must take one argument, params", "signature", node.lineno, node.col_offset)]
    if required > 1 or any(d is None for d in args.kw_defaults):
        return [Issue("reward_function must take exactly one argument, params", "signature",
                      node.lineno, node.col_offset)]
    return []


# --------------------------------------------------------------------------- synthetic cars
def synthetic_cars(track: Track) -> list[tuple[str, dict[str, Any]]]:
    """Four full params dicts on `track`: start, mid-lap, off track and finishing."""
    dt = 1.0 / DEEPRACER.action_hz
    specs = [
        # name, distance along the lap (fraction), offset (fraction of the half width; >1 is off),
        # heading error (deg), speed, steering, steps, progress override
        ("start", 0.002, 0.0, 0.0, 1.0, 0.0, 2, None),
        ("mid_lap", 0.5, 0.4, 8.0, 2.5, 15.0, 90, None),
        ("off_track", 0.3, -1.6, -25.0, 1.5, -30.0, 55, None),
        ("finishing", 0.999, 0.0, 0.0, 3.0, 0.0, 180, 100.0),
    ]
    cars = []
    waypoints = track.waypoints
    for name, along, offset_frac, heading_err, speed, steering, steps, progress in specs:
        distance = along * track.length
        cx, cy, _ = track.pose_at(distance)
        proj = track.project_local(cx, cy, None)
        left, right = track.half_widths_at(proj)
        offset = offset_frac * (left if offset_frac >= 0 else right)
        x, y, heading = track.pose_at(distance, offset)
        yaw = heading + math.radians(heading_err)
        state = CarState(x, y, yaw, speed=speed, steering=math.radians(steering))
        rx, ry = reference_point(DEEPRACER, state)
        proj = track.project_local(rx, ry, proj.segment)
        wheels = track.wheels_on_track(wheel_positions(DEEPRACER, state), proj.segment)
        lap_progress = progress if progress is not None else proj.distance / track.length * 100.0
        params = build_params(
            x=rx, y=ry, heading_deg=math.degrees((yaw + math.pi) % (2 * math.pi) - math.pi),
            speed=speed, steering_angle=steering, all_wheels_on_track=all(wheels),
            is_offtrack=not any(wheels), is_reversed=False,
            distance_from_center=abs(proj.offset), is_left_of_center=proj.offset > 0.0,
            progress=lap_progress, steps=steps, track_length=track.length,
            track_width=track.width_at(proj), waypoints=waypoints,
            closest_waypoints=track.closest_waypoints(proj), projection_distance=proj.distance,
            sim_time=steps * dt)
        cars.append((name, params))
    return cars


# --------------------------------------------------------------------------- preview drive
def preview_drive(track: Track, steps: int = PREVIEW_STEPS, seed: int = 0) -> list[dict[str, Any]]:
    """Params of `steps` rewarded steps of a reference driver (prepare steps left out).

    The driver follows the centre line by pure pursuit at 1.2-2.5 m/s with steering noise and a
    slow weave; an episode that ends (off track, lap complete) starts again further on."""
    config = AutopilotConfig(target_speed=2.5, steering_noise=0.08, weave_amplitude=0.7,
                             weave_period_m=track.length / 3.0, lateral_grip_use=0.5)
    session = Session(track, DEEPRACER, TRAINING_RULES, seed=seed)
    pilot = Autopilot(track, DEEPRACER, config, seed=seed)
    out: list[dict[str, Any]] = []
    episode = 0
    while len(out) < steps:
        result = session.step(pilot.act(session.state).to_command(DEEPRACER, pilot.commanded_speed))
        if result.status is not EpisodeStatus.PREPARE and result.params is not None:
            out.append({"params": result.params, "status": result.status.value})
        if result.done:
            episode += 1
            session.reset(start_distance=(episode * 0.23 % 1.0) * track.length)
            pilot = Autopilot(track, DEEPRACER, config, seed=seed + episode)
    return out


# --------------------------------------------------------------------------- validate
def _public(params: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in params.items() if k != "waypoints"}


def _runtime_issue(exc: RewardFunctionError, step: str | int | None, where: str = "") -> Issue:
    params = _public(exc.params) if exc.params is not None else None
    line = f" (line {exc.line})" if exc.line is not None else ""
    message = f"{where}{line}: {exc.message}" if where else f"line {exc.line}: {exc.message}" if line \
        else exc.message
    return Issue(message, "runtime", exc.line, None, params, step)


def validate(source: str, track: str = DEFAULT_TRACK, *, preview_steps: int = PREVIEW_STEPS) -> ValidationReport:
    """Check `source` statically, call it on four synthetic cars of `track` in the sandbox, then
    reward a `preview_steps`-step preview drive. The report's `ok` says whether it may train."""
    started = time.perf_counter()
    report = ValidationReport(track=track)
    try:
        track_obj = load_track(track)
    except (FileNotFoundError, ValueError, KeyError) as exc:
        report.issues.append(Issue(f"unknown track {track!r}: {exc}", "sandbox"))
        return report
    report.issues = static_issues(source)
    if report.issues:
        report.seconds = time.perf_counter() - started
        return report
    limits = SandboxLimits(wall_s_per_call=CALL_LIMIT_S, wall_s_per_batch=60.0)
    try:
        sandbox = RewardSandbox(source, waypoints={track: track_obj.waypoints}, limits=limits)
    except SandboxUnavailable as exc:
        report.issues.append(Issue(str(exc), "sandbox"))
        return report
    except RewardFunctionError as exc:  # the module failed to load (raised at import, timed out)
        report.issues.append(_runtime_issue(exc, None))
        report.seconds = time.perf_counter() - started
        return report
    report.backend = sandbox.backend
    with sandbox:
        try:
            alive = _check_cars(sandbox, track, track_obj, report)
            if alive and preview_steps > 0:
                _preview(sandbox, track, track_obj, preview_steps, report)
        finally:
            report.output = sandbox.output()
    report.seconds = time.perf_counter() - started
    return report


def _check_cars(sandbox: RewardSandbox, key: str, track: Track, report: ValidationReport) -> bool:
    """Call the function on each synthetic car; False when the sandbox had to be stopped."""
    for name, params in synthetic_cars(track):
        try:
            reward: float | None = float(sandbox.rewards(key, [params])[0])
        except RewardFunctionError as exc:
            reward = None
            issue = _runtime_issue(exc, name, f"on the synthetic '{name}' car")
            issue.params = _public(params)
            report.issues.append(issue)
            if exc.kind in ("timeout", "crashed", "output", "memory"):
                report.cars.append(CarCheck(name, reward, _public(params)))
                return False
        report.cars.append(CarCheck(name, reward, _public(params)))
    return True


def _preview(sandbox: RewardSandbox, key: str, track: Track, steps: int, report: ValidationReport) -> None:
    drive = preview_drive(track, steps)
    batch = [step["params"] for step in drive]
    rewards: list[float | None] = [None] * len(batch)
    try:
        rewards = [float(value) for value in sandbox.rewards(key, batch)]
    except RewardFunctionError as exc:
        index = exc.step_index
        where = f"in the preview drive, step {index}" if index is not None else "in the preview drive"
        report.issues.append(_runtime_issue(exc, index, where))
        if index and exc.kind in ("raised", "bad_return"):  # the sandbox lives on: the steps before
            with contextlib.suppress(RewardFunctionError):
                rewards[:index] = [float(value) for value in sandbox.rewards(key, batch[:index])]
        drive = drive[:index + 1] if index is not None else []
    report.preview = [
        PreviewStep(x=round(p["x"], 4), y=round(p["y"], 4), reward=rewards[i] if i < len(rewards) else None,
                    progress=round(p["progress"], 3), speed=p["speed"], steering=round(p["steering_angle"], 3),
                    status=step["status"])
        for i, step in enumerate(drive) for p in (step["params"],)
    ]
