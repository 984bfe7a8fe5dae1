"""The RL training form: every field of training.rl.config.RLConfig a team chooses, with
DeepRacer's names, defaults and ranges in the help text, plus the reward function version and an
advanced JSON box. The rules are RLConfig.check()'s (bounds included), applied here so the form
shows them on the field to blame (or on the JSON box a value came from); the service applies them
again, and its own (reward version, clone), whoever calls it."""

from __future__ import annotations

import json
from typing import Any

from django import forms

from simulator.deepracer import MAX_SPEED, MAX_STEERING_DEG, MIN_SPEED
from training.rl import config as rl
from training.rl.config import ACTION_SPACE_PRESETS
from webapp.core.forms import advanced_json

from . import services

GROUPS = [
    ("Sensor and network", ["downscale", "stack_size", "network"]),
    ("Hyperparameters", ["batch_size", "num_epochs", "lr", "beta_entropy", "discount_factor", "loss_type",
                         "num_episodes_between_training", "exploration_type", "e_greedy_value", "epsilon_steps"]),
    ("Stop conditions", ["max_minutes", "target_completion_pct", "term_cond_max_episodes", "term_cond_avg_score"]),
    ("Evaluation, randomisation and reproducibility", ["eval_trials", "domain_randomization", "seed", "num_envs"]),
]
LABELS = {
    "downscale": "Camera resolution",
    "stack_size": "Frame stacking (stack_size)",
    "network": "Neural network",
    "lr": "Learning rate (lr)",
    "beta_entropy": "Entropy (beta_entropy)",
    "discount_factor": "Discount factor",
    "loss_type": "Loss type",
    "num_epochs": "Number of epochs",
    "batch_size": "Gradient descent batch size",
    "num_episodes_between_training": "Episodes between policy updates",
    "exploration_type": "Exploration",
    "e_greedy_value": "ε-greedy value",
    "epsilon_steps": "ε steps",
    "max_minutes": "Maximum time (minutes)",
    "target_completion_pct": "Stop at evaluation completion (%)",
    "term_cond_max_episodes": "Stop after episodes",
    "term_cond_avg_score": "Stop at average reward",
    "eval_trials": "Evaluation trials per iteration",
    "domain_randomization": "Domain randomisation",
    "seed": "Random seed",
    "num_envs": "Parallel cars",
}
HELP = {
    "downscale": "DeepRacer's 160x120 grey front camera, or halved to 80x60 (several times faster).",
    "stack_size": "Consecutive frames the network sees at once.",
    "network": "DeepRacer's 3-layer shallow CNN, or a smaller one (~0.2 M parameters) that learns faster.",
    "lr": "Adam's step size.",
    "beta_entropy": "Entropy bonus: higher keeps exploring longer.",
    "discount_factor": "How far ahead rewards count (0.99: about 100 steps).",
    "num_episodes_between_training": "Experience gathered before each PPO update (one iteration).",
    "e_greedy_value": "Only with ε-greedy exploration.",
    "epsilon_steps": "Only with ε-greedy exploration.",
    "max_minutes": "The time limit; the ETA counts down to it.",
    "target_completion_pct": "Empty: train until the time limit.",
    "eval_trials": "Greedy laps after each iteration: the evaluation completion chart (0: none).",
    "domain_randomization": "Vary lighting, textures and the car's response in training.",
    "num_envs": "Cars driven at once (vectorised simulators).",
}
CHOICES = {
    "downscale": [(2, "80x60 (downscaled)"), (1, "160x120 (DeepRacer)")],
    "network": [("small", "Small CNN (~0.2 M parameters)"), ("deepracer_shallow", "DeepRacer shallow CNN")],
    "loss_type": [(t, t) for t in rl.LOSS_TYPES],
    "exploration_type": [(t, t) for t in rl.EXPLORATION_TYPES],
    "batch_size": [(b, str(b)) for b in rl.BATCH_SIZES],
}
INTS = {"downscale", "stack_size", "num_epochs", "num_episodes_between_training", "epsilon_steps",
        "max_minutes", "term_cond_max_episodes", "eval_trials", "seed", "num_envs", "batch_size"}
OPTIONAL = {"target_completion_pct"}
BOOLEANS = {"domain_randomization"}
FORM_FIELDS = [name for _, names in GROUPS for name in names]


