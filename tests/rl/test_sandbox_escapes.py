"""Every escape class a team's reward function may try fails with a clear message, while another
team's sandbox (the module's `bystander`) keeps answering correctly.

Most escapes below get past the language-level guard on purpose (string-built attribute names,
`numpy.ctypeslib`, NumPy's own file readers), to show that the process sandbox itself holds:
namespaces, the read-only view, the clean environment, seccomp and the resource limits.
"""

from __future__ import annotations

import os
import resource
import socket
import time
from pathlib import Path

import pytest

from simulator.track import load_track
from tests.support.paths import ROOT
from training.rl.sandbox import RewardFunctionError, RewardSandbox, SandboxLimits

TRACK = load_track("reinvent_base")
WAYPOINTS = {"reinvent_base": TRACK.waypoints}
FAST = SandboxLimits(wall_s_per_call=1.0, wall_s_per_batch=10.0)

#: Reaches the `os` module's globals without an import or a literal dunder attribute: the classic
#: `().__class__.__bases__[0].__subclasses__()` walk, spelled so the static guard cannot see it.
OS_GLOBALS = '''
def os_globals():
    base = getattr(getattr((), "__cla" + "ss__"), "__ba" + "ses__")[0]
    for cls in getattr(base, "__subcla" + "sses__")():
        if cls.__name__ == "_wrap_close":
            return getattr(cls.__init__, "__glo" + "bals__")
    raise LookupError("os not found")


def real_import(name):
    return os_globals()["__builtins__"]["__import__"](name)
'''

LIBC = '''
import numpy.ctypeslib as ctypeslib

def libc():
    for folder in ("/lib/x86_64-linux-gnu", "/lib/aarch64-linux-gnu"):
        try:
            return ctypeslib.load_library("libc.so.6", folder)
        except OSError:
            pass
    raise OSError("no libc found")
'''

GOOD = "def reward_function(params):\n    return params['x'] + 2.0 * params['steps']\n"


def params(step: int = 1) -> dict:
    from simulator.deepracer import build_params

    return build_params(x=1.5 + step, y=2.0, heading_deg=10.0, speed=1.0, steering_angle=0.0,
                        all_wheels_on_track=True, is_offtrack=False, is_reversed=False,
                        distance_from_center=0.1, is_left_of_center=True, progress=5.0, steps=step,
                        track_length=TRACK.length, track_width=0.76, waypoints=TRACK.waypoints,
                        closest_waypoints=(3, 4), projection_distance=1.0, sim_time=step / 15)


@pytest.fixture(scope="module")
def bystander():
    with RewardSandbox(GOOD, waypoints=WAYPOINTS) as sandbox:
        yield sandbox


def still_working(bystander: RewardSandbox) -> None:
    batch = [params(i) for i in range(1, 6)]
    assert list(bystander.rewards("reinvent_base", batch)) == [p["x"] + 2.0 * p["steps"] for p in batch]


def failure(source: str, bystander: RewardSandbox, limits: SandboxLimits = FAST) -> RewardFunctionError:
    """Run `source` on one step; it must fail with RewardFunctionError; the bystander must not."""
    with pytest.raises(RewardFunctionError) as caught, \
            RewardSandbox(source, waypoints=WAYPOINTS, limits=limits) as sandbox:
        sandbox.rewards("reinvent_base", [params()])
    still_working(bystander)
    return caught.value


def reward_of(source: str, bystander: RewardSandbox) -> float:
    with RewardSandbox(source, waypoints=WAYPOINTS, limits=FAST) as sandbox:
        value = float(sandbox.rewards("reinvent_base", [params()])[0])
    still_working(bystander)
    return value


# --------------------------------------------------------------------------- files
def test_etc_passwd_is_not_there(bystander):
    assert Path("/etc/passwd").exists()
    source = ("import numpy as np\n\ndef reward_function(params):\n"
              "    return float(len(np.loadtxt('/etc/passwd', dtype=str, delimiter='|')))\n")
    error = failure(source, bystander)
    assert error.kind == "raised" and error.line == 4
    assert "/etc/passwd not found" in str(error)


def test_repository_settings_are_not_there(bystander):
    settings = ROOT / "webapp" / "settings.py"
    assert settings.exists()
    source = OS_GLOBALS + f"""
def reward_function(params):
    fd = os_globals()["open"]({str(settings)!r}, 0)
    return 1.0
"""
    error = failure(source, bystander)
    assert "FileNotFoundError" in str(error) and "settings.py" in str(error)
    # Nor is anything of the repository: the sandbox's root holds only the runtime.
    source = OS_GLOBALS + """
def reward_function(params):
    raise ValueError(sorted(os_globals()["listdir"]("/")))
"""
    listing = failure(source, bystander).message
    assert "work" not in listing and "etc" not in listing and "srv" not in listing
    assert "'usr'" in listing and "'tmp'" in listing


