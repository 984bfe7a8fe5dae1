"""Model pages of a team: training form (single run or grid), model page with plots and heat
maps, grid ranking, Inception weights. Other teams get 404 for every page and file."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_POST

from webapp.accounts.selectors import membership_or_404
from webapp.datasets.selectors import ready_datasets_of_team
from webapp.jobs.services import waiting_notice

from . import selectors, services
from .forms import TrainForm

FIGURES = [
    ("loss", "Loss and validation loss per epoch"),
    ("predictions_over_time", "Predicted and true steering over the validation frames"),
    ("predicted_vs_true", "Predicted against true steering"),
    ("error_histogram", "Prediction error"),
]


@login_required
def model_list(request, team_slug: str):
    team = membership_or_404(request.user, team_slug).team
    return render(request, "garage/model_list.html", {"team": team, "models": selectors.models_of_team(team)})


def _train_form(request, team, data=None):
    initial, initial_config, cloned = {"name": "PilotNet", "recovery_mode": "include", "recovery_weight": 1}, None, None
    if request.GET.get("clone", "").isdigit():
        cloned = selectors.model_of_team_or_404(team, int(request.GET["clone"]))
        if cloned.kind == cloned.Kind.REINFORCEMENT:
            raise Http404("An RL model is cloned on the RL training page.")
        initial.update(services.clone_initial(cloned))
        initial_config = cloned.config
    elif request.GET.get("dataset", "").isdigit():
        initial["datasets"] = [int(request.GET["dataset"])]
    form = TrainForm(data, team=team, datasets_qs=ready_datasets_of_team(team),
                     weights_qs=selectors.weights_of_team(team), initial_config=initial_config, initial=initial)
    return form, cloned


@login_required
def model_train(request, team_slug: str):
    team = membership_or_404(request.user, team_slug).team
    form, cloned = _train_form(request, team, request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            runs = services.start_training(
                team=team, user=request.user, name=data["name"], datasets=data["datasets"],
                configs=data["configs"], grid=data["grid"], weights=data.get("weights") or "none",
                recovery_mode=data["recovery_mode"], recovery_weight=data["recovery_weight"], cloned_from=cloned)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            if notice := waiting_notice([run.job for run in runs]):
                messages.warning(request, notice)
            if len(runs) == 1:
                messages.success(request, f"Training {runs[0].name}.")
                return redirect(runs[0])
            messages.success(request, f"Grid search: {len(runs)} training jobs queued.")
            return redirect("model_group", team.slug, runs[0].group_key)
    return render(request, "garage/model_train.html", {"team": team, "form": form, "cloned": cloned})


@login_required
def model_detail(request, team_slug: str, model_id: int):
    team = membership_or_404(request.user, team_slug).team
    model = selectors.model_of_team_or_404(team, model_id)
    if model.kind == model.Kind.REINFORCEMENT:  # its page is the RL app's (live charts, downloads)
        return redirect("rl_model", team.slug, model.pk)
    ready = model.is_ready
    return render(request, "garage/model_detail.html", {
        "team": team, "model": model, "job": model.job, "ready": ready,
        "figures": FIGURES if ready else [], "datasets": model.datasets.all(),
        "heatmaps": list(enumerate(model.artifacts.get("heatmaps", {}).get("png", []))) if ready else [],
        "has_gif": ready and bool(model.artifacts.get("heatmaps", {}).get("gif")),
        "config_items": sorted(model.config.items()),
    })


@login_required
def model_figure(request, team_slug: str, model_id: int, name: str):
    team = membership_or_404(request.user, team_slug).team
    model = selectors.model_of_team_or_404(team, model_id)
    return JsonResponse(selectors.figure(model, name))


@login_required
@cache_control(private=True, max_age=3600)
def model_heatmap(request, team_slug: str, model_id: int, index: int):
    team = membership_or_404(request.user, team_slug).team
    model = selectors.model_of_team_or_404(team, model_id)
    return FileResponse(default_storage.open(selectors.heatmap_name(model, index)), content_type="image/png")


@login_required
@cache_control(private=True, max_age=3600)
def model_heatmap_gif(request, team_slug: str, model_id: int):
    team = membership_or_404(request.user, team_slug).team
    model = selectors.model_of_team_or_404(team, model_id)
    return FileResponse(default_storage.open(selectors.heatmap_name(model, None)), content_type="image/gif")


@login_required
def model_download(request, team_slug: str, model_id: int, artifact: str):
    team = membership_or_404(request.user, team_slug).team
    model = selectors.model_of_team_or_404(team, model_id)
    name, content_type, filename = selectors.download(model, artifact)
    return FileResponse(default_storage.open(name), content_type=content_type, as_attachment=True,
                        filename=filename)


@login_required
def model_group(request, team_slug: str, group_key: str):
    team = membership_or_404(request.user, team_slug).team
    runs = selectors.group_of_team(team, group_key)
    return render(request, "garage/model_group.html", {"team": team, "runs": runs, "group_key": group_key})


@login_required
def weights_list(request, team_slug: str):
    team = membership_or_404(request.user, team_slug).team
    if request.method == "POST":
        uploaded = request.FILES.get("file")
        if uploaded is None:
            messages.error(request, "Choose a weights file (.h5).")
        else:
            try:
                weights = services.upload_weights(team=team, user=request.user, uploaded=uploaded,
                                                  name=request.POST.get("name", ""))
                messages.success(request, f"Uploaded {weights.name}.")
            except ValidationError as exc:
                messages.error(request, " ".join(exc.messages))
        return redirect("weights_list", team.slug)
    return render(request, "garage/weights.html", {"team": team, "weights": selectors.weights_of_team(team)})


@login_required
@require_POST
def weights_delete(request, team_slug: str, weights_id: int):
    team = membership_or_404(request.user, team_slug).team
    services.delete_weights(weights=selectors.weights_of_team_or_404(team, weights_id))
    messages.info(request, "Weights deleted.")
    return redirect("weights_list", team.slug)
