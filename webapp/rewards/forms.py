"""Forms of the reward function pages: a new function (blank, from an example or an uploaded `.py`)
and the editor (save a new version, or save and validate on a track). The rules (size, encoding,
names) live in `services`; the forms call them so every page refuses the same way."""

from __future__ import annotations

from typing import cast

from django import forms
from django.core.exceptions import ValidationError

from . import services
from .models import MAX_SOURCE_BYTES

BLANK = "blank"


class NewRewardForm(forms.Form):
    name = forms.CharField(max_length=services.MAX_NAME_LENGTH, label="Name",
                           widget=forms.TextInput(attrs={"autocomplete": "off"}))
    start = forms.ChoiceField(label="Start from", widget=forms.RadioSelect, initial=BLANK)
    file = forms.FileField(required=False, label="…or upload a .py file",
                           help_text=f"UTF-8 Python source, at most {MAX_SOURCE_BYTES // 1024} KB, with a "
                                     "reward_function(params). It replaces the choice above.",
                           widget=forms.ClearableFileInput(attrs={"accept": ".py,text/x-python"}))

    def __init__(self, *args, team, **kwargs):
        super().__init__(*args, **kwargs)
        self.team = team
        self.examples = services.examples()
        cast(forms.ChoiceField, self.fields["start"]).choices = [(BLANK, "A blank function")] + [
            (example.slug, example.title) for example in self.examples]

    def clean_name(self) -> str:
        return services.check_name(self.team, self.cleaned_data["name"])

    def clean(self):
        super().clean()
        data = self.cleaned_data
        uploaded = data.get("file")
        if uploaded:
            try:
                data["source"] = services.read_upload(uploaded)
            except ValidationError as exc:
                self.add_error("file", exc)
        elif data.get("start"):
            data["source"] = services.starting_source(data["start"])
        return data


class EditForm(forms.Form):
    SAVE, VALIDATE = "save", "validate"

    source = forms.CharField(strip=False, widget=forms.Textarea(attrs={
        "rows": 28, "spellcheck": "false", "autocapitalize": "off", "data-reward-source": ""}))
    track = forms.ChoiceField(label="Track", required=False)
    action = forms.ChoiceField(choices=[(SAVE, "Save"), (VALIDATE, "Save and validate")], initial=SAVE,
                               widget=forms.HiddenInput, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        tracks = services.validation_tracks()
        cast(forms.ChoiceField, self.fields["track"]).choices = [(name, name) for name in tracks]
        if not self.initial.get("track"):
            self.fields["track"].initial = services.DEFAULT_TRACK if services.DEFAULT_TRACK in tracks else tracks[0]

    def clean_source(self) -> str:
        return services.check_source(self.cleaned_data["source"])
