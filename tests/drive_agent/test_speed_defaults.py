"""One default set speed: the drive agent's CLI, a site evaluation left blank, the evaluation form,
the agent page and `drive_agent --help` all give the same figure for each car."""

from __future__ import annotations

import json
import re
from types import SimpleNamespace

import pytest

from drive_agent.cli import build_parser, speed_policy
from drive_agent.evaluation import make_loop
from drive_agent.model_card import parse_model_card
from drive_agent.speed import default_set_speed
from tests.drive_agent.helpers import load_tiny
from webapp.evaluations.forms import EvaluationForm


@pytest.fixture
def cards(tiny_models, tiny_steering_model):
    """A Udacity-camera and a DeepRacer-camera steering model's cards."""
    return {"udacity": json.loads((tiny_models / "regression_float.json").read_text()),
            "deepracer": json.loads(tiny_steering_model[1].read_text())}


@pytest.mark.parametrize("profile", ["udacity", "deepracer"])
def test_cli_site_and_form_share_one_default(cards, tiny_models, tiny_steering_model, profile):
    card = cards[profile]
    args = build_parser().parse_args(["--model-id", "1", "--target", "sim", "--track", "pitlane_loop"])
    cli = speed_policy(args, parse_model_card(card)).set_speed
    if profile == "udacity":
        model, _ = load_tiny(tiny_models, "regression_float")
    else:
        model = tiny_steering_model[0]
    site = make_loop(model).speed.set_speed  # what an evaluation with a blank set speed drives at
    form = EvaluationForm(model=SimpleNamespace(card=card, pk=1)).fields["set_speed"].initial
    assert cli == site == form == default_set_speed(profile)


def test_the_udacity_default_is_the_sites_15_mph_not_9():
    assert default_set_speed("udacity") == 15.0 and default_set_speed("deepracer") == 1.5


def test_help_and_agent_page_show_the_defaults(client, team_a, make_ready_model, db):
    help_text = " ".join(build_parser().format_help().split())
    assert "(default 15 mph)" in help_text and "(default 1.5 m/s)" in help_text
    make_ready_model(team_a)
    client.force_login(team_a.captain)
    page = client.get(f"/teams/{team_a.slug}/agent/").content.decode()
    line = re.search(r"data-default-speeds>(.*?)</p>", page, re.S).group(1)
    assert "15 mph" in line and "1.5 m/s" in line
