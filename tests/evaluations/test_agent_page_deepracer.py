"""The Drive agent page's DeepRacer section: the exact `--target deepracer` command per ready
DeepRacer-camera model of the team, one the agent's own parser accepts."""

from __future__ import annotations

import html as html_lib
import re
import shlex

import pytest

from drive_agent.cli import build_parser
from webapp.garage.models import TrainedModel

pytestmark = pytest.mark.django_db


def test_deepracer_commands_for_the_teams_models(client, team_a, team_b, make_ready_model):
    ready = make_ready_model(team_a, name="Fast one")
    training = make_ready_model(team_a, name="Still training", status=TrainedModel.Status.TRAINING)
    foreign = make_ready_model(team_b, name="Bravo secret")
    client.force_login(team_a.captain)
    page = client.get(f"/teams/{team_a.slug}/agent/").content.decode()
    commands = [html_lib.unescape(c) for c in re.findall(r'data-command="deepracer">(.*?)</pre>', page, re.S)]
    assert len(commands) == 2 and 'data-target-section="deepracer"' in page
    row = commands[0]
    assert row == (f"drive_agent --model-id {ready.pk} --server http://testserver --token $PITLANE_TOKEN "
                   "--target deepracer --car-ip 192.168.1.20 --car-password $DEEPRACER_PASSWORD")
    assert f"--model-id {training.pk} " not in " ".join(commands) and f"--model-id {foreign.pk} " not in page
    for command in (row, commands[1].splitlines()[-1].replace("MODEL_ID", str(ready.pk))):
        args = build_parser().parse_args(shlex.split(command)[1:])
        assert args.target == "deepracer" and args.car_ip == "192.168.1.20" and args.model_id == ready.pk
    assert "DeepRacer car (.tar.gz)" in page
    # the whole block pastes into a shell: every line is complete (no stray quote such as "car's")
    export = commands[1].splitlines()[0]
    assert shlex.split(export) == ["export", "DEEPRACER_PASSWORD=PASSWORD_UNDER_THE_CAR"]
    for block in commands:
        shlex.split(block)
