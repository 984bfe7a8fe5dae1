"""A pilot part for a donkeycar vehicle loop: Pitlane models in a team's own donkeycar `manage.py`.

    from drive_agent.donkeycar_part import PitlanePilot
    pilot = PitlanePilot.from_server(12, token=os.environ["PITLANE_TOKEN"], throttle=0.3)
    # or PitlanePilot("model.tflite") with model_card.json beside it
    V.add(pilot, inputs=["cam/image_array"], outputs=["pilot/angle", "pilot/throttle"],
          run_condition="run_pilot")

`run(image)` follows donkeycar's pilot conventions: an RGB (or grey) uint8 image of any size in
(fitted to the model card's input like the car target does), `(angle, throttle)` out, both -1..1,
angle + to the right; `(0.0, 0.0)` while the camera has no image yet. Inside is the agent's one
control loop (`DriveLoop`: the card's preprocessing, the TFLite model, the speed policy and the
race-time throttle scale); `shutdown()` prints its latency report.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from drive_agent.fetch import DEFAULT_SERVER, fetch_model
from drive_agent.loop import DriveLoop
from drive_agent.model_card import ModelCard, load_model_card
from drive_agent.runtime import TFLiteModel
from drive_agent.speed import OpenLoopThrottle
from drive_agent.targets.car import fit_to_card
from drive_agent.targets.deepracer import steering_sign


class PitlanePilot:
    """`throttle`: open-loop throttle at the set speed (steering-only models; action models scale
    it by their action's speed over the fastest action's); `min_speed_ratio` slows to that share
    at full lock; `throttle_scale` is the race-time multiplier."""

    def __init__(self, model_path: str | Path, card: ModelCard | str | Path | None = None, *,
                 throttle: float = 0.3, throttle_scale: float = 1.0, min_speed_ratio: float | None = None,
                 num_threads: int = 1) -> None:
        model_path = Path(model_path)
        if card is None:
            card = model_path.with_name("model_card.json")
        if not isinstance(card, ModelCard):
            card = load_model_card(card)
        top = card.action_space.max_speed if card.action_space is not None else 1.0
        speed = OpenLoopThrottle(throttle=throttle, set_speed=top,
                                 min_speed=None if min_speed_ratio is None else top * min_speed_ratio)
        self.loop = DriveLoop(TFLiteModel(model_path, card, num_threads=num_threads), speed,
                              throttle_scale=throttle_scale)
        self.card = card
        self._sign = steering_sign(card)

    @classmethod
    def from_server(cls, model_id: int, server: str = DEFAULT_SERVER, token: str | None = None,
                    cache_dir: Path | None = None, **kwargs: Any) -> PitlanePilot:
        """Fetches (or takes from the cache) a ready model of the team the token belongs to."""
        fetched = fetch_model(model_id, server, token, cache_root=cache_dir)
        return cls(fetched.model_path, fetched.card, **kwargs)

    def run(self, img_arr: np.ndarray | None, *_: Any) -> tuple[float, float]:
        if img_arr is None:
            return 0.0, 0.0
        frame = np.asarray(img_arr)
        if frame.dtype != np.uint8:
            raise ValueError(f"PitlanePilot expects a uint8 image (donkeycar's cam/image_array), got {frame.dtype}")
        timer = self.loop.stats.frame()
        command = self.loop.step(fit_to_card(frame, self.card), None, timer)
        timer.done()
        angle = max(-1.0, min(1.0, float(command.steering) * self._sign))
        return angle, float(command.throttle)

    def shutdown(self) -> None:
        print(self.loop.close(), flush=True)
