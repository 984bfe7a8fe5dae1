"""Sizes as people read them, in binary units labelled as such (KiB, MiB, GiB): the limits are
powers of two (8 GiB, chunks of 4 MiB), and Django's filesizeformat divides by 1024 but prints
"MB", which is a different unit. static/js/datasets.js prints the same labels."""

from __future__ import annotations

UNITS = ("KiB", "MiB", "GiB", "TiB")


def binary_size(size: int | float) -> str:
    """`512 bytes`, `1 byte`, `1.5 KiB`, `4.8 MiB`, `8.0 GiB` (one decimal from KiB up)."""
    size = max(0, int(size))
    if size < 1024:
        return "1 byte" if size == 1 else f"{size} bytes"
    value = float(size)
    for unit in UNITS:
        value /= 1024
        if value < 1024 or unit == UNITS[-1]:
            return f"{value:.1f} {unit}"
    raise AssertionError("unreachable")
