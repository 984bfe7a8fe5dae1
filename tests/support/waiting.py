"""Waiting helpers for tests that drive real subprocesses, event loops and websockets."""

from __future__ import annotations

import time


def run_async(coroutine_function, *args):
    """Run `coroutine_function(*args)` to completion on a fresh event loop in its own thread.

    Playwright's sync API keeps an event loop running in the main thread while browser tests
    are active, so `asyncio.run` there would refuse; a thread of its own never collides."""
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine_function(*args)).result()


def wait_for(predicate, timeout_s: float = 20.0, interval_s: float = 0.1, message: str = "condition"):
    """Poll `predicate` until it returns something truthy (returned), or fail after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval_s)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {message}")
