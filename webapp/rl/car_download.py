"""The DeepRacer car's model upload of a ready RL model (`model_<pk>.tar.gz`: model_metadata.json +
agent/model.pb, made by `services.publish_car_archive`): a thin view over a team-scoped lookup."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404

from webapp.accounts.selectors import membership_or_404
from webapp.garage.models import TrainedModel

from . import selectors

CAR_ARCHIVE = "car_archive"


def car_archive_name(model: TrainedModel) -> str:
    """The storage name of a ready model's car archive; 404 when it has none (not ready, or a
    model the car cannot run, such as a frame stack)."""
    relative = model.artifacts.get(CAR_ARCHIVE) if model.is_ready else None
    if not relative:
        raise Http404
    return model.artifact_name(relative)


@login_required
def rl_car_download(request, team_slug: str, model_id: int):
    team = membership_or_404(request.user, team_slug).team
    model = selectors.rl_model_of_team_or_404(team, model_id)
    return FileResponse(default_storage.open(car_archive_name(model)), content_type="application/gzip",
                        as_attachment=True, filename=f"model_{model.pk}.tar.gz")
