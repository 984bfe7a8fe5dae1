"""Sign-up, the service: the one place that decides whether a new account may be created.

One account per e-mail address (case-insensitive) and per username (case-insensitive). A conflict
on either gets the same answer, `SIGNUP_REFUSED`, so the sign-up page does not say which of the two
exists; when the e-mail address is the one in use, its owner gets a mail saying that somebody tried
to sign up with it (with links to log in and to reset the password), so a real user who forgot
their account is helped through their inbox, not through the page.
"""

from __future__ import annotations

import logging

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string

logger = logging.getLogger(__name__)

SIGNUP_REFUSED = (
    "We could not create an account with this username and e-mail address. Try another username; "
    "if you already have an account, log in or reset your password (we have sent instructions to "
    "the address if it is registered)."
)


def _tell_owner(owner, *, login_url: str, reset_url: str) -> None:
    context = {"user": owner, "login_url": login_url, "reset_url": reset_url}
    try:
        send_mail(
            "Someone tried to create a Pitlane account with your address",
            render_to_string("accounts/signup_existing_email.txt", context),
            None, [owner.email],
        )
    except Exception:  # A mail server that is down must not turn the refusal into a 500.
        logger.warning("Could not send the sign-up notice to user %s", owner.pk, exc_info=True)


def sign_up(*, username: str, email: str, password: str, login_url: str = "", reset_url: str = ""):
    """Create and return the account, or raise ValidationError(SIGNUP_REFUSED) when the username or
    the e-mail address is taken (the password is expected to be validated already, by the form)."""
    User = get_user_model()
    username = username.strip()
    email = User.objects.normalize_email(email.strip())
    if not username or not email:
        raise ValidationError("A username and an e-mail address are required.")
    email_owner = User.objects.filter(email__iexact=email).first()
    if email_owner is None and not User.objects.filter(username__iexact=username).exists():
        try:
            with transaction.atomic():
                return User.objects.create_user(username=username, email=email, password=password)
        except IntegrityError:  # the same username created meanwhile
            email_owner = User.objects.filter(email__iexact=email).first()
    if email_owner is not None:
        _tell_owner(email_owner, login_url=login_url, reset_url=reset_url)
    raise ValidationError(SIGNUP_REFUSED, code="signup_refused")
