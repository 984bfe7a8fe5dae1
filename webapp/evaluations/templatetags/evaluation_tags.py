"""Tags for the "Evaluations" section that the model page includes with only `model` in hand."""

from django import template

from ..forms import EvaluationForm
from ..selectors import evaluations_of_model, models_for_event
from ..tracks import track_facts

register = template.Library()


@register.simple_tag
def evaluations_for(model):
    return evaluations_of_model(model)


@register.simple_tag
def evaluation_form_for(model):
    return EvaluationForm(model=model)


@register.simple_tag
def event_track_facts(event):
    """{"scale", "length"} of a built-in track, or None."""
    facts = track_facts(event.track)
    return {"scale": facts[0], "length": facts[1]} if facts else None


@register.simple_tag
def event_models_for(event, team):
    return models_for_event(team, event) if team is not None else []
