"""The agent runs on a car's computer: importing it must pull in neither TensorFlow nor Django."""

from __future__ import annotations

import json
import subprocess
import sys

MODULES = ["drive_agent", "drive_agent.cli", "drive_agent.loop", "drive_agent.runtime", "drive_agent.fetch",
           "drive_agent.evaluation", "drive_agent.targets.udacity", "drive_agent.targets.car",
           "drive_agent.targets.sim", "drive_agent.preprocessing"]


def test_no_tensorflow_or_django_in_sys_modules() -> None:
    code = ("import json, sys\n" + "".join(f"import {m}\n" for m in MODULES)
            + "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in "
              "('tensorflow', 'django', 'keras', 'tf_keras'))))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == []
