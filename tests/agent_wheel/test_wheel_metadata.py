"""The served agent wheel declares what pyproject.toml says, read at build time (one list): the
core dependencies plus the `agent` extra, the `agent-*` extras, requires-python and the script."""

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
    assert SpecifierSet(meta["Requires-Python"]) == SpecifierSet(project["requires-python"])
    assert "simulator/tracks/designs.json" in names


def test_page_shows_the_wheels_python_and_extras(client, team_a, pyproject):
    client.force_login(team_a.captain)
    page = client.get(f"/teams/{team_a.slug}/agent/").content.decode()
    shown = html_lib.unescape(re.search(r"<span data-requires-python>(.*?)</span>", page).group(1))
    assert shown == pyproject["project"]["requires-python"]
    assert "<code>[agent-camera]</code>, <code>[agent-donkeycar]</code>" in page


def test_metadata_inlines_the_projects_references_to_its_own_extras(tmp_path: Path):
    path = tmp_path / "pyproject.toml"
    path.write_text('[project]\nname = "pitlane"\nrequires-python = ">=3.11"\ndependencies = ["numpy>=2"]\n'
                    '[project.optional-dependencies]\nagent = ["requests"]\nagent-camera = ["opencv-python-headless"]\n'
                    'agent-car = ["pitlane[agent-camera]", "pyserial"]\nweb = ["django"]\n'
                    '[project.scripts]\ndrive_agent = "drive_agent.cli:main"\n')
    meta = wheel.metadata(path)
    assert meta.dependencies == ["numpy>=2", "requests"]
    assert meta.extras == {"agent-camera": ["opencv-python-headless"],
                           "agent-car": ["opencv-python-headless", "pyserial"]}
    assert meta.requires_python == ">=3.11" and meta.scripts == {"drive_agent": "drive_agent.cli:main"}
    path.write_text('[project]\nname = "pitlane"\ndependencies = []\n')
    with pytest.raises(wheel.WheelBuildError, match="no .* 'agent' extra"):
        wheel.metadata(path)
