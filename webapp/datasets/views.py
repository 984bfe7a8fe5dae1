"""Dataset pages of a team. Uploads stream to disk (LimitedDiskUploadHandler); ingestion runs as
a job; every page, figure and frame answers 404 to people outside the team."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.http import FileResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import cache_control
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_http_methods, require_POST

from webapp.accounts.selectors import membership_or_404
from webapp.jobs.services import waiting_notice

from . import chunked, selectors, services
from .forms import RecoveryForm, UploadForm
from .upload import LimitedDiskUploadHandler


@login_required
def dataset_list(request, team_slug: str):
    team = membership_or_404(request.user, team_slug).team
    return render(request, "datasets/dataset_list.html", {
        "team": team, "datasets": selectors.datasets_of_team(team), "form": UploadForm(),
        "max_upload": settings.PITLANE_DATASET_MAX_UPLOAD_BYTES,
        "chunk_bytes": settings.PITLANE_UPLOAD_CHUNK_BYTES,
    })


@login_required
@require_POST
@csrf_exempt
def dataset_upload(request, team_slug: str):
    """Check membership and swap in the streaming handler before anything reads the body; the
    CSRF check (which parses the body) follows in `_receive_upload`."""
    team = membership_or_404(request.user, team_slug).team
    handler = LimitedDiskUploadHandler(request)
    request.upload_handlers = [handler]
    return _receive_upload(request, team, handler)


@csrf_protect
def _receive_upload(request, team, handler: LimitedDiskUploadHandler):
    wants_json = request.headers.get("x-requested-with") == "XMLHttpRequest"
    form = UploadForm(request.POST, request.FILES)
    error = None
    if handler.too_large:
        error = handler.too_large_message(reverse("dataset_upload_chunk", args=[team.slug]))
    elif handler.refusal:
        error = handler.refusal
    elif not form.is_valid():
        error = " ".join(e for errors in form.errors.values() for e in errors)
    else:
        try:
            dataset = services.accept_upload(team=team, user=request.user, uploaded=form.cleaned_data["file"],
                                             name=form.cleaned_data["name"])
        except ValidationError as exc:
            error = " ".join(exc.messages)
    uploaded = request.FILES.get("file")
    if error and uploaded is not None and hasattr(uploaded, "path"):
        uploaded.close()
        uploaded.path.unlink(missing_ok=True)
    if error:
        if wants_json:
            return JsonResponse({"error": error}, status=400)
        messages.error(request, error)
        return redirect("dataset_list", team.slug)
    _tell_if_ingest_waits(request, dataset)
    if wants_json:
        return JsonResponse({"dataset_id": dataset.pk, "redirect": dataset.get_absolute_url()}, status=201)
    messages.success(request, f"Uploaded {dataset.source_name}; ingesting it now.")
    return redirect(dataset)


def _tell_if_ingest_waits(request, dataset) -> None:
    """The warning the training page gives when the job queue is unreachable: the ingest job is
    saved and starts once the queue is back."""
    if dataset.job is not None and (notice := waiting_notice([dataset.job])):
        messages.warning(request, notice)


@login_required
@require_http_methods(["GET", "POST", "DELETE"])
def dataset_upload_chunk(request, team_slug: str):
    """POST: one piece of a chunked upload (raw bytes; position and size in the query string).
    GET: how many bytes of `upload_id` the server has, so an interrupted upload can resume.
    DELETE: give up an unfinished upload (it no longer counts against the team's quota).
    A refused chunk answers `chunked.ChunkRefused.status` (400, 409, 413 or 429) and its body."""
    team = membership_or_404(request.user, team_slug).team
    query = request.GET
    upload_id = query.get("upload_id", "")
    try:
        if request.method == "GET":
            return JsonResponse({"received": chunked.received_bytes(team=team, upload_id=upload_id)})
        if request.method == "DELETE":
            if not chunked.discard_upload(team=team, upload_id=upload_id):
                raise chunked.UploadConflict("A chunk of this upload is being written; try again.", retry=True)
            return JsonResponse({"received": 0})
        try:
            offset, total = int(query.get("offset", "")), int(query.get("total", ""))
        except ValueError:
            return JsonResponse({"error": "offset and total must be whole numbers of bytes."}, status=400)
        result = chunked.append_chunk(team=team, user=request.user, upload_id=upload_id, offset=offset,
                                      total=total, filename=query.get("filename", ""), name=query.get("name", ""),
                                      stream=request)
    except chunked.ChunkRefused as exc:
        return JsonResponse(exc.body(), status=exc.status)
    except ValidationError as exc:
        return JsonResponse({"error": " ".join(exc.messages)}, status=400)
    if result.dataset is None:
        return JsonResponse({"received": result.received})
    _tell_if_ingest_waits(request, result.dataset)
    messages.success(request, f"Uploaded {result.dataset.source_name}; ingesting it now.")
    return JsonResponse({"received": result.received, "dataset_id": result.dataset.pk,
                         "redirect": result.dataset.get_absolute_url()}, status=201)


@login_required
def dataset_detail(request, team_slug: str, dataset_id: int):
    team = membership_or_404(request.user, team_slug).team
    dataset = selectors.dataset_of_team_or_404(team, dataset_id)
    return render(request, "datasets/dataset_detail.html", {
        "team": team, "dataset": dataset, "job": dataset.job, "recoveries": dataset.recoveries.all(),
        "recovery_form": RecoveryForm(), "report": dataset.report,
    })


@login_required
def dataset_figure(request, team_slug: str, dataset_id: int, name: str):
    team = membership_or_404(request.user, team_slug).team
    dataset = selectors.dataset_of_team_or_404(team, dataset_id)
    return JsonResponse(selectors.figure(dataset, name))


@login_required
def dataset_thinning(request, team_slug: str, dataset_id: int):
    """The steering histogram before and after keeping `keep` (0..1) of the straight frames, with
    the counts; `seed` as the training configuration's (thinning is what training does)."""
    team = membership_or_404(request.user, team_slug).team
    dataset = selectors.dataset_of_team_or_404(team, dataset_id)
    keep = selectors.parse_keep_fraction(request.GET.get("keep"))
    seed = selectors.parse_seed(request.GET.get("seed"))
    return JsonResponse(selectors.thinning_figure(dataset, keep, seed))


@login_required
@cache_control(private=True, max_age=3600)
def dataset_sample(request, team_slug: str, dataset_id: int, index: int):
    team = membership_or_404(request.user, team_slug).team
    dataset = selectors.dataset_of_team_or_404(team, dataset_id)
    return FileResponse(default_storage.open(selectors.sample_storage_name(dataset, index)),
                        content_type="image/jpeg")


@login_required
@require_POST
def recovery_add(request, team_slug: str, dataset_id: int):
    team = membership_or_404(request.user, team_slug).team
    dataset = selectors.dataset_of_team_or_404(team, dataset_id)
    form = RecoveryForm(request.POST)
    if form.is_valid():
        try:
            segment = services.add_recovery(dataset=dataset, user=request.user, **form.cleaned_data)
            messages.success(request, f"Marked frames {segment.start}–{segment.end} as a recovery.")
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
    else:
        messages.error(request, "Give the first and last frame of the recovery.")
    return redirect(dataset)


@login_required
@require_POST
def recovery_delete(request, team_slug: str, dataset_id: int, segment_id: int):
    team = membership_or_404(request.user, team_slug).team
    dataset = selectors.dataset_of_team_or_404(team, dataset_id)
    services.delete_recovery(segment=selectors.recovery_of_dataset_or_404(dataset, segment_id))
    messages.info(request, "Recovery segment removed.")
    return redirect(dataset)


@login_required
@require_POST
def dataset_delete(request, team_slug: str, dataset_id: int):
    team = membership_or_404(request.user, team_slug).team
    dataset = selectors.dataset_of_team_or_404(team, dataset_id)
    name = dataset.name
    services.delete_dataset(dataset=dataset)
    messages.info(request, f"Deleted dataset {name}.")
    return redirect("dataset_list", team.slug)
