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
from .forms import EvaluateBestForm, TrainForm, field_label, ignored_fields

FIGURES = [
    ("loss", "Loss and validation loss per epoch"),
    ("predicted_vs_true", "Predicted against true steering"),
    ("error_histogram", "Prediction error"),
]
#: Shown across the page's full width (one segment per validation block, with a range slider).
WIDE_FIGURES = [
    ("predictions_over_time", "Predicted and true steering over the validation frames"),
]


@login_required
def model_list(request, team_slug: str):
    from webapp.evaluations.selectors import latest_done_evaluations

    team = membership_or_404(request.user, team_slug).team
    models = list(selectors.models_of_team(team))
    latest = latest_done_evaluations(team)
    for model in models:
        model.latest_evaluation = latest.get(model.pk)
    return render(request, "garage/model_list.html", {"team": team, "models": models})


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
    return render(request, "garage/model_train.html", {
        "team": team, "form": form, "cloned": cloned,
        "cloned_deleted": services.deleted_datasets(cloned) if cloned else []})


@login_required
def model_detail(request, team_slug: str, model_id: int):
    team = membership_or_404(request.user, team_slug).team
    model = selectors.model_of_team_or_404(team, model_id)
    if model.kind == model.Kind.REINFORCEMENT:  # its page is the RL app's (live charts, downloads)
        return redirect("rl_model", team.slug, model.pk)
    ready = model.is_ready
    heatmaps = model.artifacts.get("heatmaps", {})
    labels = heatmaps.get("labels", [])
    pngs = heatmaps.get("png", []) if ready else []
    return render(request, "garage/model_detail.html", {
        "team": team, "model": model, "job": model.job, "ready": ready,
        "live_chart": model.status == model.Status.TRAINING,
        "figures": FIGURES if ready else [], "wide_figures": WIDE_FIGURES if ready else [],
        "training_data": services.training_data(model), "validation": selectors.validation_facts(model),
        "heatmaps": [(i, name, labels[i] if i < len(labels) else None) for i, name in enumerate(pngs)],
        "has_gif": ready and bool(heatmaps.get("gif")),
        "config_items": sorted((k, v) for k, v in model.config.items()
                               if k not in ignored_fields([model.config.get("architecture")])),
    })


@login_required
def model_history(request, team_slug: str, model_id: int):
    team = membership_or_404(request.user, team_slug).team
    model = selectors.model_of_team_or_404(team, model_id)
    return JsonResponse(selectors.training_history(model))


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


def _evaluate_best_form(runs, data=None):
    ready = [run for run in runs if run.is_ready]
    return EvaluateBestForm(data, model=ready[0], ready_count=len(ready)) if ready else None


@login_required
def model_group(request, team_slug: str, group_key: str):
    team = membership_or_404(request.user, team_slug).team
    runs = selectors.group_of_team(team, group_key)
    return _render_group(request, team, group_key, runs, _evaluate_best_form(runs))


def _render_group(request, team, group_key, runs, form):
    varied, rows = selectors.grid_rows(runs)
    losses = {run.config.get("loss") for run in runs}
    return render(request, "garage/model_group.html", {
        "team": team, "runs": runs, "rows": rows, "varied": varied, "group_key": group_key,
        "varied_labels": [(name, field_label(name)) for name in varied],
        "evaluate_form": form, "loss_is_mae": losses == {"mae"}})


@login_required
@require_POST
def model_group_evaluate(request, team_slug: str, group_key: str):
    team = membership_or_404(request.user, team_slug).team
    runs = selectors.group_of_team(team, group_key)
    form = _evaluate_best_form(runs, request.POST)
    if form is None:
        messages.error(request, "No run of this grid is ready to drive yet.")
        return redirect("model_group", team.slug, group_key)
    if form.is_valid():
        try:
            evaluations = services.evaluate_best(team=team, user=request.user, group_key=group_key,
                                                 count=form.cleaned_data["count"], **form.evaluation_options())
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            if notice := waiting_notice([e.job for e in evaluations]):
                messages.warning(request, notice)
            messages.success(request, f"{len(evaluations)} evaluations queued: the best "
                                      f"{len(evaluations)} runs on {form.cleaned_data['track']}.")
            return redirect("evaluation_list", team.slug)
    return _render_group(request, team, group_key, runs, form)


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
