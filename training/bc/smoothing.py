"""Steering-label smoothing for keyboard-driven logs (seed 000: spiky arrow-key input).

Exponential smoothing runs forward then backward so the result has no lag; Gaussian smoothing
is a symmetric kernel of `sigma` frames. Both keep the series length and treat the ends as held.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter1d


def exponential_forward_backward(values: np.ndarray, alpha: float) -> np.ndarray:
    """Zero-phase exponential smoothing: an EMA forward, then the same EMA backward."""
    x = np.asarray(values, dtype=np.float64)
    if x.size == 0:
        return x.copy()
    forward = np.empty_like(x)
    acc = x[0]
    for i, v in enumerate(x):
        acc = alpha * v + (1.0 - alpha) * acc
        forward[i] = acc
    backward = np.empty_like(x)
    acc = forward[-1]
    for i in range(x.size - 1, -1, -1):
        acc = alpha * forward[i] + (1.0 - alpha) * acc
        backward[i] = acc
    return backward


def gaussian(values: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian smoothing with `sigma` in frames; ends are extended with the edge value."""
    x = np.asarray(values, dtype=np.float64)
    if x.size == 0:
        return x.copy()
    return gaussian_filter1d(x, sigma=sigma, mode="nearest")


def smooth_steering(values: np.ndarray, method: str, alpha: float = 0.3,
                    sigma: float = 3.0) -> np.ndarray:
    """Smooth one contiguous recording's steering with `method` (none/exponential/gaussian)."""
    if method == "none":
        return np.asarray(values, dtype=np.float64).copy()
    if method == "exponential":
        return exponential_forward_backward(values, alpha)
    if method == "gaussian":
        return gaussian(values, sigma)
    raise ValueError(f"unknown smoothing method {method!r}")
