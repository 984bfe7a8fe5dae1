"""Template filters of the dataset pages."""

from __future__ import annotations

from django import template

from webapp.datasets.sizes import binary_size

register = template.Library()


@register.filter
def binary_filesize(value) -> str:
    """A size in bytes in KiB/MiB/GiB (`webapp.datasets.sizes.binary_size`)."""
    try:
        return binary_size(int(value))
    except (TypeError, ValueError):
        return ""
