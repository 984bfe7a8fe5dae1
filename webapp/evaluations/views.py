"""Evaluation pages of a team: start from the model page's Evaluations section, follow live, read the
results, download the DeepRacer files, publish to a league event. Every lookup is scoped to the URL's
team (404 else)."""

from __future__ import annotations

import io

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from simulator.car import get_profile
from webapp.accounts.selectors import membership_or_404
from webapp.garage.selectors import model_of_team_or_404, ready_models_of_team
from webapp.jobs.services import waiting_notice

from . import selectors, services
from .forms import EvaluationForm, SubmitForm
from .limits import cached_limit, explain_gap, speed_text
from .plots import load_trace, track_figure
from .tracks import action_speeds_text

DOWNLOADS = {
    "simtrace": ("simtrace", "evaluation-simtrace-0-iteration.csv", "text/csv"),
    "metrics": ("metrics_file", "metrics.json", "application/json"),
    "trace": ("trace_file", "trace.json", "application/json"),
}


@login_required
def evaluation_list(request, team_slug: str):
    team = membership_or_404(request.user, team_slug).team
    context = {"team": team, "evaluations": selectors.evaluations_of_team(team),
               "models": ready_models_of_team(team)}
    return render(request, "evaluations/evaluation_list.html", context)


@login_required
@require_POST
def evaluation_start(request, team_slug: str, model_id: int):
    team = membership_or_404(request.user, team_slug).team
    model = model_of_team_or_404(team, model_id)
    form = EvaluationForm(request.POST, model=model)
    if form.is_valid():
        try:
            evaluation = services.start_evaluation(team=team, user=request.user, model=model, **form.cleaned_data)
        except ValidationError as exc:
            try:
                form.add_error(None, exc)  # on the field it names, when the form has that field
            except ValueError:
                form.add_error(None, " ".join(exc.messages))
        else:
            if notice := waiting_notice([evaluation.job]):
                messages.warning(request, notice)
            messages.success(request, f"Evaluation of “{model.name}” queued.")
            return redirect(evaluation)
    return _model_page_with_form(request, team_slug, model, form)


def _model_page_with_form(request, team_slug: str, model, form):
    """The model page again, its evaluation form showing what was posted and why it was refused; the
    first refused field has autofocus, so the browser scrolls to it. (A fragment in the form's action
    would stick to the evaluation page's URL after a successful start's redirect.)"""
    from webapp.garage.views import model_detail
    from webapp.rl.views import rl_model

    if not model.is_ready:  # its page shows no form to carry the errors
        messages.error(request, " ".join(str(e) for errors in form.errors.values() for e in errors))
        return redirect(f"{model.get_absolute_url()}#evaluations")
    first_error = next((name for name in form.errors if name in form.fields), None)
    if first_error:
        form.fields[first_error].widget.attrs["autofocus"] = True
    request.evaluation_form = form
    page = rl_model if model.kind == model.Kind.REINFORCEMENT else model_detail
    response = page(request, team_slug, model.pk)
    response.status_code = 400
    return response


@login_required
def evaluation_detail(request, team_slug: str, evaluation_id: int):
    team = membership_or_404(request.user, team_slug).team
    evaluation = selectors.evaluation_of_team_or_404(team, evaluation_id)
    trace = load_trace(evaluation) if evaluation.is_done else None
    events = selectors.submittable_events(evaluation) if evaluation.is_done else None
    limit = cached_limit(evaluation.track, evaluation.direction, evaluation.profile)
    set_speed = services.set_speed_ms(evaluation)
    gap = explain_gap(evaluation.best_lap_s, limit.lap_time_s if limit else None,
                      limit.line_length_m if limit else None, set_speed)
    context = {
        "team": team, "evaluation": evaluation, "job": evaluation.job,
        "figure": track_figure(evaluation, trace) if trace else None,
        "limit": limit,
        "action_speeds": action_speeds_text(evaluation.model.card),
        "gap": gap,
        "set_speed_text": speed_text(set_speed, evaluation.profile) if set_speed else None,
        "top_speed_text": speed_text(get_profile(evaluation.profile).top_speed, evaluation.profile),
        "variation": evaluation.summary.get("variation") if evaluation.is_done else None,
        "submit_form": SubmitForm(events=events) if events is not None and events.exists() else None,
        "register_for": (selectors.events_to_register_for(evaluation, request.user)[:5]
                         if evaluation.is_done else []),
        "submissions": evaluation.submissions.select_related("event", "event__league"),
    }
    return render(request, "evaluations/evaluation_detail.html", context)


@login_required
def evaluation_file(request, team_slug: str, evaluation_id: int, kind: str):
    team = membership_or_404(request.user, team_slug).team
    evaluation = selectors.evaluation_of_team_or_404(team, evaluation_id)
    if kind == "drfc":
        try:
            archive = services.drfc_archive(evaluation)
        except ValidationError as exc:
            raise Http404(" ".join(exc.messages)) from None
        return FileResponse(io.BytesIO(archive), as_attachment=True, content_type="application/zip",
                            filename=f"evaluation-{evaluation.pk}-deepracer-for-cloud.zip")
    if kind not in DOWNLOADS:
        raise Http404
    attr, filename, content_type = DOWNLOADS[kind]
    field = getattr(evaluation, attr)
    if not field:
        raise Http404("This evaluation has no such file (yet).")
    return FileResponse(field.open("rb"), as_attachment=True, content_type=content_type,
                        filename=f"evaluation-{evaluation.pk}-{filename}")


@login_required
@require_POST
def evaluation_submit(request, team_slug: str, evaluation_id: int):
    team = membership_or_404(request.user, team_slug).team
    evaluation = selectors.evaluation_of_team_or_404(team, evaluation_id)
    form = SubmitForm(request.POST, events=selectors.submittable_events(evaluation))
    if not form.is_valid():
        messages.error(request, "Choose an open virtual event your team is registered for.")
        return redirect(evaluation)
    event = form.cleaned_data["event"]
    try:
        submission = services.submit_to_event(evaluation=evaluation, event=event, user=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect(evaluation)
    messages.success(request, f"{submission.lap_count} laps published to {event.name}.")
    return redirect(event)
