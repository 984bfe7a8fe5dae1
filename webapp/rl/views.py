"""RL pages of a team: the training form (a new run or a clone of an RL model), the model's
training page (live charts over the job's websocket, cancel, downloads), its iteration rows as
JSON, the clone plan as JSON, and the published files. Other teams get 404 for every page and file."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.http import FileResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.views.decorators.http import require_POST

from webapp.accounts.selectors import membership_or_404
from webapp.jobs.services import waiting_notice
from webapp.rewards.selectors import trainable_versions_of_team

from . import selectors, services
from .forms import LIMITS, TrainRLForm, advanced_initial, preset_choices, track_choices

STOP_REASONS = {
    "time_limit": "At the time limit", "target_completion": "At the target evaluation completion",
    "max_episodes": "At the episode limit", "avg_score": "At the average reward limit",
}


def _train_form(request, team, data=None) -> TrainRLForm:
    parent = None
    initial: dict = {"name": "DeepRacer PPO"}
    initial_config = None
    if request.GET.get("clone", "").isdigit():
        parent = selectors.rl_model_of_team_or_404(team, int(request.GET["clone"]))
        clone = services.clone_initial(parent)
        initial.update(name=clone["name"], reward_version=clone["reward_version"],
                       advanced_json=advanced_initial(clone["config"]))
        initial_config = clone["config"]
    elif request.GET.get("reward", "").isdigit():
        initial["reward_version"] = int(request.GET["reward"])
    versions = trainable_versions_of_team(team)  # the form's choices; the service checks again
    if "reward_version" not in initial and (newest := versions.order_by("-created").first()):
        initial["reward_version"] = newest.pk
    return TrainRLForm(data, versions=versions,
                       track_choices=track_choices(services.track_names()), initial_config=initial_config,
                       parent=parent, initial=initial)


@login_required
def rl_train(request, team_slug: str):
    team = membership_or_404(request.user, team_slug).team
    form = _train_form(request, team, request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            model = services.start_rl_training(team=team, user=request.user, name=data["name"],
                                               reward_version=data["reward_version"], config=data["config"],
                                               cloned_from=form.parent)
        except ValidationError as exc:
            form.add_service_error(exc)
        else:
            if notice := waiting_notice([model.job]):
                messages.warning(request, notice)
            messages.success(request, f"Training {model.name}.")
            return redirect("rl_model", team.slug, model.pk)
    return render(request, "rl/train.html", {
        "team": team, "form": form, "parent": form.parent, "limits": LIMITS,
        "presets": preset_choices(),
        "has_versions": form.fields["reward_version"].queryset.exists(),
    })


@login_required
@require_POST
def rl_clone_plan(request, team_slug: str):
    """What the clone would keep of its parent under the posted form (the page asks while the
    action space is edited): {"explanation", "changes_action_space"} or {"errors"}."""
    team = membership_or_404(request.user, team_slug).team
    form = _train_form(request, team, request.POST)
    if form.parent is None:
        return JsonResponse({"errors": {"__all__": ["Not a clone."]}}, status=400)
    form.is_valid()
    if "clone_explanation" in form.cleaned_data:
        return JsonResponse({"explanation": form.cleaned_data["clone_explanation"],
                             "changes_action_space": "confirm_head_change" in form.errors})
    return JsonResponse({"errors": form.errors.get_json_data()}, status=400)


@login_required
def rl_model(request, team_slug: str, model_id: int):
    team = membership_or_404(request.user, team_slug).team
    model = selectors.rl_model_of_team_or_404(team, model_id)
    return render(request, "rl/model.html", {
        "team": team, "model": model, "job": model.job, "ready": model.is_ready,
        "reward": selectors.reward_version_of(model), "config_items": selectors.config_items(model),
        "clonable": model.status in services.CLONABLE, "analysis_url": _analysis_url(team, model),
        "stop_reason": STOP_REASONS.get(model.metrics.get("stop_reason"), model.metrics.get("stop_reason")),
    })


def _analysis_url(team, model) -> str:
    """The log-analysis page of the model (webapp/rl/analysis_views.py), when installed."""
    try:
        return reverse("rl_analysis", args=[team.slug, model.pk])
    except NoReverseMatch:
        return ""


@login_required
def rl_history(request, team_slug: str, model_id: int):
    team = membership_or_404(request.user, team_slug).team
    model = selectors.rl_model_of_team_or_404(team, model_id)
    after = request.GET.get("after", "-1")
    after_n = int(after) if after.lstrip("-").isdigit() else -1
    return JsonResponse(selectors.history(model, after_n))


@login_required
def rl_download(request, team_slug: str, model_id: int, what: str):
    team = membership_or_404(request.user, team_slug).team
    model = selectors.rl_model_of_team_or_404(team, model_id)
    name, content_type, filename = selectors.download(model, what)
    return FileResponse(default_storage.open(name), content_type=content_type, as_attachment=True,
                        filename=filename)
