"""Login throttling: django-axes' database handler, with one change to what a successful login
clears (settings: AXES_*, PITLANE_LOGIN_*)."""

from __future__ import annotations

import math

from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_client_username
from axes.models import AccessAttempt
from django.conf import settings
from django.http import HttpResponse
from django.shortcuts import render


class LoginThrottleHandler(AxesDatabaseHandler):
    """Axes' own reset on success deletes every failure that matches the login by account *or* by
    address, so anyone with an account could log into it between guesses from the same address
    and wipe the failures counted against the account they are guessing. Here a successful login
    clears the failures against the account that logged in, and nothing else."""

    def reset_user_attempts(self, request, credentials=None) -> int:
        username = get_client_username(request, credentials)
        if not username:
            return 0
        count, _ = AccessAttempt.objects.filter(username=username).delete()
        return count


def lockout_response(request, original_response=None, credentials=None) -> HttpResponse:
    """The page a locked-out login gets (AXES_LOCKOUT_CALLABLE), for the site's and the admin's
    login alike: 429 and when to try again. It names neither the account nor the reason (account
    or address), so it tells nobody whether an account exists."""
    minutes = max(1, math.ceil(settings.AXES_COOLOFF_TIME.total_seconds() / 60))
    return render(request, "registration/locked_out.html", {"cooloff_minutes": minutes},
                  status=settings.AXES_HTTP_RESPONSE_CODE)
