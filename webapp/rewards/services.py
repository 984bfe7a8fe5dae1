"""Reward function workflows: create a function (blank, from one of our examples or an uploaded
`.py`), save a new version, validate a version in the sandbox and keep its report, and the rules
training asks about (`check_trainable`, `latest_valid_version`).

Team code never runs in this process: `training.rl.reward_check.validate` runs it in a sandbox
process. A web process runs at most `PITLANE_REWARD_VALIDATIONS_PER_PROCESS` validations at once
(more answer `ValidationBusy`, a 429 for the page) so a burst of clicks cannot take every thread.
"""

from __future__ import annotations

import hashlib
import math
import threading

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from .models import MAX_SOURCE_BYTES, RewardFunction, RewardFunctionVersion

MAX_NAME_LENGTH = 120
#: How many preview steps validation drives with the reference policy.
PREVIEW_STEPS = 300
DEFAULT_TRACK = "reinvent_base"


class ValidationBusy(Exception):
    """Every validation slot of this web process is taken; try again in a few seconds."""


class ValidationUnavailable(Exception):
    """No sandbox can run team code on this server (the message is for the operator and the team)."""


# -- source text ----------------------------------------------------------------------------------

def normalise_source(source: str) -> str:
    """The source as stored: Unix line endings (browsers send a textarea's lines with CRLF) and one
    final newline, so the same code saved from the editor or uploaded is the same version."""
    text = source.replace("\r\n", "\n").replace("\r", "\n")
    return text.rstrip("\n") + "\n" if text.strip() else ""


def check_source(source: str) -> str:
    """The normalised source, or a ValidationError saying what is wrong with it."""
    text = normalise_source(source)
    if not text:
        raise ValidationError("The reward function is empty: write a reward_function(params) that returns a number.")
    if "\x00" in text:
        raise ValidationError("The reward function contains a NUL character: it must be Python source text.")
    size = len(text.encode("utf-8"))
    if size > MAX_SOURCE_BYTES:
        raise ValidationError(f"The reward function is {size:,} bytes; at most {MAX_SOURCE_BYTES:,} bytes "
                              f"({MAX_SOURCE_BYTES // 1024} KB) are allowed.")
    return text


def source_sha256(source: str) -> str:
    return hashlib.sha256(source.encode("utf-8")).hexdigest()


def read_upload(uploaded) -> str:
    """The text of an uploaded `.py` file: refused when too large (before reading it), binary or not
    UTF-8, with a sentence naming the file and the problem."""
    name = getattr(uploaded, "name", "") or "the file"
    if not name.lower().endswith(".py"):
        raise ValidationError(f"{name} is not a .py file: upload the Python file that holds reward_function(params).")
    if uploaded.size is not None and uploaded.size > MAX_SOURCE_BYTES:
        raise ValidationError(f"{name} is {uploaded.size:,} bytes; a reward function may be at most "
                              f"{MAX_SOURCE_BYTES:,} bytes ({MAX_SOURCE_BYTES // 1024} KB).")
    data = uploaded.read(MAX_SOURCE_BYTES + 1)
    if len(data) > MAX_SOURCE_BYTES:
        raise ValidationError(f"{name} is larger than {MAX_SOURCE_BYTES:,} bytes ({MAX_SOURCE_BYTES // 1024} KB), "
                              "the most a reward function may be.")
    if b"\x00" in data:
        raise ValidationError(f"{name} is a binary file, not Python source text.")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise ValidationError(f"{name} is not UTF-8 text (an undecodable byte on line {line}): save it as UTF-8 "
                              "and upload it again.") from None
    return check_source(text)


# -- starting points -----------------------------------------------------------------------------

BLANK_SOURCE = '''def reward_function(params):
    """The reward of one step. `params` is DeepRacer's dict: all_wheels_on_track, x, y, heading,
    speed, steering_angle, progress, steps, track_width, distance_from_center, waypoints,
    closest_waypoints, is_left_of_center, is_offtrack, is_reversed... Return a float."""
    if not params["all_wheels_on_track"]:
        return 1e-3
    return 1.0
'''


def examples() -> list:
    """Our example reward functions (`training.rl.examples.EXAMPLES`: slug, title, summary, source)."""
    from training.rl.examples import EXAMPLES

    return list(EXAMPLES)


def starting_source(start: str) -> str:
    """The source a new function starts from: an example's (by slug), or the blank template."""
    for example in examples():
        if example.slug == start:
            return example.source
    return BLANK_SOURCE


# -- functions and versions -----------------------------------------------------------------------

def check_name(team, name: str, *, exclude: RewardFunction | None = None) -> str:
    clean = " ".join((name or "").split())
    if not clean:
        raise ValidationError("Give the reward function a name.")
    if len(clean) > MAX_NAME_LENGTH:
        raise ValidationError(f"The name is {len(clean)} characters long; at most {MAX_NAME_LENGTH} are allowed.")
    taken = RewardFunction.objects.filter(team=team, name__iexact=clean)
    if exclude is not None:
        taken = taken.exclude(pk=exclude.pk)
    existing = taken.first()
    if existing is not None:
        raise ValidationError(f"Your team already has a reward function called {existing.name!r}: choose another "
                              "name, or save a new version of that one.")
    return clean


def create_function(*, team, user, name: str, source: str) -> RewardFunction:
    """A new reward function with `source` as its version 1."""
    clean = check_name(team, name)
    text = check_source(source)
    try:
        with transaction.atomic():
            function = RewardFunction.objects.create(team=team, name=clean, created_by=user)
            RewardFunctionVersion.objects.create(function=function, number=1, source=text,
                                                 sha256=source_sha256(text), created_by=user)
    except IntegrityError:  # the same name created by a teammate in the meantime
        raise ValidationError(f"Your team already has a reward function called {clean!r}.") from None
    return function


def save_version(*, function: RewardFunction, user, source: str) -> tuple[RewardFunctionVersion, bool]:
    """Save `source` as the function's next version; (version, created). Source identical to the
    latest version's (after `normalise_source`) is that version, not a new one."""
    text = check_source(source)
    digest = source_sha256(text)
    with transaction.atomic():
        # The function's row lock serialises numbering between teammates saving at once.
        RewardFunction.objects.select_for_update().filter(pk=function.pk).first()
        latest = function.versions.order_by("-number").first()
        if latest is not None and latest.sha256 == digest:
            return latest, False
        version = RewardFunctionVersion.objects.create(
            function=function, number=(latest.number if latest else 0) + 1, source=text, sha256=digest,
            created_by=user)
    return version, True


def set_archived(function: RewardFunction, archived: bool) -> None:
    function.archived = archived
    function.save(update_fields=["archived"])


# -- validation -----------------------------------------------------------------------------------

class _Slots:
    """A per-process limit on concurrent validations (each holds a sandbox process and a thread).
    A slot is taken by the request and given back by whoever finishes the validation."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.running = 0

    def acquire(self) -> None:
        limit = max(1, int(settings.PITLANE_REWARD_VALIDATIONS_PER_PROCESS))
        with self._lock:
            if self.running >= limit:
                raise ValidationBusy(f"The server is already validating {self.running} reward "
                                     f"function{'s' if self.running != 1 else ''}; try again in a few seconds.")
            self.running += 1

    def release(self) -> None:
        with self._lock:
            self.running -= 1


VALIDATION_SLOTS = _Slots()


def validation_timeout_s() -> float:
    """The most one validation may take, in all (static checks, sandbox start, the synthetic cars'
    calls of up to 5 s each and the preview drive's batch)."""
    return float(settings.PITLANE_REWARD_VALIDATION_TIMEOUT_S)


def validation_tracks() -> list[str]:
    """The tracks a reward function can be validated on: the DeepRacer-scale ones RL training may
    use (built-in designs, then DeepRacer's `.npy` tracks such as reinvent_base)."""
    from training.rl.config import available_tracks

    return available_tracks()


def check_track(track: str) -> str:
    tracks = validation_tracks()
    if track not in tracks:
        raise ValidationError(f"Unknown track {track!r}: choose one of {', '.join(tracks)}.")
    return track


def check_sandbox() -> None:
    """ValidationUnavailable (with the operator's sentence) when no sandbox can run team code here."""
    from training.rl import sandbox

    if sandbox.isolation_backend() is None and not sandbox.unsafe_opt_in():
        raise ValidationUnavailable(sandbox.unavailable_reason())


def run_validation(source: str, track: str) -> dict:
    """The report (JSON-ready dict) of `training.rl.reward_check.validate` on `source`: the sandbox
    process runs the team's code; this process only waits for its answer."""
    from training.rl import reward_check
    from training.rl.sandbox import SandboxUnavailable

    try:
        report = reward_check.validate(source, track=track, preview_steps=PREVIEW_STEPS)
    except SandboxUnavailable as exc:
        raise ValidationUnavailable(str(exc)) from None
    return report.to_json()


def storable(value):
    """The report as any database's JSON column takes it: NaN and infinities become None and NUL
    characters (which PostgreSQL's jsonb refuses) are written out as `\\x00`, wherever the team's
    code may have put them (printed output, exception messages)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, str):
        return value.replace("\x00", "\\x00")
    if isinstance(value, dict):
        return {storable(k): storable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [storable(v) for v in value]
    return value


def _validate_within_deadline(source: str, track: str) -> dict:
    """`run_validation` in a thread of its own, waited for at most `validation_timeout_s()`. The
    caller's slot passes to that thread, which gives it back when the sandbox is done (its own
    limits end it), so a slow function keeps its slot but not the person waiting."""
    outcome: dict = {}
    done = threading.Event()

    def work() -> None:
        try:
            outcome["report"] = run_validation(source, track)
        except BaseException as exc:  # noqa: BLE001 (handed to the waiting request)
            outcome["error"] = exc
        finally:
            VALIDATION_SLOTS.release()
            done.set()

    threading.Thread(target=work, name="reward-validation", daemon=True).start()
    limit = validation_timeout_s()
    if not done.wait(limit):
        raise ValidationError(f"Validation took longer than {limit:g} s and was given up: make the reward function "
                              "faster (each call may take at most 5 s, and 300 preview steps are rewarded).")
    if "error" in outcome:
        raise outcome["error"]
    return outcome["report"]


def validate_version(version: RewardFunctionVersion, track: str) -> RewardFunctionVersion:
    """Validate one version on `track` and keep the report on it (the last one wins).

    Raises ValidationError (unknown track, or past the time limit: nothing is stored),
    ValidationBusy (no free slot: answer 429) or ValidationUnavailable (no sandbox on this server:
    nothing is stored)."""
    check_track(track)
    check_sandbox()
    VALIDATION_SLOTS.acquire()
    report = _validate_within_deadline(version.source, track)
    version.validation = storable(report)
    version.validated_track = track
    version.validated = timezone.now()
    version.ok = bool(report.get("ok"))
    version.save(update_fields=["validation", "validated_track", "validated", "ok"])
    return version


# -- what training asks ---------------------------------------------------------------------------

def latest_valid_version(function: RewardFunction) -> RewardFunctionVersion | None:
    """The function's newest version that passed validation, or None."""
    return function.versions.filter(ok=True).order_by("-number").first()


def check_trainable(version: RewardFunctionVersion) -> None:
    """Training may use only a version that passed validation; otherwise a ValidationError says why."""
    label = f"Reward function {version.function.name!r} version {version.number}"
    if version.ok is None:
        raise ValidationError(f"{label} has not been validated yet: validate it on its page before training with it.")
    if not version.ok:
        raise ValidationError(f"{label} failed validation on {version.validated_track}: fix the issues its page "
                              "lists and validate the new version before training with it.")
