"""Tags for the "Evaluations" section that the model page includes with only `model` in hand."""

from django import template

from ..forms import EvaluationForm
from ..selectors import evaluations_of_model, models_for_event
from ..tracks import track_facts

register = template.Library()


@register.filter
def completion(result) -> int | None:
    """Completion of an evaluation summary or one of its trials, in whole percent: the number
    metrics.json holds (simulator.simtrace.completion_percentage, round half to even)."""
    from ..services import completion_percent

    return completion_percent(result)


@register.simple_tag
def evaluations_for(model):
    return evaluations_of_model(model)


@register.simple_tag(takes_context=True)
def evaluation_form_for(context, model):
    """The model page's evaluation form: the one just posted, with its errors and values, when the
    page is re-rendered by evaluation_start (request.evaluation_form); else a fresh one."""
    request = context.get("request")
    posted = getattr(request, "evaluation_form", None)
    if posted is not None and getattr(posted, "model_id", None) == model.pk:
        return posted
    return EvaluationForm(model=model)


@register.simple_tag
def event_track_facts(event):
    """{"scale", "length"} of a built-in track, or None."""
    facts = track_facts(event.track)
    return {"scale": facts[0], "length": facts[1]} if facts else None


@register.simple_tag
def event_models_for(event, team):
    return models_for_event(team, event) if team is not None else []
