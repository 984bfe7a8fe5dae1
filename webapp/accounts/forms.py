"""Forms of the account and team pages. They validate input only; services do the work."""

from __future__ import annotations

from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import BaseUserCreationForm


class SignupForm(BaseUserCreationForm):
    """Checks the fields and the password. Whether the username or the address is free is the
    service's decision (`webapp.accounts.signup.sign_up`), answered without saying which is taken."""

    email = forms.EmailField(help_text="Used only to reset your password.")

    class Meta(BaseUserCreationForm.Meta):
        model = get_user_model()
        fields = ("username", "email")

    def clean_email(self) -> str:
        return self.cleaned_data["email"].strip()

    def validate_unique(self) -> None:
        # The model's "A user with that username already exists." would enumerate usernames.
        pass


class TeamForm(forms.Form):
    name = forms.CharField(max_length=80, label="Team name", widget=forms.TextInput(attrs={"autofocus": True}))


class JoinCodeForm(forms.Form):
    code = forms.CharField(
        max_length=200, label="Invite code",
        help_text="The 10-character code a team member gave you, or paste the whole invite link.",
    )

    def clean_code(self) -> str:
        # Accept a pasted link as well as the bare code.
        return self.cleaned_data["code"].strip().rstrip("/").rsplit("/", 1)[-1]


class SwitchTeamForm(forms.Form):
    team = forms.IntegerField(widget=forms.HiddenInput)
