"""Job kinds: which function runs a kind and on which queue. Settings hold the table so that
apps (and the test settings) add kinds without touching the worker."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from importlib import import_module

from django.conf import settings

QUEUES = ("training", "evaluation")


class UnknownJobKind(LookupError):
    pass


@dataclass(frozen=True)
class JobKind:
    name: str
    handler_path: str
    queue: str
    label: str

    def handler(self) -> Callable:
        module_name, _, attr = self.handler_path.partition(":")
        return getattr(import_module(module_name), attr)


def get_kind(name: str) -> JobKind:
    spec = settings.PITLANE_JOB_KINDS.get(name)
    if spec is None:
        raise UnknownJobKind(f"Unknown job kind {name!r}")
    queue = spec.get("queue", "training")
    if queue not in QUEUES:
        raise ValueError(f"Job kind {name!r} names unknown queue {queue!r}")
    return JobKind(name=name, handler_path=spec["handler"], queue=queue, label=spec.get("label", name))
