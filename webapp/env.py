"""Reading settings from environment variables: a value that cannot be read is an error naming the
variable, never a silent default (a typo in `DEBUG=ture` must not quietly mean False)."""

from __future__ import annotations

import os
from typing import TypeVar

TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
FALSE_WORDS = frozenset({"0", "false", "no", "off", ""})
N = TypeVar("N", int, float)


class ImproperlySetError(ValueError):
    """An environment variable holds a value its setting cannot use."""


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    word = value.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ImproperlySetError(
        f"{name}={value!r} is not a yes/no value: use one of {', '.join(sorted(TRUE_WORDS | FALSE_WORDS - {''}))}")


def env_int(name: str, default: int, *, minimum: int | None = None) -> int:
    return _number(name, default, int, minimum)


def env_float(name: str, default: float, *, minimum: float | None = None) -> float:
    return _number(name, default, float, minimum)


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def _number(name: str, default: N, kind: type[N], minimum: N | None) -> N:
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        value = kind(raw.strip())
    except ValueError:
        noun = "an integer" if kind is int else "a number"
        raise ImproperlySetError(f"{name}={raw!r} is not {noun}") from None
    if minimum is not None and value < minimum:
        raise ImproperlySetError(f"{name}={raw!r} is below its minimum of {minimum}")
    return value
