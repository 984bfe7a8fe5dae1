"""The agent wheel installs and drives on the Pythons teams run, not only on the server's 3.11: it
refused 3.12 (it carried the server's `<3.12`), although the agent drives fine there. For each
newer interpreter this machine has (skipped where it has none): the served wheel says it supports
it, pip installs it into a fresh venv of that Python (requirements from the package index), then
`drive_agent --help` and a short drive in our simulator with a lap plot."""

from __future__ import annotations

import glob
import io
import re
import shutil
import subprocess
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest
from packaging.specifiers import SpecifierSet

from tests.agent_wheel.test_page_commands import shell_env

pytestmark = [pytest.mark.slow, pytest.mark.django_db]


def interpreter(version: str) -> str | None:
    """A working python3.X: on PATH (a pyenv shim there may not run it), else a pyenv build of it."""
    builds = sorted(glob.glob(str(Path.home() / ".pyenv" / "versions" / f"{version}.*" / "bin" / f"python{version}")))
    for candidate in [shutil.which(f"python{version}"), *reversed(builds)]:
        if candidate is None:
            continue
        probe = subprocess.run([candidate, "-c", "import sys, venv; print('%d.%d' % sys.version_info[:2])"],
                               env=shell_env(), capture_output=True, text=True, timeout=30)
        if probe.returncode == 0 and probe.stdout.strip() == version:
            return candidate
    return None


@pytest.mark.parametrize("version", ["3.12", "3.13"])
def test_the_wheel_installs_and_drives_on_a_newer_python(version, client, team_a, settings, tmp_path,
                                                         tiny_steering_model):
    python = interpreter(version)
    if python is None:
        pytest.skip(f"no python{version} on this machine")
    settings.VAR_DIR = tmp_path / "var"
    client.force_login(team_a.captain)
    response = client.get(f"/teams/{team_a.slug}/agent/wheel/")
    assert response.status_code == 200
    data = b"".join(response.streaming_content)
    wheel = tmp_path / response["Content-Disposition"].split("filename=")[1].strip('"')
    wheel.write_bytes(data)
    archive = zipfile.ZipFile(io.BytesIO(data))
    meta = Parser().parsestr(archive.read(next(n for n in archive.namelist()
                                               if n.endswith(".dist-info/METADATA"))).decode())
    assert version in SpecifierSet(meta["Requires-Python"])

    env = shell_env()
    venv = tmp_path / "agent-venv"
    done = subprocess.run([python, "-m", "venv", str(venv)], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    done = subprocess.run([str(venv / "bin" / "pip"), "install", "--quiet", str(wheel)], env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    agent = str(venv / "bin" / "drive_agent")
    done = subprocess.run([agent, "--help"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "--target" in done.stdout, done.stderr
    where = subprocess.run([str(venv / "bin" / "python"), "-c", "import sys, drive_agent; "
                            "print(sys.version_info[:2], drive_agent.__file__)"],
                           cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert f"({version.replace('.', ', ')})" in where.stdout and "site-packages" in where.stdout, where

    model, card = tiny_steering_model
    plot = tmp_path / "laps.html"
    done = subprocess.run([agent, "--model-file", str(model), "--card", str(card), "--target", "sim",
                           "--track", "pitlane_loop", "--max-time", "8", "--plot", "laps.html"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    assert re.search(r"^pitlane_loop: completion [\d.]+ %", done.stdout, re.M), done.stdout
    assert f"lap plot: {plot}" in done.stdout
    assert "Plotly.newPlot" in plot.read_text()
