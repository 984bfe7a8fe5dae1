"""The form of the API tokens page. It validates input only; `services.issue_token` decides."""

from __future__ import annotations

from django import forms

from .services import EXPIRY_DAYS_CHOICES

NEVER, ON_DATE = "never", "date"


class TokenForm(forms.Form):
    name = forms.CharField(max_length=80, widget=forms.TextInput(attrs={"placeholder": "e.g. race-day laptop"}))
    expires_in = forms.ChoiceField(
        label="Expires",
        choices=[(str(days), f"in {days} days") for days in EXPIRY_DAYS_CHOICES]
        + [(NEVER, "never"), (ON_DATE, "on a date…")],
        initial=str(EXPIRY_DAYS_CHOICES[1]),
    )
    expires_on = forms.DateField(
        label="Expiry date", required=False, widget=forms.DateInput(attrs={"type": "date"}),
        help_text="With “on a date”: the token works until the end of that day (UTC).",
    )

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("expires_in") == ON_DATE and not cleaned.get("expires_on"):
            self.add_error("expires_on", "Pick the date the token stops working.")
        return cleaned

    def expiry(self) -> dict:
        """The keyword arguments of `services.issue_token` that say when the token expires."""
        choice = self.cleaned_data["expires_in"]
        if choice == NEVER:
            return {}
        if choice == ON_DATE:
            return {"on": self.cleaned_data["expires_on"]}
        return {"days": int(choice)}
