"""Fault injection against the real stack (Daphne, Celery workers, Redis): the hardening figures.

Each part lives in bench/fault_checks/<part>.py with a `measure() -> dict` that starts what it
needs (its own embedded Redis, var directory, SQLite database, worker and Daphne processes), sends
traffic only to 127.0.0.1 and stops everything it started:

  jobs        jobs_lost: of 10 jobs, how many never finished after a worker SIGKILL + restart with
              Redis restarted empty, and after Redis down/up (target 0)
  memory      rss_growth_mb_300mb_post: Daphne's RSS growth from one anonymous 300 MB multipart
              POST (target <= 50); health_p99_ms_under_upload: /api/v1/health/ p99 while it is
              being sent (target < 500)
  websockets  ws_idle_survives_s: how long an idle /ws/jobs/ socket stayed open (target >= 30);
              ws_snapshot_p99_ms: connect-to-snapshot p99 with 200 sockets (target < 500), and
              ws_snapshot_failures: those that got no snapshot (target 0)
  inputs      ingest_rss_growth_mb_huge_jpeg: worker memory for a dataset holding a 13000x13000
              JPEG (target <= 50); huge_jpeg_real_frames_kept; huge_line_ingest_ok (a 50 MB line);
              oversized_configs_accepted (of 3, target 0); job_error_has_class_name (target false)
  throttles   chunked-upload races and refusals through Daphne (damaged uploads of parallel
              same-offset chunks, status codes for bad offsets, shrinking totals, non-zips, quota)
              and login throttling (wrong passwords answered before the lock, the right one after)

`python bench/faults.py [part ...]` runs the named parts (all by default) one after the other and
prints one final line: RESULT {json} with every part's figures and `meets_targets`.
"""

from __future__ import annotations

import importlib
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PARTS = ("jobs", "memory", "websockets", "inputs", "throttles")

#: figure -> (comparison, target): "le" means at most, "ge" at least, "lt" below.
TARGETS = {
    "jobs_lost": ("le", 0),
    "rss_growth_mb_300mb_post": ("le", 50),
    "health_p99_ms_under_upload": ("lt", 500),
    "ws_idle_survives_s": ("ge", 30),
    "ws_snapshot_p99_ms": ("lt", 500),
    "ws_snapshot_failures": ("le", 0),
    "ingest_rss_growth_mb_huge_jpeg": ("le", 50),
    "oversized_configs_accepted": ("le", 0),
    "job_error_has_class_name": ("le", False),
}


def meets(figures: dict) -> dict[str, bool]:
    checks = {}
    for name, (op, target) in TARGETS.items():
        value = figures.get(name)
        if value is None:
            checks[name] = False
        elif op == "le":
            checks[name] = value <= target
        elif op == "ge":
            checks[name] = value >= target
        else:
            checks[name] = value < target
    return checks


def main(argv: list[str]) -> int:
    parts = argv or list(PARTS)
    unknown = sorted(set(parts) - set(PARTS))
    if unknown:
        print(f"unknown part(s) {unknown}; choose from {list(PARTS)}", file=sys.stderr)
        return 2
    figures: dict = {}
    for part in parts:
        began = time.monotonic()
        module = importlib.import_module(f"bench.fault_checks.{part}")
        result = module.measure()
        print(f"{part}: {json.dumps(result)} ({time.monotonic() - began:.0f} s)", flush=True)
        figures.update(result)
    checks = {k: v for k, v in meets(figures).items() if k in figures}
    figures["meets_targets"] = bool(checks) and all(checks.values())
    figures["targets_met"] = checks
    print("RESULT " + json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