def preset_choices() -> dict[str, dict[str, Any]]:
    """The presets (`training.rl.config.ACTION_SPACE_PRESETS`) as the page's editor reads them (json_script)."""
    return {key: {"label": label, "type": kind, "space": space}
            for key, (label, kind, space) in ACTION_SPACE_PRESETS.items()}


LIMITS = {"max_steering_deg": MAX_STEERING_DEG, "min_speed": MIN_SPEED, "max_speed": MAX_SPEED}


def _num(value: Any) -> str:
    """A bound or default as people read it: 100000 (not 100000.0), 0.0003, 1e-08."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e9:
        return str(int(value))
    return f"{value:g}" if isinstance(value, float) else str(value)


def _range_help(name: str, default: Any) -> str:
    parts = []
    if default is not None and name not in BOOLEANS:
        parts.append(f"Default {_num(default)}")
    if name in rl.RANGES and name not in CHOICES:
        low, high = rl.RANGES[name]
        parts.append(f"range {_num(low)}–{_num(high)}")
    text = ", ".join(parts)
    return f"{HELP[name]} {text}." if name in HELP and text else (HELP.get(name, "") or f"{text}.")


def _strip_index(space: Any) -> Any:
    """model_metadata.json's discrete actions may carry an `index`; the configuration does not."""
    if isinstance(space, list):
        return [{k: v for k, v in row.items() if k != "index"} if isinstance(row, dict) else row for row in space]
    return space


