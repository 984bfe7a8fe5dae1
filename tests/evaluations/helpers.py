"""Constants shared by the evaluation tests and their conftest."""

from __future__ import annotations

#: A made-up cached limit, so page tests do not spend seconds in the solver (the worker test does).
FAKE_LIMIT_S = 9.5