def test_another_teams_media_is_not_there(bystander, tmp_path):
    secret = tmp_path / "media" / "teams" / "other-team" / "models" / "secret.txt"
    secret.parent.mkdir(parents=True)
    secret.write_text("another team's data")
    source = f"""import numpy as np

def reward_function(params):
    return float(np.load({str(secret)!r}, allow_pickle=False).sum())
"""
    error = failure(source, bystander)
    assert "No such file or directory" in str(error)


def test_writes_stay_in_a_small_private_tmpfs(bystander, tmp_path):
    source = OS_GLOBALS + """
def reward_function(params):
    g = os_globals()
    fd = g["open"]("/tmp/big", g["O_WRONLY"] | g["O_CREAT"])
    chunk = b"x" * 65536
    for _ in range(1000):  # 64 MB: past RLIMIT_FSIZE and the tmpfs size
        g["write"](fd, chunk)
    return 1.0
"""
    error = failure(source, bystander)
    assert error.kind in ("raised", "crashed")
    assert "File too large" in str(error) or "No space left" in str(error) or "signal" in str(error)
    assert not Path("/tmp/big").exists() or Path("/tmp/big").stat().st_size < 65536 * 1000


# --------------------------------------------------------------------------- environment
def test_environment_is_empty(bystander, monkeypatch):
    monkeypatch.setenv("SECRET_KEY", "s3cret-value-for-the-sandbox-test")
    monkeypatch.setenv("DATABASE_URL", "postgres://user:pw@db/pitlane")
    source = OS_GLOBALS + """
def reward_function(params):
    raise ValueError(dict(os_globals()["environ"]))
"""
    message = failure(source, bystander).message
    assert "s3cret" not in message and "SECRET_KEY" not in message and "DATABASE_URL" not in message
    assert "OPENBLAS_NUM_THREADS" in message  # the environment was read: it is the sandbox's own


# --------------------------------------------------------------------------- network
def test_no_socket_to_local_redis_or_anywhere(bystander):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    port = server.getsockname()[1]
    try:
        for target in (("127.0.0.1", 6379), ("127.0.0.1", port)):
            source = OS_GLOBALS + f"""
def reward_function(params):
    real_import("socket").create_connection({target!r}, timeout=0.5)
    return 1.0
"""
            error = failure(source, bystander)
            assert "PermissionError" in str(error) and "Operation not permitted" in str(error)
        # No socket of any family can be made, so no address anywhere is reachable.
        source = OS_GLOBALS + """
def reward_function(params):
    socket = real_import("socket")
    socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    return 1.0
"""
        assert "Operation not permitted" in str(failure(source, bystander))
        server.settimeout(0.2)
        with pytest.raises(TimeoutError):
            server.accept()
    finally:
        server.close()


# --------------------------------------------------------------------------- processes
def test_subprocess_is_refused(bystander):
    source = OS_GLOBALS + """
def reward_function(params):
    real_import("subprocess").run(["/bin/true"])
    return 1.0
"""
    error = failure(source, bystander)
    assert "Operation not permitted" in str(error) or "No such file" in str(error)


def test_os_system_fails(bystander):
    marker = Path("/tmp/pitlane-sandbox-escaped")
    marker.unlink(missing_ok=True)
    source = OS_GLOBALS + f"""
def reward_function(params):
    return float(os_globals()["system"]("touch {marker}"))
"""
    assert reward_of(source, bystander) != 0.0  # system() could not start a shell
    assert not marker.exists()


def test_fork_bomb_gets_eperm_on_its_first_fork(bystander):
    source = OS_GLOBALS + """
def reward_function(params):
    fork = os_globals()["fork"]
    while True:
        fork()
"""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    error = failure(source, bystander)
    assert error.kind == "raised" and "PermissionError" in str(error) and error.line is not None
    assert time.monotonic() - started < 10
    assert resource.getrusage(resource.RUSAGE_CHILDREN).ru_utime - before.ru_utime < 10


def test_signals_reach_only_the_sandbox_itself(bystander):
    source = OS_GLOBALS + """
def reward_function(params):
    os_globals()["kill"](-1, 9)
    return 1.0
"""
    error = failure(source, bystander)  # in its own pid namespace, -1 is only its own processes
    assert error.kind in ("crashed", "raised")
    assert os.getpid() and os.getppid() != 1  # this process and its parent live on


