"""The form that starts an evaluation; its track choices depend on the model's car."""

from __future__ import annotations

from django import forms
from django.core.validators import MaxValueValidator

from .models import DIRECTIONS
from .tracks import profile_for_card, tracks_for_profile


class EvaluationForm(forms.Form):
    track = forms.ChoiceField()
    direction = forms.ChoiceField(choices=DIRECTIONS, initial="counterclockwise")
    trials = forms.IntegerField(min_value=1, max_value=10, initial=3)
    off_track_penalty_s = forms.FloatField(label="Off-track penalty (s)", min_value=0, max_value=60, initial=2.0)
    time_limit_s = forms.FloatField(label="Time limit per trial (simulated s)", min_value=5, max_value=3600,
                                    initial=180.0)
    set_speed = forms.FloatField(required=False, min_value=0.1, max_value=30,
                                 help_text="Target speed of the agent's speed controller.")

    def __init__(self, *args, model, **kwargs):
        super().__init__(*args, **kwargs)
        self.profile = profile_for_card(model.card)
        tracks = tracks_for_profile(self.profile)
        self.fields["track"].choices = [(name, name) for name in tracks]
        if self.profile == "udacity":
            self.fields["time_limit_s"].initial = 900.0  # road tracks are about a kilometre long
            self.fields["set_speed"].label = "Set speed (mph, up to 30)"
            self.fields["set_speed"].initial = 15.0
        else:
            self.fields["set_speed"].label = "Set speed (m/s, up to 4)"
            self.fields["set_speed"].max_value = 4.0
            self.fields["set_speed"].validators.append(MaxValueValidator(4.0))
        if tracks:
            self.fields["track"].initial = tracks[0]


class SubmitForm(forms.Form):
    event = forms.ModelChoiceField(queryset=None, empty_label=None)

    def __init__(self, *args, events, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["event"].queryset = events
