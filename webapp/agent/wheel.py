"""Builds the drive-agent wheel from this repository on demand and caches it.

Why: teams install the agent on a laptop or a car's computer with one `pip install`, and the wheel
must carry exactly the code this server runs (the same preprocessing and control loop the
evaluations used). It packages only drive_agent/ and simulator/ (no Django, no TensorFlow); the
cache key is a hash of their sources and of the wheel's metadata, so a deployment with new code or
new requirements builds a new wheel.

The wheel's metadata is read from the repository's pyproject.toml at build time, so there is one
list of requirements: its dependencies are `project.dependencies` (what simulator/ needs) plus the
`agent` extra (the TFLite runtime, requests); its extras are the `agent-*` extras (`agent-camera`,
`agent-donkeycar`); the console scripts, the build system and the package data are pyproject's
too. Its requires-python is the `[tool.pitlane.agent]` table's, not the project's: the server pins
one Python, while teams install the agent on whatever their laptop or car runs (3.12 on a current
Ubuntu), so the agent's range is its own and is stated there only.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings

import drive_agent

PACKAGES = ("drive_agent", "simulator")
DIST_NAME = "pitlane-drive-agent"
AGENT_EXTRA = "agent"
AGENT_TABLE = ("tool", "pitlane", "agent")
EXTRA_PREFIX = "agent-"


class WheelBuildError(RuntimeError):
    """pip could not build the wheel (or pyproject.toml cannot describe it); the message says why."""


@dataclass(frozen=True)
class WheelMetadata:
    """What the agent wheel declares, as read from pyproject.toml."""

    dependencies: list[str]
    extras: dict[str, list[str]]
    requires_python: str
    scripts: dict[str, str]
    package_data: dict[str, list[str]]
    build_requires: list[str]
    build_backend: str


def _pyproject_path() -> Path:
    return Path(settings.BASE_DIR) / "pyproject.toml"


def metadata(pyproject: Path | None = None) -> WheelMetadata:
    """The agent wheel's metadata derived from `pyproject` (default: the repository's)."""
    path = pyproject or _pyproject_path()
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise WheelBuildError(f"cannot read {path}: {exc}") from exc
    project = data.get("project", {})
    name = project.get("name", "")
    optional: dict[str, list[str]] = project.get("optional-dependencies", {})
    if AGENT_EXTRA not in optional:
        raise WheelBuildError(f"{path} has no [project.optional-dependencies] {AGENT_EXTRA!r} extra")

    def expand(requirements: list[str], seen: tuple[str, ...] = ()) -> list[str]:
        """Requirements with the project's references to its own extras (`pitlane[agent]`) inlined."""
        out: list[str] = []
        for requirement in requirements:
            match = re.fullmatch(rf"\s*{re.escape(name)}\s*\[([^\]]+)\]\s*", requirement) if name else None
            if match is None:
                out.append(requirement)
                continue
            for extra in (e.strip() for e in match.group(1).split(",")):
                if extra not in seen:
                    out += expand(optional.get(extra, []), (*seen, extra))
        return list(dict.fromkeys(out))

    agent_table = data
    for key in AGENT_TABLE:
        agent_table = agent_table.get(key, {}) if isinstance(agent_table, dict) else {}
    requires_python = agent_table.get("requires-python") if isinstance(agent_table, dict) else None
    if not isinstance(requires_python, str) or not requires_python.strip():
        raise WheelBuildError(f"{path} has no [{'.'.join(AGENT_TABLE)}] requires-python (the agent's Python range)")
    build = data.get("build-system", {})
    return WheelMetadata(
        dependencies=expand([*project.get("dependencies", []), *optional[AGENT_EXTRA]]),
        extras={extra: expand(reqs, (extra,)) for extra, reqs in optional.items() if extra.startswith(EXTRA_PREFIX)},
        requires_python=requires_python.strip(),
        scripts=dict(project.get("scripts", {})),
        package_data=dict(data.get("tool", {}).get("setuptools", {}).get("package-data", {})),
        build_requires=list(build.get("requires", ["setuptools", "wheel"])),
        build_backend=build.get("build-backend", "setuptools.build_meta"),
    )


def _toml_list(values: list[str]) -> str:
    return "[" + ", ".join(json.dumps(v) for v in values) + "]"  # a JSON string is a TOML basic string


def _pyproject(meta: WheelMetadata | None = None) -> str:
    """The pyproject.toml of the agent wheel's build."""
    meta = meta or metadata()
    lines = [
        "[build-system]", f"requires = {_toml_list(meta.build_requires)}",
        f"build-backend = {json.dumps(meta.build_backend)}", "",
        "[project]", f"name = {json.dumps(DIST_NAME)}", f"version = {json.dumps(drive_agent.__version__)}",
        'description = "Pitlane drive agent: runs a team model in the Udacity simulator, our simulator or a car."',
    ]
    if meta.requires_python:
        lines.append(f"requires-python = {json.dumps(meta.requires_python)}")
    lines += [f"dependencies = {_toml_list(meta.dependencies)}", ""]
    if meta.extras:
        lines.append("[project.optional-dependencies]")
        lines += [f"{json.dumps(extra)} = {_toml_list(reqs)}" for extra, reqs in meta.extras.items()]
        lines.append("")
    if meta.scripts:
        lines.append("[project.scripts]")
        lines += [f"{json.dumps(script)} = {json.dumps(target)}" for script, target in meta.scripts.items()]
        lines.append("")
    lines += ["[tool.setuptools.packages.find]", f"include = {_toml_list([f'{p}*' for p in PACKAGES])}", ""]
    if meta.package_data:
        lines.append("[tool.setuptools.package-data]")
        lines += [f"{json.dumps(pkg)} = {_toml_list(globs)}" for pkg, globs in meta.package_data.items()]
        lines.append("")
    return "\n".join(lines)


def wheel_name() -> str:
    """The file name pip gives the wheel (what the install command names)."""
    return f"{DIST_NAME.replace('-', '_')}-{drive_agent.__version__}-py3-none-any.whl"


def _source_files() -> list[Path]:
    files = []
    for package in PACKAGES:
        root = Path(settings.BASE_DIR) / package
        files += [p for p in sorted(root.rglob("*")) if p.is_file() and "__pycache__" not in p.parts
                  and p.suffix not in {".pyc", ".pyo"}]
    return files


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


def describe() -> dict[str, Any]:
    """What the agent page says about the wheel: its file name, Python versions and extras."""
    try:
        meta = metadata()
    except WheelBuildError:
        return {"wheel_name": wheel_name(), "requires_python": "", "extras": []}
    return {"wheel_name": wheel_name(), "requires_python": meta.requires_python, "extras": sorted(meta.extras)}
