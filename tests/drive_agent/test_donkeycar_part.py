"""`PitlanePilot`, the pilot part a donkeycar vehicle loop calls: donkeycar's conventions (an RGB
uint8 image of the car's camera in, `(angle, throttle)` in -1..1 out, angle + to the right, (0, 0)
before the camera has an image), the agent's one control loop inside, models from the server."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from drive_agent.donkeycar_part import PitlanePilot
from drive_agent.fetch import FetchError
from drive_agent.loop import DriveLoop
from drive_agent.model_card import load_model_card
from drive_agent.runtime import TFLiteModel
from drive_agent.targets.car import fit_to_card
from tests.drive_agent.fake_api import TOKEN, FakeApi
from tests.drive_agent.mjpeg_stream import recorded_sequence
from tests.support.tiny_models import rl_model_files


def donkey_images(n: int = 8) -> list[np.ndarray]:
    """What donkeycar's camera part puts in `cam/image_array`: 120x160 RGB uint8 (IMAGE_H x IMAGE_W)."""
    import io

    from PIL import Image

    return [np.asarray(Image.open(io.BytesIO(jpeg)).convert("RGB")) for jpeg in recorded_sequence(n)]


def test_run_is_the_drive_loop_on_the_fitted_image(tiny_models: Path) -> None:
    model, card_path = tiny_models / "regression_float.tflite", tiny_models / "regression_float.json"
    pilot = PitlanePilot(model, card_path, throttle=0.35, throttle_scale=0.8)
    reference = DriveLoop(TFLiteModel(model, load_model_card(card_path)))
    images = donkey_images()
    for image in images:
        out = pilot.run(image)
        assert isinstance(out, tuple) and len(out) == 2 and all(isinstance(v, float) for v in out)
        angle, throttle = out
        expected = reference.step(fit_to_card(image, reference.card), None).steering
        assert angle == pytest.approx(expected, abs=1e-6) and -1.0 <= angle <= 1.0
        assert throttle == pytest.approx(0.35 * 0.8)
    assert len({round(pilot.run(i)[0], 5) for i in images}) > 1, "the angle follows the image"
    assert pilot.loop.stats.frames == 2 * len(images)


def test_action_models_follow_donkeycars_sign_and_the_actions_speed(tiny_models: Path) -> None:
    model, card_path = rl_model_files(tiny_models)
    card = load_model_card(card_path)
    pilot = PitlanePilot(model, throttle=0.5)  # model_card.json beside the model
    reference = DriveLoop(TFLiteModel(model, card))
    top = card.action_space.max_speed
    for image in donkey_images():
        angle, throttle = pilot.run(image)
        prediction = reference.step(fit_to_card(image, card), None).prediction
        assert angle == pytest.approx(-prediction.steering, abs=1e-6)  # DeepRacer + is left
        assert throttle == pytest.approx(0.5 * prediction.speed / top)


def test_no_image_yet_is_zero_and_other_inputs_are_accepted(tiny_models: Path) -> None:
    pilot = PitlanePilot(tiny_models / "regression_float.tflite", tiny_models / "regression_float.json")
    assert pilot.run(None) == (0.0, 0.0) and pilot.loop.stats.frames == 0
    angle, _ = pilot.run(donkey_images(1)[0], 0.7, [0.1, 0.2])  # e.g. speed or IMU inputs after the image
    assert -1.0 <= angle <= 1.0
    with pytest.raises(ValueError, match="uint8 image"):
        pilot.run(np.zeros((120, 160, 3), np.float32))


def test_from_server_fetches_the_teams_model(tiny_models: Path, tmp_path: Path, capsys) -> None:
    api = FakeApi.for_tiny(tiny_models)
    try:
        pilot = PitlanePilot.from_server(42, api.url, TOKEN, cache_dir=tmp_path, throttle=0.2)
        with pytest.raises(FetchError):
            PitlanePilot.from_server(7, api.url, TOKEN, cache_dir=tmp_path)  # another team's model
    finally:
        api.stop()
    assert pilot.run(donkey_images(1)[0])[1] == pytest.approx(0.2)
    pilot.shutdown()
    assert "latency over 1 frames" in capsys.readouterr().out


def test_the_part_and_the_car_modules_import_no_tensorflow_or_django() -> None:
    modules = ["drive_agent.donkeycar_part", "drive_agent.camera", "drive_agent.targets.donkeycar",
               "drive_agent.calibrate"]
    code = ("import json, sys\n" + "".join(f"import {m}\n" for m in modules)
            + "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in "
              "('tensorflow', 'django', 'keras', 'cv2', 'adafruit_pca9685'))))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    # OpenCV and the PCA9685 driver load only when a camera or the board is opened
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == []
