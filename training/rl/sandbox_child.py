"""The program that runs a team's reward function inside the sandbox (see `training.rl.sandbox`).

The host starts it as `python -I -S -B sandbox_child.py` inside bubblewrap (or, with the documented
unsafe opt-in, as a plain subprocess). It imports nothing from Pitlane: only the standard library
and, inside the sandbox, NumPy/SciPy/Shapely from the read-only site directory the host names.

Protocol (stdin from the host, a private copy of stdout back; fd 1 and 2 both carry the team's
prints, which the host drains and caps):

- host -> child: frames of `<II` (opcode, length) + a pickle. The first frame (`OP_INIT`) holds the
  source, its file name, each track's waypoints, the limits and the site directories; each
  `OP_BATCH` frame holds `(track_key, [params without "waypoints", ...])`. The host is trusted,
  so the child unpickles.
- child -> host: `<4sII` (status, count, json length) + `count` float64 values + a JSON object.
  Status `b"OK__"` carries every reward of the batch; `b"ERR_"` carries no values and a JSON error
  `{"kind", "index", "line", "message"}`. The host never unpickles what comes back (the child runs
  untrusted code) and checks every length and value itself.

The module also holds the code policy (allowed imports, removed builtins, refused attribute
names) that `training.rl.reward_check` applies statically, so the two can never disagree.
Defence in depth only: the real boundary is the sandbox (namespaces, read-only filesystem,
seccomp, resource limits).
"""

from __future__ import annotations

import ast
import builtins
import contextlib
import json
import math
import os
import signal
import struct
import sys
import time
import traceback
from collections.abc import Callable, Iterator
from typing import Any

#: Top-level modules a reward function may import (the libraries the DeepRacer console allows).
ALLOWED_MODULES = ("math", "random", "numpy", "scipy", "shapely")
#: Builtins a reward function does not get.
REMOVED_BUILTINS = ("open", "eval", "exec", "compile", "__import__", "input", "breakpoint",
                    "exit", "quit", "help", "globals", "locals", "vars")
#: Attribute names that only serve to climb out of the language-level restrictions.
DENIED_ATTRIBUTES = frozenset({
    "__subclasses__", "__bases__", "__base__", "__mro__", "__globals__", "__builtins__",
    "__code__", "__closure__", "__dict__", "__getattribute__", "__loader__", "__spec__",
    "__import__", "__reduce__", "__reduce_ex__", "__self__", "__func__", "__traceback__",
    "f_globals", "f_locals", "f_builtins", "f_back", "f_code", "tb_frame", "tb_next",
    "gi_frame", "gi_code", "cr_frame", "cr_code", "ag_frame", "ag_code",
})

REWARD_LIMIT = 1e5  # simulator.deepracer.REWARD_LIMIT (the child cannot import Pitlane)
MAX_MESSAGE_CHARS = 2000

OP_INIT = 1
OP_BATCH = 2
HEADER = struct.Struct("<II")
ANSWER = struct.Struct("<4sII")
OK = b"OK__"
ERR = b"ERR_"


def allowed_module(name: str) -> bool:
    return name.partition(".")[0] in ALLOWED_MODULES


def import_refusal(name: str) -> str:
    return (f"import of '{name}' is not allowed: reward functions may import only "
            f"{', '.join(ALLOWED_MODULES)}")


def _bound_names(tree: ast.AST) -> set[str]:
    """Names the code binds itself (a variable called `input` is the team's, not the builtin)."""
    bound = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            bound.add(node.id)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            bound.update((alias.asname or alias.name).partition(".")[0] for alias in node.names)
    return bound


def policy_violations(tree: ast.AST) -> Iterator[tuple[int, int, str]]:
    """(line, column, message) for each import, builtin or attribute the policy refuses."""
    own = _bound_names(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if not allowed_module(alias.name):
                    yield node.lineno, node.col_offset, import_refusal(alias.name)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                yield node.lineno, node.col_offset, "relative imports are not allowed in a reward function"
            elif not allowed_module(node.module or ""):
                yield node.lineno, node.col_offset, import_refusal(node.module or "")
        elif isinstance(node, ast.Name) and node.id in REMOVED_BUILTINS and node.id not in own:
            yield node.lineno, node.col_offset, f"'{node.id}' is not available to reward functions"
        elif isinstance(node, ast.Attribute) and node.attr in DENIED_ATTRIBUTES:
            yield node.lineno, node.col_offset, f"attribute '{node.attr}' is not allowed in a reward function"


# --------------------------------------------------------------------------- inside the sandbox
class RewardTimeout(BaseException):
    """Raised in the team's code when one call has run past its wall-clock limit."""


class _CappedWriter:
    """sys.stdout/sys.stderr for the team: forwards at most `cap` bytes per batch to fd 2."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.used = 0
        self.dropped = 0

    def write(self, text: Any) -> int:
        data = str(text).encode("utf-8", "replace")
        room = self.cap - self.used
        if room > 0:
            chunk = data[:room]
            with contextlib.suppress(OSError):
                os.write(2, chunk)
            self.used += len(chunk)
        self.dropped += max(0, len(data) - max(room, 0))
        return len(text) if isinstance(text, str) else len(data)

    def flush(self) -> None:
        pass

    def new_batch(self) -> None:
        if self.dropped:
            note = f"\n[pitlane: {self.dropped} more bytes of output dropped]\n".encode()
            with contextlib.suppress(OSError):
                os.write(2, note)
        self.used = self.dropped = 0


def _read_exact(fd: int, n: int) -> bytes:
    parts, left = [], n
    while left:
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            raise EOFError
        parts.append(chunk)
        left -= len(chunk)
    return b"".join(parts)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _set_limits(limits: dict[str, Any]) -> None:
    import resource

    def cap(which: int, value: int, hard_extra: int = 0) -> None:
        soft, hard = resource.getrlimit(which)
        top = value + hard_extra
        if hard != resource.RLIM_INFINITY:
            value, top = min(value, hard), min(top, hard)
        resource.setrlimit(which, (value, top))

    cap(resource.RLIMIT_CORE, 0)
    cap(resource.RLIMIT_AS, int(limits["memory_mb"]) << 20)
    # SIGXCPU at the soft limit (the host reports the CPU budget), SIGKILL a second later.
    cap(resource.RLIMIT_CPU, int(math.ceil(limits["cpu_s_total"])), hard_extra=1)
    cap(resource.RLIMIT_FSIZE, int(limits["max_file_bytes"]))
    cap(resource.RLIMIT_NPROC, int(limits["max_procs"]))


def _seccomp_filter() -> bytes | None:
    """A classic-BPF seccomp program refusing process creation, exec, sockets, namespaces,
    mounts, ptrace and a few kernel attack surfaces (EPERM; clone3 answers ENOSYS so libc falls
    back to clone, whose thread creations stay allowed). None on an unknown architecture."""
    import platform

    machine = platform.machine()
    if machine == "x86_64":
        arch, clone, clone3 = 0xC000003E, 56, 435
        denied = [57, 58, 59, 322, 101, 41, 53, 272, 308, 165, 166, 155, 321, 323, 250, 248, 249,
                  135, 298, 425, 426, 427, 310, 311, 246, 320, 169]
    elif machine == "aarch64":
        arch, clone, clone3 = 0xC00000B7, 220, 435
        denied = [221, 281, 117, 198, 199, 97, 268, 40, 39, 41, 280, 282, 219, 217, 218, 92, 241,
                  425, 426, 427, 270, 271, 104, 294, 142]
    else:
        return None
    ld_w, jeq, jset, ret = 0x20, 0x15, 0x45, 0x06
    allow, kill = 0x7FFF0000, 0x80000000
    errno_eperm, errno_enosys = 0x00050000 | 1, 0x00050000 | 38
    clone_thread = 0x00010000
    prog: list[tuple[int, int, int, int]] = [
        (ld_w, 0, 0, 4),  # seccomp_data.arch
        (jeq, 1, 0, arch),
        (ret, 0, 0, kill),
        (ld_w, 0, 0, 0),  # seccomp_data.nr
    ]
    if machine == "x86_64":  # the x32 ABI's numbers have bit 30 set: refuse them all
        prog += [(0x35, 0, 1, 0x40000000), (ret, 0, 0, errno_eperm)]  # jge
    prog += [(jeq, 0, 1, clone3), (ret, 0, 0, errno_enosys)]
    prog += [(jeq, 0, 4, clone), (ld_w, 0, 0, 16),  # args[0] low word: the clone flags
             (jset, 1, 0, clone_thread), (ret, 0, 0, errno_eperm), (ret, 0, 0, allow)]
    for nr in denied:
        prog += [(jeq, 0, 1, nr), (ret, 0, 0, errno_eperm)]
    prog.append((ret, 0, 0, allow))
    return b"".join(struct.pack("<HBBI", *ins) for ins in prog)


def _install_seccomp() -> bool:
    program = _seccomp_filter()
    if program is None:
        return False
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    pr_set_pdeathsig, pr_set_no_new_privs, pr_set_seccomp, seccomp_mode_filter = 1, 38, 22, 2
    libc.prctl(pr_set_pdeathsig, signal.SIGKILL, 0, 0, 0)  # the host gone: so are we

    class SockFprog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_char_p)]

    fprog = SockFprog(len(program) // 8, program)
    if libc.prctl(pr_set_no_new_privs, 1, 0, 0, 0) != 0:
        return False
    return bool(libc.prctl(pr_set_seccomp, seccomp_mode_filter, ctypes.byref(fprog), 0, 0) == 0)


def _safe_builtins() -> dict[str, Any]:
    real_import = builtins.__import__

    def guarded_import(name: str, globals_: Any = None, locals_: Any = None,
                       fromlist: Any = (), level: int = 0) -> Any:
        if level:
            raise ImportError("relative imports are not allowed in a reward function")
        if not allowed_module(name):
            raise ImportError(import_refusal(name))
        return real_import(name, globals_, locals_, fromlist, level)

    safe = {k: v for k, v in vars(builtins).items() if k not in REMOVED_BUILTINS}
    safe["__import__"] = guarded_import
    return safe


def _team_line(exc: BaseException, filename: str) -> int | None:
    line = None
    for frame, lineno in traceback.walk_tb(exc.__traceback__):
        if frame.f_code.co_filename == filename:
            line = lineno
    if line is None and isinstance(exc, SyntaxError) and exc.filename == filename:
        line = exc.lineno
    return line


def _describe(exc: BaseException) -> str:
    try:
        text = str(exc)
    except BaseException:  # noqa: BLE001 - a team's __str__ may raise anything
        text = "<the exception's message could not be read>"
    name = type(exc).__name__
    text = f"{name}: {text}" if text else name
    if len(text) > MAX_MESSAGE_CHARS:
        text = text[:MAX_MESSAGE_CHARS] + f"... ({len(text) - MAX_MESSAGE_CHARS} more characters)"
    return text


def _error(kind: str, index: int | None, line: int | None, message: str) -> bytes:
    body = json.dumps({"kind": kind, "index": index, "line": line, "message": message[:MAX_MESSAGE_CHARS * 2]})
    data = body.encode("utf-8")
    return ANSWER.pack(ERR, 0, len(data)) + data


def _exception_error(exc: BaseException, index: int | None, filename: str, limit_s: float) -> bytes:
    line = _team_line(exc, filename)
    if isinstance(exc, RewardTimeout):
        return _error("timeout", index, line, f"the reward function ran for more than {limit_s:g} s")
    if isinstance(exc, MemoryError):
        return _error("memory", index, line, "the reward function ran out of memory (MemoryError)")
    if isinstance(exc, RecursionError):
        return _error("raised", index, line, _describe(exc))
    return _error("raised", index, line, _describe(exc))


def _check_value(value: Any) -> tuple[float | None, str]:
    if isinstance(value, (str, bytes, bytearray)) or value is None:
        return None, f"the reward function returned {type(value).__name__} {_short_repr(value)}, not a number"
    try:
        reward = float(value)
    except (TypeError, ValueError, OverflowError):
        return None, f"the reward function returned {type(value).__name__} {_short_repr(value)}, not a number"
    if not math.isfinite(reward) or abs(reward) > REWARD_LIMIT:
        return None, f"the reward function returned {reward!r}: it must be a finite float within +-{REWARD_LIMIT:g}"
    return reward, ""


def _short_repr(value: Any) -> str:
    try:
        text = repr(value)
    except BaseException:  # noqa: BLE001 - a team's __repr__ may raise anything
        text = "<unprintable>"
    return text if len(text) <= 80 else text[:77] + "..."


def main() -> int:
    import pickle

    answer_fd = os.dup(1)
    os.dup2(2, 1)  # the team's writes to fd 1 land in the capped output pipe
    head = _read_exact(0, HEADER.size)
    op, length = HEADER.unpack(head)
    if op != OP_INIT:
        return 2
    init = pickle.loads(_read_exact(0, length))
    limits = init["limits"]
    filename = init["filename"]
    limit_s = float(limits["wall_s_per_call"])
    load_limit_s = float(limits.get("wall_s_load", limit_s))
    _set_limits(limits)
    sys.path[:0] = list(init["site_dirs"])
    for module in ALLOWED_MODULES:  # loaded while the process is still ours, before the filter
        __import__(module)
    sandboxed = _install_seccomp() if init.get("seccomp", True) else False
    writer = _CappedWriter(int(limits["max_output_bytes"]))
    sys.stdout = sys.stderr = writer

    waypoints: dict[str, list[Any]] = init["waypoints"]
    call_started = [0.0]
    current_limit = [load_limit_s]

    def on_alarm(signum: int, frame: Any) -> None:
        if call_started[0] and time.monotonic() - call_started[0] > current_limit[0]:
            raise RewardTimeout
    signal.signal(signal.SIGALRM, on_alarm)
    tick = max(0.05, min(0.25, limit_s / 4))
    signal.setitimer(signal.ITIMER_REAL, tick, tick)

    namespace: dict[str, Any] = {"__name__": "reward_function", "__builtins__": _safe_builtins()}
    reward_function: Callable[[dict[str, Any]], Any] | None = None
    load_error = None
    try:
        tree = ast.parse(init["source"], filename)
        refused = next(policy_violations(tree), None)
        if refused is not None:
            load_error = _error("raised", None, refused[0], refused[2])
        else:
            code = builtins.compile(tree, filename, "exec")
            call_started[0] = time.monotonic()
            builtins.exec(code, namespace)
            call_started[0] = 0.0
            candidate = namespace.get("reward_function")
            if not callable(candidate):
                load_error = _error("raised", None, None, "the code defines no function reward_function(params)")
            else:
                reward_function = candidate
    except BaseException as exc:  # noqa: BLE001 - any failure of team code is reported
        call_started[0] = 0.0
        load_error = _exception_error(exc, None, filename, load_limit_s)
    current_limit[0] = limit_s
    writer.new_batch()
    ready = json.dumps({"seccomp": sandboxed}).encode()
    _write_all(answer_fd, load_error or ANSWER.pack(OK, 0, len(ready)) + ready)
    if load_error is not None:
        return 0

    assert reward_function is not None
    import gc

    gc.freeze()  # the libraries' objects: never scanned again
    values = bytearray()
    while True:
        try:
            head = _read_exact(0, HEADER.size)
        except EOFError:
            return 0
        op, length = HEADER.unpack(head)
        if op != OP_BATCH:
            return 2
        gc.disable()  # thousands of small dicts: no collection passes while they are built
        track_key, batch = pickle.loads(_read_exact(0, length))
        gc.enable()
        points = waypoints[track_key]
        values = bytearray(8 * len(batch))
        failure = None
        pack_into = struct.pack_into
        index = 0
        try:
            for index, params in enumerate(batch):
                params["waypoints"] = points.copy()
                call_started[0] = time.monotonic()
                value = reward_function(params)
                call_started[0] = 0.0
                if type(value) is float and -REWARD_LIMIT <= value <= REWARD_LIMIT:
                    pack_into("<d", values, 8 * index, value)
                    continue
                reward, problem = _check_value(value)
                if reward is None:
                    failure = _error("bad_return", index, None, problem)
                    break
                pack_into("<d", values, 8 * index, reward)
        except BaseException as exc:  # noqa: BLE001 - any failure of team code is reported
            call_started[0] = 0.0
            failure = _exception_error(exc, index, filename, limit_s)
        writer.new_batch()
        if failure is not None:
            _write_all(answer_fd, failure)
        else:
            _write_all(answer_fd, ANSWER.pack(OK, len(batch), 0) + bytes(values))


if __name__ == "__main__":
    sys.exit(main())
