"""Where the suite finds the repository and the shared test data (../shared/data beside it).

Tests take the `shared_data` fixture (tests/conftest.py), which fails with a clear message when the
data is missing; SHARED_DATA is for what must be known at import time (parametrize lists)."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SHARED_DATA = (ROOT.parent / "shared" / "data").resolve()
