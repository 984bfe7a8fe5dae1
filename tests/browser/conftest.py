"""Headless Chromium through Playwright's sync API, for tests against `live_server` or Daphne.

Reusable fixtures: `browser` (one Chromium per test module, so Playwright's event loop never outlives it) and `new_page` (a fresh, isolated browser
context per call: separate cookies, so two calls are two different people)."""

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


@pytest.fixture(scope="module")
def browser(playwright_driver):
    if not CHROMIUM.exists():
        pytest.skip(f"Chromium not found at {CHROMIUM} (set PITLANE_CHROMIUM)")
    instance = playwright_driver.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
    yield instance
    instance.close()


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
