"""REST API v1: thin views over selectors and services."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import connection
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.decorators import api_view, authentication_classes, permission_classes
from rest_framework.generics import ListAPIView, RetrieveAPIView
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from webapp.jobs.selectors import job_of_teams_or_404, jobs_of_teams
from webapp.jobs.services import request_cancel

from .permissions import api_teams
from .serializers import JobSerializer, TeamSerializer


@extend_schema(
    responses=inline_serializer("Health", {"status": serializers.CharField(), "database": serializers.CharField(),
                                           "redis": serializers.CharField()}),
)
@api_view(["GET"])
@authentication_classes([])
@permission_classes([AllowAny])
def health(request):
    """Liveness for load balancers and the drive agent: the database and Redis answer."""
    checks = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        checks["database"] = "ok"
    except Exception as exc:  # noqa: BLE001
        checks["database"] = f"error: {exc}"
    try:
        import redis
        from django.conf import settings

        redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2).ping()
        checks["redis"] = "ok"
    except Exception as exc:  # noqa: BLE001
        checks["redis"] = f"error: {exc}"
    healthy = all(v == "ok" for v in checks.values())
    return Response({"status": "ok" if healthy else "degraded", **checks},
                    status=status.HTTP_200_OK if healthy else status.HTTP_503_SERVICE_UNAVAILABLE)


class TeamList(ListAPIView):
    """The teams this credential may act for (a team token: exactly its team)."""

    serializer_class = TeamSerializer

    def get_queryset(self):
        return api_teams(self.request).order_by("name")


class JobList(ListAPIView):
    serializer_class = JobSerializer

    def get_queryset(self):
        params = self.request.query_params
        return jobs_of_teams(api_teams(self.request), status=params.get("status"), kind=params.get("kind"))


class JobDetail(RetrieveAPIView):
    serializer_class = JobSerializer

    def get_queryset(self):
        return jobs_of_teams(api_teams(self.request))


class JobCancel(APIView):
    @extend_schema(request=None, responses=JobSerializer)
    def post(self, request, pk: int):
        job = job_of_teams_or_404(api_teams(request), pk)
        try:
            job = request_cancel(job=job)
        except ValidationError as exc:
            return Response({"detail": " ".join(exc.messages)}, status=status.HTTP_409_CONFLICT)
        return Response(JobSerializer(job).data)
