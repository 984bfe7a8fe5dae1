"""The web process validates reward functions through training.rl without loading TensorFlow
(seconds of start-up and hundreds of MB per web process)."""

import subprocess
import sys

WEB_SIDE = ("training.rl.sandbox", "training.rl.reward_check", "training.rl.config", "training.rl.examples")


def test_modules_the_web_process_imports_load_no_tensorflow():
    code = (f"import sys\nfor name in {WEB_SIDE!r}:\n    __import__(name)\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    assert out.stdout.strip() == "[]", out.stdout