def test_ctypes_import_is_refused_and_libc_cannot_fork(bystander):
    error = failure("import ctypes\n\ndef reward_function(params):\n    return 1.0\n", bystander)
    assert error.line == 1 and "import of 'ctypes' is not allowed" in str(error)
    # numpy.ctypeslib hands out ctypes anyway; libc's fork and exec are refused by the kernel.
    source = LIBC + """
def reward_function(params):
    c = libc()
    return float(c.fork()) + float(c.execv(b"/bin/sh", None))
"""
    assert reward_of(source, bystander) == -2.0  # both refused


def test_subclasses_walk_is_refused_and_its_spelled_out_form_gains_nothing(bystander):
    literal = "def reward_function(params):\n    return len(().__class__.__bases__[0].__subclasses__())\n"
    error = failure(literal, bystander)
    assert error.line == 2 and "'__subclasses__' is not allowed" in str(error)
    source = OS_GLOBALS + """
def reward_function(params):
    g = os_globals()
    return float(g["getuid"]() + len(g["listdir"]("/")) / 100)
"""
    value = reward_of(source, bystander)
    assert int(value) == 65534  # nobody, in its own user namespace


def test_sys_modules_tricks_gain_nothing(bystander):
    source = OS_GLOBALS + """
def reward_function(params):
    sys = os_globals()["sys"]
    sys.modules["math"] = sys.modules["os"]
    import math
    return float(math.system("true"))
"""
    assert reward_of(source, bystander) != 0.0
    # Forging the protocol's answer (writing to every descriptor) makes the host stop that sandbox.
    source = OS_GLOBALS + """
def reward_function(params):
    write = os_globals()["write"]
    for fd in range(3, 20):
        try:
            write(fd, b"OK__" + b"\\xff" * 64)
        except OSError:
            pass
    return 1.0
"""
    with RewardSandbox(source, waypoints=WAYPOINTS, limits=FAST) as sandbox:
        with pytest.raises(RewardFunctionError) as caught:
            sandbox.rewards("reinvent_base", [params()])
        assert caught.value.kind == "output"
        with pytest.raises(RewardFunctionError, match="stopped after an earlier error"):
            sandbox.rewards("reinvent_base", [params()])
    still_working(bystander)


# --------------------------------------------------------------------------- time, memory, output
def test_infinite_loop_times_out_with_its_line(bystander):
    source = "def reward_function(params):\n    n = 0\n    while True:\n        n += 1\n"
    started = time.monotonic()
    error = failure(source, bystander)
    assert error.kind == "timeout" and error.line in (3, 4)
    assert "more than 1 s" in str(error)
    assert time.monotonic() - started < 5


def test_a_loop_that_swallows_the_timeout_is_killed_by_the_host(bystander):
    source = ("def reward_function(params):\n    while True:\n        try:\n            while True:\n"
              "                pass\n        except BaseException:\n            pass\n")
    started = time.monotonic()
    error = failure(source, bystander)
    assert error.kind == "timeout" and "did not answer within 2 s for a batch of 1 step" in str(error)
    assert time.monotonic() - started < 6


def test_a_long_call_inside_c_code_is_killed_by_the_host(bystander):
    error = failure("def reward_function(params):\n    return float(sum(range(10 ** 12)))\n", bystander)
    assert error.kind == "timeout"


def test_the_cpu_budget_ends_a_sandbox(bystander):
    limits = SandboxLimits(cpu_s_total=3, wall_s_per_call=60.0, wall_s_per_batch=60.0)
    error = failure("def reward_function(params):\n    return float(sum(range(10 ** 12)))\n", bystander, limits)
    assert error.kind == "timeout" and "used up its CPU time (3 s)" in str(error)


def test_memory_bombs(bystander):
    error = failure("def reward_function(params):\n    x = bytearray(10 ** 11)\n    return 1.0\n", bystander)
    assert error.kind == "memory" and error.line == 2 and "out of memory" in str(error)
    source = ("def reward_function(params):\n    hoard = []\n    while True:\n"
              "        hoard.append(bytearray(10 ** 7))\n")
    error = failure(source, bystander, SandboxLimits(wall_s_per_call=20.0, wall_s_per_batch=30.0))
    assert error.kind == "memory" and error.line == 4


def test_huge_output_is_capped(bystander):
    limits = SandboxLimits(wall_s_per_call=5.0, max_output_bytes=4096)
    source = OS_GLOBALS + """
def reward_function(params):
    print("x" * 10 ** 8)
    for i in range(20000):
        print("line", i)
    os_globals()["write"](1, b"y" * 10 ** 7)  # around the print hook, straight to the pipe
    return 1.0
"""
    with RewardSandbox(source, waypoints=WAYPOINTS, limits=limits) as sandbox:
        assert list(sandbox.rewards("reinvent_base", [params()])) == [1.0]
        time.sleep(0.3)
        output = sandbox.output()
    assert len(output) < 4096 + 200
    assert "dropped" in output
    still_working(bystander)


