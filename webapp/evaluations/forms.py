"""The form that starts an evaluation; its track choices and set-speed bound depend on the model's car."""

from __future__ import annotations

from django import forms

from drive_agent.speed import default_set_speed

from .models import DIRECTIONS, MIN_SET_SPEED, OFF_TRACK_PENALTY_S, TIME_LIMIT_S, TRIALS, max_set_speed, set_speed_unit
from .tracks import action_speeds_text, profile_for_card, tracks_for_profile


class EvaluationForm(forms.Form):
    track = forms.ChoiceField()
    direction = forms.ChoiceField(choices=DIRECTIONS, initial="counterclockwise")
    trials = forms.IntegerField(min_value=TRIALS[0], max_value=TRIALS[1], initial=3)
    off_track_penalty_s = forms.FloatField(label="Off-track penalty (s)", min_value=OFF_TRACK_PENALTY_S[0],
                                           max_value=OFF_TRACK_PENALTY_S[1], initial=2.0)
    time_limit_s = forms.FloatField(label="Time limit per trial (simulated s)", min_value=TIME_LIMIT_S[0],
                                    max_value=TIME_LIMIT_S[1], initial=180.0)
    vary = forms.BooleanField(required=False, label="Vary the trials",
                              help_text="Each trial its own start (along and across the track), steering noise "
                                        "and lighting, drawn from the seed: trials differ, the same seed repeats them.")
    seed = forms.IntegerField(required=False, min_value=0, max_value=2**31 - 1,
                              help_text="Seed of the variation (empty: a random one, recorded with the evaluation). "
                                        "A seed varies the trials even without “Vary the trials” ticked.")

    def __init__(self, *args, model, **kwargs):
        super().__init__(*args, **kwargs)
        self.model_id = model.pk
        self.profile = profile_for_card(model.card)
        tracks = tracks_for_profile(self.profile)
        self.fields["track"].choices = [(name, name) for name in tracks]
        if tracks:
            self.fields["track"].initial = tracks[0]
        # An action-space (RL) model commands its own speed with every action: no set speed.
        self.action_speeds = action_speeds_text(model.card)
        if self.action_speeds:
            return
        # The bound is the car's top speed (the same rule start_evaluation applies), in the car's unit.
        limit = max_set_speed(self.profile)
        self.fields["set_speed"] = forms.FloatField(
            required=False, min_value=MIN_SET_SPEED, max_value=limit,
            label=f"Set speed ({set_speed_unit(self.profile)}, up to {limit:g})",
            help_text="Target speed of the agent's speed controller (the drive agent's default too).")
        # The drive agent's default (drive_agent.speed), so the site and the agent drive alike.
        self.fields["set_speed"].initial = default_set_speed(self.profile)
        if self.profile == "udacity":
            self.fields["time_limit_s"].initial = 900.0  # road tracks are about a kilometre long


class SubmitForm(forms.Form):
    event = forms.ModelChoiceField(queryset=None, empty_label=None)

    def __init__(self, *args, events, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["event"].queryset = events
