"""Reward function pages of a team: the list, a new function (blank, example or upload), the editor
on one version (save a new version, save and validate on a track, the last report with its heat
map), the diff between two versions and the download. Another team gets 404 for every page.

Validation runs the team's code in a sandbox process (services.validate_version): this view only
waits for it, in Daphne's thread pool, and a busy server answers 429."""

from __future__ import annotations

import json

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from webapp.accounts.selectors import membership_or_404

from . import plots, selectors, services
from .forms import EditForm, NewRewardForm
from .models import MAX_SOURCE_BYTES

#: The synthetic cars of `training.rl.reward_check.synthetic_cars`, as the page names them.
CAR_TITLES = {
    "start": ("Start", "on the start line, centred, 1 m/s, step 2"),
    "mid_lap": ("Mid-lap", "halfway round, 40 % of the half width off centre, 8° off heading, 2.5 m/s, steering 15°"),
    "off_track": ("Off track", "30 % round, beyond the right border, 25° off heading, 1.5 m/s, steering -30°"),
    "finishing": ("Finishing", "on the finish line, progress 100 %, 3 m/s, step 180"),
}

ISSUE_KINDS = {"syntax": "syntax error", "undefined_name": "undefined name", "not_allowed": "not allowed",
               "signature": "signature", "runtime": "reward function error", "sandbox": "sandbox"}


def _pretty(params) -> str:
    return json.dumps(params, indent=2, sort_keys=True, default=str) if params is not None else ""


def _issue_rows(report: dict) -> list[dict]:
    rows = []
    for issue in report.get("issues", []):
        step = issue.get("step")
        where = (f"synthetic car: {CAR_TITLES.get(step, (step,))[0]}" if isinstance(step, str)
                 else f"preview step {step}" if isinstance(step, int) else "")
        rows.append({**issue, "where": where, "params_json": _pretty(issue.get("params")),
                     "kind_label": ISSUE_KINDS.get(issue.get("kind", ""), issue.get("kind", ""))})
    return rows


def _car_rows(report: dict) -> list[dict]:
    return [{**car, "title": CAR_TITLES.get(car["name"], (car["name"], ""))[0],
             "description": CAR_TITLES.get(car["name"], ("", ""))[1], "params_json": _pretty(car.get("params"))}
            for car in report.get("cars", [])]


@login_required
def reward_list(request, team_slug: str):
    team = membership_or_404(request.user, team_slug).team
    show_archived = request.GET.get("archived") == "1"
    return render(request, "rewards/reward_list.html", {
        "team": team, "functions": selectors.functions_of_team(team, archived=show_archived),
        "show_archived": show_archived,
    })


@login_required
def reward_new(request, team_slug: str):
    team = membership_or_404(request.user, team_slug).team
    initial = {"start": request.GET["example"]} if request.GET.get("example") else {}
    form = NewRewardForm(request.POST or None, request.FILES or None, team=team, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            function = services.create_function(team=team, user=request.user, name=data["name"],
                                                 source=data["source"])
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, f"Created {function.name} (version 1). Validate it before training with it.")
            return redirect(selectors.latest_version(function))
    return render(request, "rewards/reward_new.html", {"team": team, "form": form, "examples": form.examples})


@login_required
def reward_detail(request, team_slug: str, function_id: int):
    team = membership_or_404(request.user, team_slug).team
    function = selectors.function_of_team_or_404(team, function_id)
    return redirect(selectors.latest_version(function))


def _version_page(request, team, function, version, form=None, *, status: int = 200, validation_error: str = ""):
    report = version.validation or {}
    preview = report.get("preview") or []
    figures = None
    if preview and version.validated_track:
        figures = {"heatmap": plots.heatmap_figure(version.validated_track, preview),
                   "trace": plots.trace_figure(preview)}
    versions = list(selectors.versions_of(function))
    latest = versions[0]
    form = form or EditForm(initial={"source": version.source, "track": version.validated_track or None})
    return render(request, "rewards/reward_version.html", {
        "team": team, "function": function, "version": version, "versions": versions, "latest": latest,
        "form": form, "report": report, "figures": figures, "validation_error": validation_error,
        "issues": _issue_rows(report), "cars": _car_rows(report), "preview_steps": services.PREVIEW_STEPS,
        "rewarded_steps": sum(1 for step in preview if step.get("reward") is not None),
        "max_source_bytes": MAX_SOURCE_BYTES,
    }, status=status)


