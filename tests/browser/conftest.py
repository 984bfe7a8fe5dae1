"""Headless Chromium through Playwright's sync API, for tests against `live_server` or Daphne.

Reusable fixtures: `browser` (one Chromium per test module, so Playwright's event loop never
outlives it), `new_page` (a fresh, isolated browser context per call: separate cookies, so two calls
are two different people) and `served_static` (collected static files for a Daphne without DEBUG).

Without Chromium the browser tests skip with a message, except under CI (CI=true), where they fail."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# Playwright's sync API runs an event loop in this thread; Django's ORM would refuse to run beside it.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

CHROMIUM = Path(os.environ.get("PITLANE_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]
TIMEOUT_MS = 15_000


@pytest.fixture(scope="module")
def playwright_driver():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as driver:
        yield driver


def require_chromium() -> None:
    """Without Chromium a local run skips the browser tests with a message; under CI (the CI
    environment variable set, as CI services do) it fails, so a run cannot pass without them."""
    if CHROMIUM.exists():
        return
    message = (f"Chromium not found at {CHROMIUM}: install Debian's /usr/bin/chromium "
               f"(as root: apt-get install chromium) or set PITLANE_CHROMIUM")
    if os.environ.get("CI", "").lower() not in ("", "0", "false"):
        pytest.fail(f"{message}; the browser tests do not skip under CI", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="module")
def browser(playwright_driver):
    require_chromium()
    instance = playwright_driver.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
    yield instance
    instance.close()


@pytest.fixture
def served_static(tmp_path, settings, monkeypatch):
    """Daphne runs with DEBUG off: WhiteNoise serves collected files (plotly.js included)."""
    from django.core.management import call_command

    root = tmp_path / "static"
    settings.STATIC_ROOT = root
    monkeypatch.setenv("STATIC_ROOT", str(root))
    call_command("collectstatic", interactive=False, verbosity=0)
    assert (root / "vendor" / "plotly" / "plotly.min.js").is_file()
    return root


@pytest.fixture
def new_page(browser):
    """`new_page(base_url=None)` -> a Page in its own context; all are closed after the test."""
    contexts = []

    def make(base_url: str | None = None, **context_options):
        context = browser.new_context(base_url=base_url, **context_options)
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()
