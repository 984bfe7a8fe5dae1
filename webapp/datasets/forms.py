from __future__ import annotations

from django import forms


class UploadForm(forms.Form):
    name = forms.CharField(max_length=120, required=False,
                           help_text="Defaults to the zip's file name.")
    file = forms.FileField(label="Driving log (.zip)",
                           help_text="The recording folder zipped: driving_log.csv and IMG/. Simulator "
                                     "recordings and Udacity's sample layout both work.",
                           widget=forms.ClearableFileInput(attrs={"accept": ".zip,application/zip"}))


class RecoveryForm(forms.Form):
    start = forms.IntegerField(min_value=0, label="First frame")
    end = forms.IntegerField(min_value=0, label="Last frame")
    note = forms.CharField(max_length=200, required=False)
