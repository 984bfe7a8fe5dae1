"""Pitlane simulator: tracks, car physics, race rules, cameras, DeepRacer and Udacity formats
(pure Python + NumPy + Pillow; never Django or TensorFlow).

Modules: `track`, `car`, `rules`, `episode`, `gym_env`, `limit`, `deepracer`, `simtrace` (racing);
`camera` (+ `render_texture`, `appearance`) render what a car sees; `driving_log`, `autopilot`,
`recorder` produce Udacity training data; `udacity_client` stands in for the Udacity simulator on
the wire; `cli` is `python -m simulator`. Submodules are imported on demand, keeping this package
cheap to import.
"""