# --------------------------------------------------------------------------- returns and errors
@pytest.mark.parametrize(("expression", "shown"), [
    ("float('nan')", "nan"), ("float('inf')", "inf"), ("-float('inf')", "-inf"), ("'1.0'", "str '1.0'"),
    ("None", "NoneType None"), ("1e300", "1e+300"), ("-2e5", "-200000.0"), ("[1.0]", "list [1.0]"),
])
def test_bad_returns_are_refused(bystander, expression, shown):
    error = failure(f"def reward_function(params):\n    return {expression}\n", bystander)
    assert error.kind == "bad_return" and shown in str(error)
    assert error.params is not None and error.params["steps"] == 1 and error.step_index == 0


def test_numbers_of_other_types_are_accepted(bystander):
    source = ("import numpy as np\n\ndef reward_function(params):\n"
              "    return [np.float32(0.5), 2, True, np.float64(-1e5)][params['steps'] - 1]\n")
    with RewardSandbox(source, waypoints=WAYPOINTS, limits=FAST) as sandbox:
        values = sandbox.rewards("reinvent_base", [params(i) for i in range(1, 5)])
    assert values.tolist() == [0.5, 2.0, 1.0, -1e5]


def test_huge_and_hostile_exception_messages_are_bounded(bystander):
    error = failure("def reward_function(params):\n    raise ValueError('y' * 10 ** 7)\n", bystander)
    assert error.line == 2 and len(str(error)) < 2500 and "more characters" in str(error)
    source = ("class Nasty(Exception):\n    def __str__(self):\n        raise RuntimeError('no')\n\n"
              "def reward_function(params):\n    raise Nasty()\n")
    error = failure(source, bystander)
    assert error.line == 6 and "Nasty" in str(error) and "could not be read" in str(error)


def test_lone_surrogates_in_messages_become_plain_text(bystander):
    """JSON carries "\\ud800", which no UTF-8 page or jsonb column takes (the version page was a 500)."""
    for source, shown in (("def reward_function(params):\n    raise ValueError('a' + chr(0xD800) + 'b')\n", "a?b"),
                          ("raise ValueError('c' + chr(0xDFFF))\n", "c?"),
                          ("def reward_function(params):\n    return 'x' + chr(0xDC00)\n", "'x\\udc00'")):
        with pytest.raises(RewardFunctionError) as caught, \
                RewardSandbox(source, waypoints=WAYPOINTS, limits=FAST) as sandbox:
            sandbox.rewards("reinvent_base", [params()])
        str(caught.value).encode("utf-8")  # no UnicodeEncodeError
        assert shown in caught.value.message
    still_working(bystander)


def test_modifying_params_affects_neither_the_next_step_nor_the_host(bystander):
    source = """
def reward_function(params):
    seen = (len(params["waypoints"]), params["waypoints"][0], params["closest_waypoints"][:], params["x"])
    params["waypoints"].clear()
    params["closest_waypoints"].append(99)
    params["objects_distance"].append(1.0)
    params["x"] = -1000.0
    params.clear()
    return float(seen[0] + len(seen[2]) / 10 + seen[3] / 1000) if seen[1] == WAYPOINT0 else -1.0
""".replace("WAYPOINT0", repr(TRACK.waypoints[0]))
    batch = [params(i) for i in range(1, 4)]
    shared = batch[0]["waypoints"]
    before = [dict(p) for p in batch]
    with RewardSandbox(source, waypoints=WAYPOINTS, limits=FAST) as sandbox:
        values = sandbox.rewards("reinvent_base", batch)
        again = sandbox.rewards("reinvent_base", batch)
    n = len(TRACK.waypoints)
    assert values.tolist() == again.tolist() == [n + 0.2 + p["x"] / 1000 for p in batch]
    assert batch == before and batch[0]["waypoints"] is shared and len(shared) == n
    still_working(bystander)


def test_sandbox_files_are_not_the_hosts(bystander):
    assert os.path.exists(ROOT / "training" / "rl" / "sandbox_child.py")
    source = OS_GLOBALS + """
def reward_function(params):
    raise ValueError(sorted(os_globals()["listdir"]("/sandbox/site")))
"""
    listing = failure(source, bystander).message
    assert "numpy" in listing and "django" not in listing.lower() and "tensorflow" not in listing
