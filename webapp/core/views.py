"""The landing page: what Pitlane is, and the races coming up."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from webapp.leagues.selectors import upcoming_events


def home(request: HttpRequest) -> HttpResponse:
    return render(request, "core/home.html", {"events": upcoming_events(request.user)})
