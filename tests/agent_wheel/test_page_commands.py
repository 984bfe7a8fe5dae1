"""The Drive agent page's commands, run as a team would run them: the wheel downloaded through the
page's link, installed by the page's install block into a fresh virtualenv (its requirements
resolved by pip from the package index, nothing borrowed from the test environment), then every
drive command the page prints, against this live test server and stand-ins for what is not a
computer here (a Udacity simulator client, a DeepRacer console).

The page's set of commands is pinned: a command added to the page fails here until it is run."""

from __future__ import annotations

import html as html_lib
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.drive_agent.fake_deepracer import FakeDeepRacer
from tests.drive_agent.test_deepracer_target import recorded_drive
from webapp.api.services import issue_token

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

TOKEN_PLACEHOLDER = "plt_...your-token..."
CAR_IP = "192.168.1.20"
CAR_PASSWORD = "s3cret-car"
PAGE_COMMANDS = {"install", "download", "token", "udacity", "sim", "deepracer", "donkeycar-install", "donkeycar",
                 "donkeycar-part"}


def page_commands(html: str) -> list[tuple[str, str]]:
    """(kind, text) of every command block on the page, in order."""
    return [(kind, html_lib.unescape(text)) for kind, text, _ in
            re.findall(r'data-command="([\w-]+)">(.*?)</(pre|code)>', html, re.S)]