class TrainRLForm(forms.Form):
    name = forms.CharField(max_length=120)
    reward_version = forms.ModelChoiceField(queryset=None, label="Reward function",
                                            help_text="Validated versions of the team's reward functions.")
    tracks = forms.MultipleChoiceField(widget=forms.CheckboxSelectMultiple, label="Tracks",
                                       help_text="Several tracks are driven round-robin, each in the "
                                                 "direction chosen.")
    action_space_type = forms.ChoiceField(choices=[("discrete", "Discrete"), ("continuous", "Continuous")],
                                          label="Action space type")
    action_space = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 6, "spellcheck": "false"}), label="Action space (JSON)",
        help_text=f"model_metadata.json's action_space: a list of {{steering_angle, speed}} or "
                  f"{{steering_angle: {{low, high}}, speed: {{low, high}}}}. Steering ±{MAX_STEERING_DEG:g}°, "
                  f"speed {MIN_SPEED:g}–{MAX_SPEED:g} m/s.")
    confirm_head_change = forms.BooleanField(
        required=False, label="I understand what the new action space does to the cloned policy")
    advanced_json = forms.CharField(
        required=False, label="Configuration as JSON (advanced)",
        widget=forms.Textarea(attrs={"rows": 3, "spellcheck": "false"}),
        help_text="A JSON object of RLConfig fields (for example {\"clip_epsilon\": 0.2, \"gae_lambda\": 0.95}, "
                  "or {\"lr_schedule\": \"linear\"} to lower the learning rate to a tenth by the time limit, "
                  "or \"kl\" with a \"kl_target\"); it overrides the fields above.")

    def __init__(self, *args, versions, track_choices, initial_config: dict | None = None,
                 parent=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.parent = parent
        if parent is None:
            del self.fields["confirm_head_change"]
        self.fields["reward_version"].queryset = versions
        self.fields["reward_version"].label_from_instance = lambda v: f"{v.function.name} v{v.number}"
        self.fields["tracks"].choices = track_choices
        defaults = rl.RLConfig().to_dict()
        values = {**defaults, **(initial_config or {})}
        self.defaults = defaults
        self.fields["tracks"].initial = [_track_value(t) for t in values["tracks"]]
        self.fields["action_space_type"].initial = values["action_space_type"]
        self.fields["action_space"].initial = json.dumps(_strip_index(values["action_space"]))
        for name in FORM_FIELDS:
            label = LABELS.get(name, name.replace("_", " ").capitalize())
            if name in CHOICES:
                field: forms.Field = forms.TypedChoiceField(choices=CHOICES[name], label=label,
                                                            coerce=int if name in INTS else str)
            elif name in BOOLEANS:
                field = forms.BooleanField(required=False, label=label)
            elif name in INTS:
                field = forms.IntegerField(label=label)
            else:
                field = forms.FloatField(label=label, required=name not in OPTIONAL)
            if name in rl.RANGES and name not in CHOICES and name not in BOOLEANS:
                low, high = rl.RANGES[name]
                field.widget.attrs.update({"min": _num(low), "max": _num(high)})
                if name not in INTS:
                    field.widget.attrs["step"] = "any"
            field.help_text = _range_help(name, defaults.get(name))
            field.initial = values.get(name)
            self.fields[name] = field

    def groups(self):
        return [(title, [self[name] for name in names]) for title, names in GROUPS]

    def config_data(self, cleaned: dict[str, Any]) -> dict[str, Any]:
        data: dict[str, Any] = {name: cleaned[name] for name in FORM_FIELDS if name in cleaned}
        data["tracks"] = [_track_dict(value) for value in cleaned.get("tracks", [])]
        data["action_space_type"] = cleaned.get("action_space_type")
        return data

    def clean_action_space(self):
        text = self.cleaned_data["action_space"].strip()
        try:
            return _strip_index(json.loads(text))
        except json.JSONDecodeError as exc:
            raise forms.ValidationError(f"Not valid JSON: {exc}") from None

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        data = self.config_data(cleaned)
        data["action_space"] = cleaned["action_space"]
        extra = advanced_json(self, cleaned, '{"clip_epsilon": 0.2}')
        if extra is None:
            return cleaned
        data.update(extra)
        from_json = set(extra)
        try:
            config = rl.RLConfig.from_dict(data)
        except (rl.ConfigError, TypeError) as exc:
            # RLConfig's rule (bounds included), shown on the box the value came from.
            field = getattr(exc, "field", None)
            self.add_error("advanced_json" if field in from_json else field if field in self.fields else None,
                           str(exc))
            return cleaned
        try:
            if self.parent is not None:
                cleaned["clone_explanation"] = services.clone_explanation(self.parent, config)
        except forms.ValidationError as exc:
            self.add_service_error(exc, from_json)
            return cleaned
        cleaned["config"] = config
        if self.parent is not None and _space(config) != _space(services.check_config(self.parent.config)) \
                and not cleaned.get("confirm_head_change"):
            self.add_error("confirm_head_change", f"The action space differs from {self.parent.name}'s. "
                           f"{cleaned['clone_explanation']} Tick the box to go ahead.")
        return cleaned

    def add_service_error(self, exc: forms.ValidationError, from_json: set[str] = frozenset()) -> None:
        """A rule's refusal (RLConfig's or the service's), shown on the box the value came from:
        the field, the JSON box for a value typed there, or the whole form."""
        errors = exc.error_dict.items() if hasattr(exc, "error_dict") else [(None, exc.error_list)]
        for field, messages in errors:
            target = "advanced_json" if field in from_json else field if field in self.fields else None
            for message in messages:
                self.add_error(target, message)


def _space(config: rl.RLConfig) -> tuple[str, Any]:
    return config.action_space_type, config.model_metadata().action_space


def advanced_initial(config: dict[str, Any]) -> str:
    """The advanced JSON box's value for a configuration: its fields the form has no box for
    (max_seconds, clip_epsilon...) where they differ from the defaults, so a clone keeps them."""
    defaults = rl.RLConfig().to_dict()
    boxed = {*FORM_FIELDS, "tracks", "action_space", "action_space_type"}
    extra = {k: v for k, v in config.items() if k not in boxed and k in defaults and v != defaults[k]}
    return json.dumps(extra, sort_keys=True) if extra else ""


def _track_value(track: dict | str) -> str:
    if isinstance(track, str):
        return track
    return f"{track['name']}:reverse" if track.get("reverse") else track["name"]


def _track_dict(value: str) -> dict[str, Any]:
    name, _, direction = value.partition(":")
    return {"name": name, "reverse": direction == "reverse"}


def track_choices(names) -> list[tuple[str, str]]:
    """Checkbox choices: each track counter-clockwise and clockwise."""
    choices = []
    for name in names:
        choices.append((name, f"{name} (counter-clockwise)"))
        choices.append((f"{name}:reverse", f"{name} (clockwise)"))
    return choices
