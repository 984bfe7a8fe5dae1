"""The training form: every field of training.bc.config.TrainConfig, where a number field may hold
a comma-separated list ("0.001, 0.0003") that makes a grid search, plus the web-side choices
(datasets, Inception weights, recovery segments) and an advanced JSON box."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.core.validators import MaxValueValidator

from training.bc import config as bc
from webapp.core.forms import advanced_json
from webapp.evaluations.forms import EvaluationForm

from .services import MAX_RECOVERY_WEIGHT, check_grid_size

GROUPS = [
    ("Model", ["architecture", "activation", "inception_cut", "head_conv_filters", "head_dense_units",
               "use_bottleneck_cache"]),
    ("Preprocessing", ["crop_top", "crop_bottom", "resize", "color_space"]),
    ("Labels", ["smoothing", "smoothing_alpha", "smoothing_sigma", "straight_keep_fraction"]),
    ("Augmentation", ["side_cameras", "side_correction", "mirror", "brightness", "shadow_probability",
                      "shift_px", "shift_angle_per_px"]),
    ("Optimisation", ["loss", "optimizer", "learning_rate", "batch_size", "epochs", "patience", "l2",
                      "max_steps_per_epoch"]),
    ("Validation split", ["val_fraction", "val_block_frames", "val_gap_frames", "seed"]),
    ("Export and heat maps", ["quantization", "representative_samples", "saliency_samples",
                              "saliency_gif_frames"]),
]
CHOICES = {
    "architecture": [("pilotnet", "PilotNet (NVIDIA)"), ("inception_transfer", "Inception v3 transfer learning")],
    "activation": [(a, a) for a in bc.ACTIVATIONS],
    "color_space": [(c, c.upper() if c != "gray" else "grey") for c in bc.COLOR_SPACES],
    "smoothing": [(s, s) for s in bc.SMOOTHING_METHODS],
    "loss": [("mae", "mean absolute error"), ("mse", "mean squared error")],
    "optimizer": [(o, o) for o in bc.OPTIMIZERS],
    "quantization": [("float32", "float32"), ("int8", "int8 (full integer, representative frames)")],
}
BOOLEANS = {"side_cameras", "mirror", "use_bottleneck_cache"}
INTS = {"crop_top", "crop_bottom", "shift_px", "batch_size", "epochs", "patience", "val_block_frames",
        "val_gap_frames", "seed", "representative_samples", "head_conv_filters", "head_dense_units",
        "saliency_samples", "saliency_gif_frames", "max_steps_per_epoch"}
HELP = {
    "inception_cut": "Layer name (mixed0 ≈ seed 000's cut after layer 44) or index.",
    "resize": "height x width; a list (66x200, 80x200) makes a grid.",
    "side_correction": "Steering added for the left camera, subtracted for the right.",
    "shift_angle_per_px": "Steering change per pixel of horizontal shift.",
    "max_steps_per_epoch": "Empty: the whole training set every epoch.",
    "learning_rate": "A comma-separated list makes a grid search.",
    "patience": "Early stopping on val_loss after this many epochs without improvement (0: off).",
    "val_block_frames": "Validation takes whole blocks of consecutive frames, not random frames.",
    "use_bottleneck_cache": "Compute the frozen Inception features once and cache them.",
    "straight_keep_fraction": "Share of training frames with steering exactly 0 to keep (1: all; 0.3 keeps "
                              "30 %, chosen with the seed). The dataset page shows the effect.",
}
#: Fields that only one network reads (every other field applies to both). The form shows them
#: only for that network (static/js/bc_train.js; without JavaScript their label says so) and, for
#: a run of the other network, ignores what was posted in them: the run keeps the defaults.
NETWORK_FIELDS = {
    # "weights" is the form's name of the config's "inception_weights" (the model page lists config keys).
    "inception_transfer": ("weights", "inception_weights", "inception_cut", "head_conv_filters", "head_dense_units",
                           "use_bottleneck_cache"),
}
NETWORK_LABELS = dict(CHOICES["architecture"])
RECOVERY_CHOICES = [("include", "keep them"), ("exclude", "drop them"), ("only", "train on them only")]


def _format(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (list, tuple)) and value and isinstance(value[0], (list, tuple)):
        return ", ".join(_format(v) for v in value)
    if isinstance(value, (list, tuple)):
        return "x".join(str(v) for v in value)
    if isinstance(value, float):
        return repr(value)
    return str(value)


def _listify(text: str, parse) -> Any:
    items = [item.strip() for item in text.split(",") if item.strip()]
    values = [parse(item) for item in items]
    return values[0] if len(values) == 1 else values


def _resize(text: str) -> list[int]:
    parts = text.lower().replace("×", "x").split("x")
    if len(parts) != 2:
        raise ValueError(f"{text!r} is not height x width")
    return [int(parts[0]), int(parts[1])]


def _cut(text: str) -> str | int:
    return int(text) if text.isdigit() else text


def field_label(name: str) -> str:
    """The label of a TrainConfig field on the training form (and the grid page's column headers)."""
    return name.replace("_", " ").capitalize()


def networks_of(name: str) -> tuple[str, ...]:
    """The networks that read field `name` (every network for a shared field)."""
    only = tuple(network for network, names in NETWORK_FIELDS.items() if name in names)
    return only or tuple(NETWORK_LABELS)


def ignored_fields(architectures) -> set[str]:
    """The fields no run of these architectures reads (their posted values are ignored)."""
    chosen = set(architectures)
    return {name for network, names in NETWORK_FIELDS.items() if network not in chosen for name in names}


class TrainForm(forms.Form):
    name = forms.CharField(max_length=120, help_text="Grid runs get their values appended.")
    datasets = forms.ModelMultipleChoiceField(queryset=None, widget=forms.CheckboxSelectMultiple,
                                              help_text="Several datasets make one training set.")
    weights = forms.ChoiceField(label="Inception v3 weights", required=False,
                                help_text="")
    recovery_mode = forms.ChoiceField(choices=RECOVERY_CHOICES, initial="include", label="Recovery segments")
    recovery_weight = forms.IntegerField(min_value=1, max_value=MAX_RECOVERY_WEIGHT, initial=1,
                                         help_text="Repeat each recovery frame this many times (a sample weight).")
    advanced_json = forms.CharField(
        required=False, label="Configuration as JSON (advanced)",
        widget=forms.Textarea(attrs={"rows": 4, "spellcheck": "false"}),
        help_text="A JSON object of TrainConfig fields; it overrides the fields above. Lists make a grid.")

    def __init__(self, *args, team, datasets_qs, weights_qs, initial_config: dict | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.team = team
        self.fields["datasets"].queryset = datasets_qs
        choices = [("none", "none (random initialisation: for testing only)")]
        if settings.PITLANE_INCEPTION_WEIGHTS:
            choices.insert(0, ("settings", "ImageNet weights installed on the server"))
        choices += [(f"team:{w.pk}", f"{w.name} (uploaded)") for w in weights_qs]
        self.fields["weights"].choices = choices
        defaults = bc.TrainConfig().to_dict()
        values = {**defaults, **(initial_config or {})}
        for name in bc.FIELD_NAMES:
            if name == "inception_weights":
                continue
            label = field_label(name)
            if name in CHOICES:
                field = forms.ChoiceField(choices=CHOICES[name], label=label)
            elif name in BOOLEANS:
                field = forms.BooleanField(required=False, label=label)
            else:
                field = forms.CharField(label=label, required=name != "max_steps_per_epoch")
            field.help_text = HELP.get(name, "")
            field.initial = values[name] if name in CHOICES or name in BOOLEANS else _format(values[name])
            self.fields[name] = field
        for name, field in self.fields.items():
            networks = networks_of(name)
            if len(networks) < len(NETWORK_LABELS):
                # Read by _field.html (data-networks) and static/js/bc_train.js.
                field.networks = " ".join(networks)
                only = " or ".join(NETWORK_LABELS[n] for n in networks)
                field.help_text = f"{field.help_text} Only for {only}.".strip()

    def groups(self):
        return [(title, [self[name] for name in names]) for title, names in GROUPS]

    def _config_value(self, name: str, raw: Any) -> Any:
        if name in CHOICES or name in BOOLEANS:
            return raw
        text = (raw or "").strip()
        if name == "max_steps_per_epoch" and not text:
            return None
        if name == "resize":
            return _listify(text, _resize) if "," in text else _resize(text)
        if name == "inception_cut":
            return _listify(text, _cut)
        return _listify(text, int if name in INTS else float)

    def _architectures(self, cleaned: dict, extra: dict | None) -> list:
        chosen = (extra or {}).get("architecture", cleaned.get("architecture"))
        values = list(chosen) if isinstance(chosen, (list, tuple)) else [chosen]
        return [v for v in values if isinstance(v, str)]

    def clean(self):
        cleaned = super().clean()
        extra = advanced_json(self, cleaned, '{"epochs": 5}')
        ignored = ignored_fields(self._architectures(cleaned, extra))
        # The other network's fields (hidden on the page) keep the defaults, whatever was posted,
        # and cannot block the run.
        for name in ignored:
            self.errors.pop(name, None)
            if name == "weights":
                cleaned["weights"] = "none"
        grid: dict[str, Any] = {}
        defaults = bc.TrainConfig().to_dict()
        for name in bc.FIELD_NAMES:
            if name == "inception_weights":
                continue
            if name in ignored:
                grid[name] = defaults[name]
                continue
            if name not in cleaned:
                continue
            try:
                grid[name] = self._config_value(name, cleaned[name])
            except ValueError:
                self.add_error(name, "Enter a value or a comma-separated list of values.")
        if extra is None:
            return cleaned
        extra.pop("inception_weights", None)
        grid.update(extra)
        from_json = set(extra)
        if self.errors:
            return cleaned
        try:
            configs = bc.expand_grid(grid)
        except (bc.ConfigError, TypeError) as exc:
            # TrainConfig's rule (bounds included), shown on the box the value came from.
            field = getattr(exc, "field", None)
            if field in from_json:
                self.add_error("advanced_json", str(exc))
            elif field in self.fields:
                self.add_error(field, str(exc))
            else:
                raise forms.ValidationError(f"Configuration: {exc}") from None
            return cleaned
        check_grid_size(len(configs))  # the service's rule, shown here before anything is queued
        if any(c.architecture == "inception_transfer" for c in configs) and not cleaned.get("weights"):
            self.add_error("weights", "Choose the Inception v3 weights for transfer learning.")
        cleaned["grid"] = grid
        cleaned["configs"] = configs
        return cleaned


class EvaluateBestForm(EvaluationForm):
    """The grid page's "evaluate the best N": the evaluation form (track, trials, ...; the car of
    the grid's best run) and how many of the best ready runs to evaluate with it."""

    count = forms.IntegerField(label="Evaluate the best", min_value=1, initial=3,
                               help_text="Ready runs, ranked by validation loss.")
    field_order = ["count"]

    def __init__(self, *args, model, ready_count: int, **kwargs):
        super().__init__(*args, model=model, **kwargs)
        self.fields["count"].max_value = ready_count
        self.fields["count"].validators.append(MaxValueValidator(ready_count))
        self.fields["count"].widget.attrs["max"] = ready_count
        self.fields["count"].initial = min(3, ready_count)
        self.order_fields(["count"])

    def evaluation_options(self) -> dict:
        return {k: v for k, v in self.cleaned_data.items() if k != "count"}