def shell_env() -> dict[str, str]:
    """The team's shell: `python` is this interpreter (the supported version), no PITLANE_* or
    DEEPRACER_* from the test environment, no PYTHONPATH into this repository."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PITLANE_", "DEEPRACER_", "VIRTUAL_ENV", "PYTHON", "DJANGO"))}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONUNBUFFERED"] = "1"
    return env


def bash(script: str, cwd: Path, timeout: float, **popen) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "-ec", script], cwd=cwd, env=shell_env(), capture_output=True, text=True,
                          timeout=timeout, **popen)


def download_wheel(client, team, folder: Path) -> Path:
    response = client.get(f"/teams/{team.slug}/agent/wheel/")
    assert response.status_code == 200, response.content[:500]
    name = response["Content-Disposition"].split("filename=")[1].strip('"')
    path = folder / name
    path.write_bytes(b"".join(response.streaming_content))
    return path


@pytest.fixture
def agent_page(client, team_a, make_ready_model, live_server, tmp_path):
    """(commands, workdir, model, token secret, html): the page as served to the captain (with the live
    server's address as the commands' server) and the downloaded wheel in `workdir`."""
    model = make_ready_model(team_a, name="Fast one")
    client.force_login(team_a.captain)
    response = client.get(f"/teams/{team_a.slug}/agent/", HTTP_HOST=live_server.url.split("//")[1])
    html = response.content.decode()
    wheel = download_wheel(client, team_a, tmp_path)
    assert f"pip install ./{wheel.name}" in html
    _, secret = issue_token(team=team_a, user=team_a.captain, name="laptop")
    return page_commands(html), tmp_path, model, secret, html


def test_every_command_on_the_agent_page_runs_from_the_served_wheel(agent_page, live_server):
    commands, work, model, secret, html = agent_page
    kinds = {kind for kind, _ in commands}
    assert kinds == PAGE_COMMANDS, "a command on the agent page is not run by this test"
    by_kind: dict[str, list[str]] = {}
    for kind, text in commands:
        by_kind.setdefault(kind, []).append(text)

    # 1. Install: the page's block verbatim, in a folder holding the downloaded wheel.
    [install] = by_kind["install"]
    done = bash(install, work, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    venv_python = work / "pitlane-agent" / "bin" / "python"
    # a clean virtualenv: the repository is not importable from it, only the installed wheel
    where = subprocess.run([str(venv_python), "-c", "import drive_agent, simulator; print(drive_agent.__file__)"],
                           cwd=work, env=shell_env(), capture_output=True, text=True, timeout=60)
    assert "site-packages" in where.stdout and str(Path(__file__).parents[2]) not in where.stdout

    # 2. The token block, with the team's real token where the page shows its placeholder.
    [token] = by_kind["token"]
    assert TOKEN_PLACEHOLDER in token and f"PITLANE_SERVER={live_server.url}" in token
    shell = f". pitlane-agent/bin/activate\n{token.replace(TOKEN_PLACEHOLDER, secret)}\n"

    # 2b. The headless download (a car's Pi, no browser): curl with the token fetches the same wheel;
    #     without a valid token curl fails (401) and leaves no wheel behind.
    [download] = by_kind["download"]
    [wheel] = work.glob("*.whl")
    headless = work / "headless"
    headless.mkdir()
    done = bash(f"{token.replace(TOKEN_PLACEHOLDER, secret)}\n{download}", headless, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    assert [p.name for p in headless.iterdir()] == [wheel.name]
    assert (headless / wheel.name).read_bytes() == wheel.read_bytes()
    (headless / wheel.name).unlink()
    done = bash(f"{token.replace(TOKEN_PLACEHOLDER, 'plt_revoked-or-never-issued')}\n{download}", headless, timeout=120)
    assert done.returncode == 22 and "401" in done.stderr, done.stderr[-3000:]
    assert not (headless / wheel.name).exists() or (headless / wheel.name).stat().st_size == 0

    # 3. Our simulator: three trials and the lap plot, then the summary with the best single lap.
    [sim] = by_kind["sim"]
    done = bash(shell + sim, work, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    assert re.search(r"^pitlane_loop: completion [\d.]+ %, best lap [\d.]+ s \(trial \d lap 1\)", done.stdout, re.M)
    assert len(re.findall(r"^trial \d: ", done.stdout, re.M)) == 3
    plot = (work / "laps.html").read_text()
    assert "Plotly.newPlot" in plot and not re.search(r"<script[^>]*\bsrc=[\"']?(https?:)?//", plot, re.I)

    # 4. The Udacity simulator: the agent listens on 4567; a client that talks like the simulator drives.
    [udacity] = by_kind["udacity"]
    run_udacity(shell + "exec " + udacity, work)

    # 5. The DeepRacer commands (the model's row and the section's block) against a fake console.
    for block in by_kind["deepracer"]:
        run_deepracer(shell + block.replace("MODEL_ID", str(model.pk)), work)

    # 6. The donkeycar pilot part's line, in a manage.py-like script with the installed agent.
    [part] = by_kind["donkeycar-part"]
    imports = re.findall(r"<code>((?:import|from) [^<]+)</code>", html)  # what the page says to import
    assert "from drive_agent.donkeycar_part import PitlanePilot" in imports
    script = ("import numpy as np\n" + "".join(f"{line}\n" for line in imports) +
              "class Vehicle:\n    def __init__(self):\n        self.parts = []\n"
              "    def add(self, part, **wiring):\n        self.parts.append((part, wiring))\n"
              f"V = Vehicle()\nMODEL_ID = {model.pk}\n{part}\n"
              "pilot, wiring = V.parts[0]\n"
              "angle, throttle = pilot.run(np.full((120, 160, 3), 90, dtype=np.uint8))\n"
              "print('part', wiring['outputs'], -1 <= angle <= 1, -1 <= throttle <= 1)\n")
    (work / "manage_like.py").write_text(script)
    done = bash(shell + "python manage_like.py", work, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "part ['pilot/angle', 'pilot/throttle'] True True" in done.stdout

    # 7. The donkeycar install block (without the Pi's apt line) with the wheel's agent-donkeycar extra,
    #    then its commands as far as a machine without the car's I2C bus and Pi camera goes.
    [donkey_install] = by_kind["donkeycar-install"]
    apt, *pip_lines = donkey_install.splitlines()
    assert apt == "sudo apt install python3-picamera2"
    done = bash("\n".join(pip_lines) + "\npython -c 'import adafruit_pca9685, adafruit_extended_bus'", work,
                timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    calibrate, drive = by_kind["donkeycar"][0].splitlines()
    missing = []
    for command in (calibrate, drive.replace("MODEL_ID", str(model.pk))):
        done = bash(shell + command, work, timeout=120, stdin=subprocess.DEVNULL)
        # no car here: one line saying what is missing, never a missing module or a traceback
        assert "Traceback" not in done.stderr and "ModuleNotFoundError" not in done.stderr, done.stderr[-3000:]
        lines = [line for line in done.stderr.splitlines() if not line.startswith("INFO: Created TensorFlow Lite")]
        assert done.returncode == 2 and len(lines) == 1 and "error" in lines[0], done.stderr
        missing.append(lines[0])
    assert "donkeycar.toml not found" in missing[1], missing


def run_udacity(script: str, work: Path) -> None:
    from simulator.track import load_track
    from simulator.udacity_client import UdacityClient

    proc = subprocess.Popen(["bash", "-ec", script], cwd=work, env=shell_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        assert "waiting for the Udacity simulator on ws://127.0.0.1:4567/" in line, line + proc.stderr.read()
        client = UdacityClient(load_track("pitlane_loop_road"), port=4567, ping_interval_s=0.002)
        stats = client.run(max_frames=30, timeout_s=60, idle_timeout_s=15)
        assert stats.frames == 30 and stats.steers >= 29, stats
        time.sleep(0.2)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err[-3000:]
    assert re.search(r"latency over (29|30) frames", out), out + err


def run_deepracer(script: str, work: Path) -> None:
    car = FakeDeepRacer(recorded_drive(), password=CAR_PASSWORD, fps=12.0, loop_frames=False)
    try:
        script = script.replace(CAR_IP, car.address).replace("PASSWORD_UNDER_THE_CAR", CAR_PASSWORD)
        if "DEEPRACER_PASSWORD=" not in script:
            script = f"export DEEPRACER_PASSWORD={CAR_PASSWORD}\n{script}"
        done = bash(script, work, timeout=120)
    finally:
        car.stop()
    # the fake car's stream ends after its recorded frames: the agent drove them, then stopped the car
    assert done.returncode == 2 and "closed the camera stream" in done.stderr, done.stdout[-2000:] + done.stderr
    assert "Traceback" not in done.stderr
    assert len(car.drives()) >= 10
    assert car.commands[-1].path == "/api/start_stop" and car.commands[-1].body == {"start_stop": "stop"}
