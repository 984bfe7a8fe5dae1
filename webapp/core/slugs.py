"""Readable, unique URL slugs for named records (teams, leagues)."""

from __future__ import annotations

from django.utils.text import slugify


def unique_slug(instance, name: str, *, fallback: str, max_length: int, reserved: frozenset = frozenset()) -> str:
    """`name` slugified, with -2, -3... appended until no other row of the model uses it."""
    base = slugify(name)[:max_length] or fallback
    others = type(instance)._default_manager.exclude(pk=instance.pk)
    slug, n = base, 2
    while slug in reserved or others.filter(slug=slug).exists():
        slug, n = f"{base}-{n}", n + 1
    return slug
