"""Reward function versions and training settings for the RL web tests."""

from __future__ import annotations

from tests.rewards.helpers import CENTRE
from training.rl.config import RLConfig

# Fine for the first steps of an episode, then a KeyError on line 5: an error only training finds.
FAILS_LATER = '''def reward_function(params):
    reward = 1.0
    if params["steps"] > 3:
        # a typo the early steps never reach
        reward = params["distance_from_centre"]
    return float(reward)
'''

#: A run of seconds: a few cars, camera downscaled, one evaluation trial per iteration.
TINY = {"max_seconds": 12.0, "num_envs": 2, "num_episodes_between_training": 5, "num_epochs": 3,
        "eval_trials": 1, "max_episode_steps": 60, "chunk_steps": 16, "batch_size": 32}


def validated_version(team, *, name="Centre line", source=CENTRE, ok=True):
    """Version 1 of a new reward function of `team`, marked as validated (passed when `ok`) the way
    rewards.services.validate_version records a report; validation itself is tested in tests/rewards."""
    from django.utils import timezone

    from webapp.rewards.services import create_function

    function = create_function(team=team, user=team.captain, name=name, source=source)
    version = function.versions.get(number=1)
    version.validation = {"ok": ok, "issues": []}
    version.validated_track = "reinvent_base"
    version.validated = timezone.now()
    version.ok = ok
    version.save(update_fields=["validation", "validated_track", "validated", "ok"])
    return version


def form_data(version, **overrides) -> dict:
    """POST data of the RL training form: the defaults, then overrides (strings, as a browser sends)."""
    import json

    from webapp.rl.forms import FORM_FIELDS

    defaults = RLConfig().to_dict()
    data: dict = {"name": "Tiny PPO", "reward_version": str(version.pk), "tracks": ["reinvent_base"],
                  "action_space_type": "discrete", "action_space": json.dumps(defaults["action_space"]),
                  "advanced_json": ""}
    for name in FORM_FIELDS:
        value = defaults[name]
        if isinstance(value, bool):
            if value:
                data[name] = "on"
        else:
            data[name] = "" if value is None else str(value)
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}
