"""Fit the DEEPRACER car to the AWS console's traces and report how close it drives (issue 10).

Refits the response model (simulator/car_fit.py: response lag on the 1/60 s sub-step grid, speed
gain and time constant, acceleration, steering gain and time constant) to the console's 20
training episodes and 3 evaluation laps on reinvent_base, then replays the traces through
- `before`: the ideal car the profile was before the fit (no lag, gains 1, instant response),
- `profile`: DEEPRACER as simulator/car.py has it (its constants: `profile_constants`),
- `fit`: this run's fit (the profile's constants should agree with it),
and reports per-step speed errors, speeds from rest and at a steady 1 m/s command, heading
errors, path errors after 1 s and 2 s, and the physical-limit lap of reinvent_base.

Prints its figures, then one line `RESULT {json}`. Run: `python bench/car_fit.py [--quick]`
(--quick fits at the profile's lag only).
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from dataclasses import replace  # noqa: E402
from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from simulator.car import DEEPRACER, CarProfile  # noqa: E402
from simulator.car_fit import FITTED, fit, load_console_traces, measure  # noqa: E402
from simulator.limit import minimum_lap_time  # noqa: E402
from simulator.track import load_track  # noqa: E402

LOGS = ROOT.parent / "shared" / "data" / "deepracer" / "logs"
REINVENT = ROOT.parent / "shared" / "data" / "deepracer" / "tracks" / "reinvent_base.npy"
BEFORE = replace(DEEPRACER, max_accel=4.0, response_lag_s=0.0, speed_gain=1.0, speed_time_constant_s=0.0,
                 steering_gain=1.0, steering_time_constant_s=0.0)


def constants(profile: CarProfile) -> dict[str, float]:
    return {"response_lag_s": round(profile.response_lag_s, 4),
            **{name: round(getattr(profile, name), 4) for name in FITTED}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fit at the profile's lag only")
    args = parser.parse_args()
    episodes = load_console_traces(LOGS)
    started = time.perf_counter()
    lags = [DEEPRACER.lag_substeps] if args.quick else range(9)
    result = fit(episodes, lags=lags)
    fit_s = time.perf_counter() - started
    track = load_track(REINVENT)
    figures = {}
    for label, profile in (("before", BEFORE), ("profile", DEEPRACER), ("fit", result.profile)):
        figures[label] = {**measure(profile, episodes).summary(),
                          "limit_lap_reinvent_base_s": round(minimum_lap_time(track, profile).lap_time_s, 3)}
    drift = {name: round(getattr(DEEPRACER, name) / getattr(result.profile, name) - 1.0, 4) for name in FITTED}
    out = {
        "fitted": constants(result.profile),
        "profile_constants": constants(DEEPRACER),
        "profile_vs_fit_rel": drift,
        "fit_cost_by_lag_substeps": {str(k): round(v, 4) for k, v in result.cost_by_lag.items()},
        "fit_s": round(fit_s, 1),
        "traces": {"episodes": len(episodes), "steps": sum(len(e) for e in episodes)},
        **figures,
        "load_average": [round(v, 2) for v in os.getloadavg()],
    }
    for label in ("before", "profile"):
        f = figures[label]
        print(f"{label:>8}: speed error {f['speed_error_rms']:.3f} m/s rms,"
              f" steady 1 m/s -> {f['steady_speed_ours']:.3f} (console {f['steady_speed_console']:.3f}),"
              f" path {f['path_error_1s_mean_m']:.3f} m @1 s,"
              f" {f['path_error_2s_mean_m']:.3f} m @2 s, limit lap {f['limit_lap_reinvent_base_s']:.2f} s")
    print(f"fitted at lag {result.lag_substeps}/60 s: {constants(result.profile)} in {fit_s:.0f} s")
    print("RESULT " + json.dumps(out))


if __name__ == "__main__":
    main()
