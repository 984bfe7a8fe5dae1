"""The Drive agent page's donkeycar section: install, calibrate and drive commands that the agent's
own parsers accept, and the donkeycar pilot part's line."""

from __future__ import annotations

import ast
import html as html_lib
import re
import shlex

import pytest

from drive_agent.calibrate import build_parser as calibrate_parser
from drive_agent.cli import build_parser

pytestmark = pytest.mark.django_db


def test_donkeycar_section_commands_parse(client, team_a, make_ready_model):
    ready = make_ready_model(team_a, name="Fast one")
    client.force_login(team_a.captain)
    page = client.get(f"/teams/{team_a.slug}/agent/").content.decode()
    assert 'data-target-section="donkeycar"' in page
    install = html_lib.unescape(re.search(r'data-command="donkeycar-install">(.*?)</pre>', page, re.S).group(1))
    assert re.search(r'pip install "\./pitlane_drive_agent-\S+\.whl\[agent-donkeycar\]"', install)
    assert "--system-site-packages" in install and "python3-picamera2" in install
    calibrate, drive = html_lib.unescape(
        re.search(r'data-command="donkeycar">(.*?)</pre>', page, re.S).group(1)).splitlines()
    argv = shlex.split(calibrate)
    assert argv[:2] == ["drive_agent", "calibrate"]
    cal_args = calibrate_parser().parse_args(argv[2:])
    args = build_parser().parse_args(shlex.split(drive.replace("MODEL_ID", str(ready.pk)))[1:])
    assert args.target == "donkeycar" and args.model_id == ready.pk and args.camera == "pi"
    assert args.donkey_config == cal_args.out and args.server == "http://testserver"
    assert "--target car --camera http://CAR:8080/stream.mjpg --udp CAR:9999" in page
    assert "from drive_agent.donkeycar_part import PitlanePilot" in page and "<code>import os</code>" in page
    # the manage.py line is Python that names nothing a manage.py lacks (MODEL_ID is the reader's)
    part = html_lib.unescape(re.search(r'data-command="donkeycar-part">(.*?)</code>', page, re.S).group(1))
    names = {n.id for n in ast.walk(ast.parse(part)) if isinstance(n, ast.Name)}
    assert names == {"V", "PitlanePilot", "MODEL_ID", "os"}
    assert '"http://testserver"' in part
