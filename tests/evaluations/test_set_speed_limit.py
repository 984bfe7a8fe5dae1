"""The set-speed bound of an evaluation is the car's top speed (simulator.car), in the unit the
evaluation takes for that car (mph for the Udacity car, m/s for DeepRacer): the service enforces
it, and the form and the model field show the same numbers."""

import pytest
from django.core.exceptions import ValidationError

from simulator.car import DEEPRACER, MPH, UDACITY
from webapp.evaluations.forms import EvaluationForm
from webapp.evaluations.models import Evaluation, max_set_speed, set_speed_unit
from webapp.evaluations.services import start_evaluation
from webapp.evaluations.tracks import profile_for_card, tracks_for_profile

pytestmark = pytest.mark.django_db  # jobs are sent on commit, which a test transaction never reaches


@pytest.fixture
def model_for(make_ready_model, team_a):
    def make(profile: str):
        model = make_ready_model(team_a)
        camera = "udacity_center" if profile == "udacity" else "deepracer_front"
        model.card = {**model.card, "input": {**model.card["input"], "camera": camera}}
        model.save(update_fields=["card"])
        assert profile_for_card(model.card) == profile
        return model

    return make


def test_the_limit_is_the_cars_top_speed_in_its_unit():
    assert max_set_speed("deepracer") == DEEPRACER.max_speed and set_speed_unit("deepracer") == "m/s"
    assert max_set_speed("udacity") == pytest.approx(UDACITY.max_speed / MPH) and set_speed_unit("udacity") == "mph"
    field = Evaluation._meta.get_field("set_speed")
    assert max(v.limit_value for v in field.validators if hasattr(v, "limit_value")) == max_set_speed("udacity")


def _start(team, model, set_speed):
    profile = profile_for_card(model.card)
    return start_evaluation(team=team, user=team.captain, model=model, track=tracks_for_profile(profile)[0],
                            direction="counterclockwise", trials=1, off_track_penalty_s=2.0, time_limit_s=60,
                            set_speed=set_speed)


@pytest.mark.parametrize("profile", ["deepracer", "udacity"])
def test_the_service_refuses_a_speed_above_the_cars_limit_and_accepts_the_limit(team_a, model_for, profile):
    model = model_for(profile)
    limit = max_set_speed(profile)
    with pytest.raises(ValidationError) as refused:
        _start(team_a, model, limit + 0.5)
    assert "set_speed" in refused.value.message_dict
    assert not Evaluation.objects.exists()
    evaluation = _start(team_a, model, limit)
    assert evaluation.set_speed == limit and evaluation.profile == profile


@pytest.mark.parametrize("profile", ["deepracer", "udacity"])
def test_the_form_shows_the_same_bound(team_a, model_for, profile):
    model = model_for(profile)
    limit = max_set_speed(profile)
    form = EvaluationForm(model=model)
    field = form.fields["set_speed"]
    assert field.max_value == limit
    assert field.label == f"Set speed ({set_speed_unit(profile)}, up to {limit:g})"
    assert f'max="{limit:g}"' in str(form["set_speed"]) or f'max="{limit}"' in str(form["set_speed"])
    data = {"track": tracks_for_profile(profile)[0], "direction": "counterclockwise", "trials": 1,
            "off_track_penalty_s": 2, "time_limit_s": 60}
    assert EvaluationForm({**data, "set_speed": limit}, model=model).is_valid()
    assert not EvaluationForm({**data, "set_speed": limit + 0.5}, model=model).is_valid()
