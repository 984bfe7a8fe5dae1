"""Team API tokens: issuing (with an optional expiry) and revoking. The token pages call these."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from django.core.exceptions import ValidationError
from django.utils import timezone

from .models import ApiToken

# What the "expires" choice on the tokens page offers, in days; None: the token never expires.
EXPIRY_DAYS_CHOICES = (30, 90, 365)
LONGEST_EXPIRY_DAYS = 5 * 365


def expiry_moment(*, days: int | None = None, on: date | None = None) -> datetime | None:
    """When a token created now expires: after `days`, or at the end of the day `on` (in the site's
    time zone), or never (both None). A date that is past or too far away is a ValidationError."""
    now = timezone.now()
    if days is not None and on is not None:
        raise ValidationError("Choose a number of days or a date, not both.")
    if days is not None:
        if not 1 <= days <= LONGEST_EXPIRY_DAYS:
            raise ValidationError(f"A token can last from 1 to {LONGEST_EXPIRY_DAYS} days.")
        return now + timedelta(days=days)
    if on is not None:
        moment = timezone.make_aware(datetime.combine(on + timedelta(days=1), time.min))
        if moment <= now:
            raise ValidationError("The expiry date must be today or later.")
        if moment > now + timedelta(days=LONGEST_EXPIRY_DAYS + 1):
            raise ValidationError(f"A token can last at most {LONGEST_EXPIRY_DAYS} days.")
        return moment
    return None


def issue_token(*, team, user, name: str, days: int | None = None, on: date | None = None) -> tuple[ApiToken, str]:
    """A new token of the team and its secret, shown once."""
    return ApiToken.issue(team=team, user=user, name=name, expires=expiry_moment(days=days, on=on))


def revoke_token(token: ApiToken) -> bool:
    """Revoke the token; False when it already was."""
    if token.revoked is not None:
        return False
    token.revoked = timezone.now()
    token.save(update_fields=["revoked"])
    return True