@login_required
def reward_version(request, team_slug: str, function_id: int, number: int):
    """The editor on one version. POST saves the editor's text as a new version (unless unchanged)
    and, with action=validate, validates the saved version on the chosen track."""
    team = membership_or_404(request.user, team_slug).team
    function = selectors.function_of_team_or_404(team, function_id)
    version = selectors.version_of_function_or_404(function, number)
    if request.method != "POST":
        return _version_page(request, team, function, version)
    form = EditForm(request.POST)
    if not form.is_valid():
        return _version_page(request, team, function, version, form, status=400)
    saved, created = services.save_version(function=function, user=request.user, source=form.cleaned_data["source"])
    if created:
        messages.success(request, f"Saved version {saved.number}.")
    elif form.cleaned_data.get("action") != EditForm.VALIDATE:
        messages.info(request, f"No changes: version {saved.number} already holds this code.")
    if form.cleaned_data.get("action") == EditForm.VALIDATE:
        track = form.cleaned_data.get("track") or services.DEFAULT_TRACK
        try:
            services.validate_version(saved, track)
        except ValidationError as exc:
            return _version_page(request, team, function, saved, status=400, validation_error=" ".join(exc.messages))
        except services.ValidationBusy as exc:
            return _version_page(request, team, function, saved, status=429, validation_error=str(exc))
        except services.ValidationUnavailable as exc:
            return _version_page(request, team, function, saved, status=503,
                                 validation_error=f"Reward functions cannot be validated on this server: {exc}")
        if saved.ok:
            messages.success(request, f"Version {saved.number} passed validation on {track}.")
        else:
            messages.error(request, f"Version {saved.number} failed validation on {track}: see the issues below.")
        return redirect(saved.get_absolute_url() + "#validation")
    return redirect(saved)


@login_required
@require_POST
def reward_upload(request, team_slug: str, function_id: int):
    """A `.py` file uploaded as the function's next version (the same checks as a new function's)."""
    team = membership_or_404(request.user, team_slug).team
    function = selectors.function_of_team_or_404(team, function_id)
    uploaded = request.FILES.get("file")
    if uploaded is None:
        messages.error(request, "Choose a .py file to upload.")
        return redirect(selectors.latest_version(function))
    try:
        version, created = services.save_version(function=function, user=request.user,
                                                 source=services.read_upload(uploaded))
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect(selectors.latest_version(function))
    if created:
        messages.success(request, f"Uploaded {uploaded.name} as version {version.number}.")
    else:
        messages.info(request, f"{uploaded.name} holds the same code as version {version.number}: nothing new saved.")
    return redirect(version)


@login_required
def reward_download(request, team_slug: str, function_id: int, number: int):
    team = membership_or_404(request.user, team_slug).team
    version = selectors.version_of_function_or_404(selectors.function_of_team_or_404(team, function_id), number)
    response = HttpResponse(version.source.encode("utf-8"), content_type="text/x-python; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{version.filename}"'
    response["X-Checksum-SHA256"] = version.sha256
    return response


@login_required
def reward_diff(request, team_slug: str, function_id: int):
    team = membership_or_404(request.user, team_slug).team
    function = selectors.function_of_team_or_404(team, function_id)
    versions = list(selectors.versions_of(function))
    latest = versions[0]

    def number(key: str, default: int) -> int:
        value = request.GET.get(key, "")
        # isdigit() alone takes "²" or "٣", which int() refuses or reads as another number
        return int(value) if value.isascii() and value.isdigit() else default

    new = selectors.version_of_function_or_404(function, number("to", latest.number))
    old = selectors.version_of_function_or_404(function, number("from", max(1, new.number - 1)))
    return render(request, "rewards/reward_diff.html", {
        "team": team, "function": function, "versions": versions, "old": old, "new": new,
        "same": old.sha256 == new.sha256, "table": selectors.diff_table(old, new),
        "unified": selectors.unified_diff(old, new),
    })


@login_required
@require_POST
def reward_archive(request, team_slug: str, function_id: int):
    team = membership_or_404(request.user, team_slug).team
    function = selectors.function_of_team_or_404(team, function_id)
    archive = request.POST.get("archived", "1") == "1"
    services.set_archived(function, archive)
    messages.info(request, f"{function.name} {'archived' if archive else 'restored'}.")
    return redirect("reward_list", team.slug)
