"""Lap-timer API: `POST /api/v1/timer/crossings/` with `Authorization: Device pld_...` and JSON
{crossing_id, device_time_us, sensor}. A device token belongs to one event; the crossing goes to the
team on track in that event (`race.ingest_crossing`). 201 for a new crossing, 200 with the first
answer for a repeated id, 401 for a wrong or revoked token."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import authentication, exceptions, parsers, serializers, status
from rest_framework.permissions import BasePermission
from rest_framework.response import Response
from rest_framework.views import APIView

from . import race
from .models import Crossing, TimerDevice


class DevicePrincipal:
    """The request.user of a timer device: authenticated, acts only on its own event."""

    is_authenticated = True
    is_anonymous = False
    is_staff = False
    is_superuser = False
    pk = None

    def __init__(self, device: TimerDevice):
        self.device = device
        self.username = f"device:{device.prefix}"

    def __str__(self) -> str:
        return self.username


class DeviceTokenAuthentication(authentication.BaseAuthentication):
    keyword = "Device"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1")
        scheme, _, raw = header.partition(" ")
        if not header or scheme.lower() != self.keyword.lower():
            return None
        device = race.device_for_token(raw.strip())
        if device is None:
            raise exceptions.AuthenticationFailed("Invalid or revoked timer device token.")
        return DevicePrincipal(device), device

    def authenticate_header(self, request):
        return self.keyword


class IsTimerDevice(BasePermission):
    def has_permission(self, request, view):
        return isinstance(request.user, DevicePrincipal)


class BoundedJSONParser(parsers.JSONParser):
    """DRF's JSON parser, answering 400 (not 500) to JSON nested too deeply for Python's parser."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise exceptions.ParseError("JSON parse error - nested too deeply: a crossing is a flat object "
                                        "{crossing_id, device_time_us, sensor}.") from None


class CrossingIn(serializers.Serializer):
    crossing_id = serializers.CharField(max_length=64)
    device_time_us = serializers.IntegerField(min_value=0, max_value=2**62)
    sensor = serializers.CharField(max_length=40, required=False, allow_blank=True, default="")


def crossing_answer(crossing: Crossing) -> dict:
    lap = crossing.lap
    return {
        "crossing_id": crossing.crossing_id,
        "status": crossing.status,
        "attempt": crossing.attempt_id,
        "note": crossing.note,
        "lap": None if lap is None else {"id": lap.pk, "team": lap.team_id, "lap_number": lap.lap_number,
                                         "lap_time_s": lap.lap_time_s, "valid": lap.valid},
    }


class CrossingCreate(APIView):
    authentication_classes = [DeviceTokenAuthentication]
    permission_classes = [IsTimerDevice]
    parser_classes = [BoundedJSONParser]

    @extend_schema(request=CrossingIn, responses=inline_serializer("CrossingOut", {
        "crossing_id": serializers.CharField(), "status": serializers.CharField(),
        "attempt": serializers.IntegerField(allow_null=True), "note": serializers.CharField(),
        "lap": serializers.DictField(allow_null=True),
    }))
    def post(self, request):
        data = CrossingIn(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            crossing, created = race.ingest_crossing(request.user.device, data.validated_data["crossing_id"],
                                                     data.validated_data["device_time_us"],
                                                     data.validated_data["sensor"])
        except race.TimingClosed as exc:  # the event takes no timing (virtual, cancelled, finished...)
            return Response({"detail": " ".join(exc.messages)}, status=status.HTTP_409_CONFLICT)
        except ValidationError as exc:
            return Response({"detail": " ".join(exc.messages)}, status=status.HTTP_400_BAD_REQUEST)
        return Response(crossing_answer(crossing), status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)
