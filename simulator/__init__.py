"""Pitlane simulator: tracks, car physics, race rules, DeepRacer formats (pure Python + NumPy)."""
