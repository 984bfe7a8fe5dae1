"""Steps that several browser tests share."""

from __future__ import annotations

import re
import threading


def log_in(page, base_url, username, password):
    page.goto(f"{base_url}/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("form button[type=submit], form input[type=submit]")
    page.wait_for_url(re.compile(r".*/teams/.*|.*/dashboard/.*"))


def in_thread(fn, *args):
    """Run `fn` off this thread: Playwright's event loop here would refuse the async_to_sync
    calls (job notifications) that Django code such as an ingest makes."""
    result = []
    worker = threading.Thread(target=lambda: result.append(fn(*args)))
    worker.start()
    worker.join()
    return result[0]
