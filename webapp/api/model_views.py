"""Model download API for the drive agent (contract in docs/architecture.md and drive_agent/fetch.py):
list, detail (card + checksum + download URL) and the TFLite bytes. Team-scoped: another team's
model is 404; a model without an exported TFLite file is 409 with the reason."""

from __future__ import annotations

import hashlib

from django.http import FileResponse
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.generics import ListAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from webapp.garage.models import TrainedModel
from webapp.garage.selectors import model_of_teams_or_404, models_of_teams

from .permissions import api_teams

SHA256_HEADER = "X-Checksum-SHA256"


class ModelSerializer(serializers.ModelSerializer):
    team = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    ready = serializers.BooleanField(source="is_ready", read_only=True)
    tflite_url = serializers.SerializerMethodField()

    class Meta:
        model = TrainedModel
        fields = ["id", "name", "kind", "status", "ready", "team", "created", "card", "tflite_sha256", "tflite_url"]
        read_only_fields = fields

    def get_tflite_url(self, model) -> str | None:
        return reverse("api_model_tflite", args=[model.pk]) if model.is_ready else None


def _not_ready(model: TrainedModel) -> Response:
    return Response({"detail": f"Model {model.pk} (“{model.name}”) is not ready to drive: its status is "
                               f"{model.get_status_display().lower()} and it has "
                               f"{'a' if model.tflite else 'no'} TFLite file.",
                     "status": model.status}, status=status.HTTP_409_CONFLICT)


def _sha256_of(model: TrainedModel) -> str:
    if model.tflite_sha256:
        return model.tflite_sha256
    digest = hashlib.sha256()
    with model.tflite.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


class ModelList(ListAPIView):
    """The models of the credential's teams, newest first; `ready` says which can be downloaded."""

    serializer_class = ModelSerializer

    def get_queryset(self):
        ready_only = self.request.query_params.get("ready") in {"1", "true"}
        return models_of_teams(api_teams(self.request), ready_only=ready_only).order_by("-created")


class ModelDetail(APIView):
    @extend_schema(responses={200: ModelSerializer, 404: None, 409: None})
    def get(self, request, pk: int):
        model = model_of_teams_or_404(api_teams(request), pk)
        if not model.is_ready:
            return _not_ready(model)
        data = ModelSerializer(model).data
        data["tflite_sha256"] = _sha256_of(model)
        return Response(data)


class ModelTflite(APIView):
    @extend_schema(responses={(200, "application/octet-stream"): OpenApiTypes.BINARY, 404: None, 409: None})
    def get(self, request, pk: int):
        model = model_of_teams_or_404(api_teams(request), pk)
        if not model.is_ready:
            return _not_ready(model)
        sha256 = _sha256_of(model)
        response = FileResponse(model.tflite.open("rb"), as_attachment=True, filename=f"model-{model.pk}.tflite",
                                content_type="application/octet-stream")
        response[SHA256_HEADER] = sha256
        response["ETag"] = f'"{sha256}"'
        return response
