"""Tags for the "Evaluations" section that the model page includes with only `model` in hand."""

from django import template

from ..forms import EvaluationForm
from ..selectors import evaluations_of_model

register = template.Library()


@register.simple_tag
def evaluations_for(model):
    return evaluations_of_model(model)


@register.simple_tag
def evaluation_form_for(model):
    return EvaluationForm(model=model)
