"""The served agent wheel declares what pyproject.toml says, read at build time (one list): the
core dependencies plus the `agent` extra, the `agent-*` extras, the script, and the agent's own
requires-python from `[tool.pitlane.agent]` (not the server's: the wheel refused Python 3.12 while
the agent drives fine on it)."""

from __future__ import annotations

import html as html_lib
import io
import re
import tomllib
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

from tests.support.paths import ROOT
from webapp.agent import wheel

pytestmark = pytest.mark.django_db


@pytest.fixture
def pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def served_metadata(client, team) -> tuple[list[str], object]:
    client.force_login(team.captain)
    response = client.get(f"/teams/{team.slug}/agent/wheel/")
    assert response.status_code == 200
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    names = archive.namelist()
    meta = Parser().parsestr(archive.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode())
    return names, meta


def normalise(requirement: str) -> str:
    """One spelling per requirement (specifiers sorted, name canonical, no marker)."""
    req = Requirement(requirement)
    req.marker = None
    req.name = canonicalize_name(req.name)
    return str(req)


def test_the_served_wheel_declares_pyprojects_lists(client, team_a, settings, tmp_path, pyproject):
    settings.VAR_DIR = tmp_path  # build it now
    names, meta = served_metadata(client, team_a)
    project = pyproject["project"]
    extras = project["optional-dependencies"]
    requires = meta.get_all("Requires-Dist")
    core = sorted(normalise(r) for r in requires if "extra ==" not in r)
    assert core == sorted(normalise(r) for r in [*project["dependencies"], *extras["agent"]])
    assert {"scipy", "plotly"} <= {Requirement(r).name for r in core}  # what the old wheel lacked
    assert sorted(meta.get_all("Provides-Extra")) == ["agent-camera", "agent-donkeycar"]
    for extra in ("agent-camera", "agent-donkeycar"):
        declared = sorted(normalise(r) for r in requires if f'extra == "{extra}"' in r)
        assert declared == sorted(normalise(r) for r in extras[extra])
    agent_python = SpecifierSet(pyproject["tool"]["pitlane"]["agent"]["requires-python"])
    assert SpecifierSet(meta["Requires-Python"]) == agent_python
    # what teams run: a current Ubuntu's 3.12 and 3.13 install; the server's own pin does not apply
    assert {"3.11", "3.12", "3.13"} <= {v for v in ("3.10", "3.11", "3.12", "3.13") if v in agent_python}
    assert "simulator/tracks/designs.json" in names


def test_page_shows_the_wheels_python_and_extras(client, team_a, pyproject):
    client.force_login(team_a.captain)
    page = client.get(f"/teams/{team_a.slug}/agent/").content.decode()
    shown = html_lib.unescape(re.search(r"<span data-requires-python>(.*?)</span>", page).group(1))
    assert shown == pyproject["tool"]["pitlane"]["agent"]["requires-python"]
    assert "<code>[agent-camera]</code>, <code>[agent-donkeycar]</code>" in page


def test_metadata_inlines_the_projects_references_to_its_own_extras(tmp_path: Path):
    path = tmp_path / "pyproject.toml"
    path.write_text('[project]\nname = "pitlane"\nrequires-python = ">=3.11,<3.12"\ndependencies = ["numpy>=2"]\n'
                    '[project.optional-dependencies]\nagent = ["requests"]\nagent-camera = ["opencv-python-headless"]\n'
                    'agent-car = ["pitlane[agent-camera]", "pyserial"]\nweb = ["django"]\n'
                    '[project.scripts]\ndrive_agent = "drive_agent.cli:main"\n'
                    '[tool.pitlane.agent]\nrequires-python = ">=3.11,<3.14"\n')
    meta = wheel.metadata(path)
    assert meta.dependencies == ["numpy>=2", "requests"]
    assert meta.extras == {"agent-camera": ["opencv-python-headless"],
                           "agent-car": ["opencv-python-headless", "pyserial"]}
    assert meta.requires_python == ">=3.11,<3.14" and meta.scripts == {"drive_agent": "drive_agent.cli:main"}
    path.write_text('[project]\nname = "pitlane"\ndependencies = []\n')
    with pytest.raises(wheel.WheelBuildError, match="no .* 'agent' extra"):
        wheel.metadata(path)
    # no agent table: no silent fallback to the server's range
    path.write_text('[project]\nname = "pitlane"\nrequires-python = ">=3.11,<3.12"\n'
                    '[project.optional-dependencies]\nagent = ["requests"]\n')
    with pytest.raises(wheel.WheelBuildError, match=r"no \[tool\.pitlane\.agent\] requires-python"):
        wheel.metadata(path)
