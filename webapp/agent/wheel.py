"""Builds the drive-agent wheel from this repository on demand and caches it.

Why: teams install the agent on a laptop or a car's computer with one `pip install`, and the wheel
must carry exactly the code this server runs (the same preprocessing and control loop the
evaluations used). It packages only drive_agent/ and simulator/ (no Django, no TensorFlow); the
cache key is a hash of their sources, so a deployment with new code builds a new wheel.
"""

from __future__ import annotations

import fcntl
import hashlib
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from django.conf import settings

import drive_agent

PACKAGES = ("drive_agent", "simulator")
DIST_NAME = "pitlane-drive-agent"
DEPENDENCIES = ["numpy", "pillow", "python-socketio[client]", "simple-websocket", "websocket-client", "requests",
                "ai-edge-litert"]
PACKAGE_DATA = ["*.json", "*.npy", "*.html", "*.txt"]


class WheelBuildError(RuntimeError):
    """pip could not build the wheel; the message carries pip's last lines."""


def _source_files() -> list[Path]:
    files = []
    for package in PACKAGES:
        root = Path(settings.BASE_DIR) / package
        files += [p for p in sorted(root.rglob("*")) if p.is_file() and "__pycache__" not in p.parts
                  and p.suffix not in {".pyc", ".pyo"}]
    return files


def _pyproject() -> str:
    deps = ", ".join(f'"{d}"' for d in DEPENDENCIES)
    data = ", ".join(f'"{d}"' for d in PACKAGE_DATA)
    return (
        '[build-system]\nrequires = ["setuptools>=69", "wheel"]\nbuild-backend = "setuptools.build_meta"\n\n'
        f'[project]\nname = "{DIST_NAME}"\nversion = "{drive_agent.__version__}"\n'
        'description = "Pitlane drive agent: runs a team model in the Udacity simulator, our simulator or a car."\n'
        f'requires-python = ">=3.10"\ndependencies = [{deps}]\n\n'
        '[project.scripts]\ndrive_agent = "drive_agent.cli:main"\n\n'
        f'[tool.setuptools.packages.find]\ninclude = [{", ".join(f"{chr(34)}{p}*{chr(34)}" for p in PACKAGES)}]\n\n'
        f'[tool.setuptools.package-data]\n"*" = [{data}]\n'
    )


def wheel_name() -> str:
    """The file name pip gives the wheel (what the install command names)."""
    return f"{DIST_NAME.replace('-', '_')}-{drive_agent.__version__}-py3-none-any.whl"


def source_key() -> str:
    digest = hashlib.sha256(_pyproject().encode())
    base = Path(settings.BASE_DIR)
    for path in _source_files():
        digest.update(str(path.relative_to(base)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def wheel_dir() -> Path:
    return Path(settings.VAR_DIR) / "agent-wheel"


def agent_wheel() -> Path:
    """The wheel for the current sources, built (once, under a file lock) when missing."""
    folder = wheel_dir() / source_key()
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        found = sorted(folder.glob("*.whl"))
        if found:
            return found[0]
        return _build(folder)


def _build(folder: Path) -> Path:
    base = Path(settings.BASE_DIR)
    with tempfile.TemporaryDirectory(prefix="agent-wheel-") as tmp:
        src = Path(tmp) / "src"
        for package in PACKAGES:
            shutil.copytree(base / package, src / package, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        (src / "pyproject.toml").write_text(_pyproject())
        out = Path(tmp) / "dist"
        proc = subprocess.run(
            [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
             "--quiet", "--wheel-dir", str(out), str(src)],
            capture_output=True, text=True, timeout=300,
        )
        built = sorted(out.glob("*.whl")) if out.exists() else []
        if proc.returncode != 0 or not built:
            tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-5:])
            raise WheelBuildError(f"pip wheel failed ({proc.returncode}): {tail}")
        target = folder / built[0].name
        shutil.move(str(built[0]), target)
    return target
