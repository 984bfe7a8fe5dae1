"""The one-second micro-cache of public event pages for visitors without cookies
(webapp.core.microcache, in front of Django in webapp.asgi)."""

import pytest
from channels.testing import HttpCommunicator

from tests.support.waiting import run_async
from webapp.core.microcache import MicroCache


class App:
    def __init__(self, status=200, headers=()):
        self.calls, self.status, self.headers = 0, status, list(headers)

    async def __call__(self, scope, receive, send):
        self.calls += 1
        await send({"type": "http.response.start", "status": self.status,
                    "headers": [(b"content-type", b"text/html"), *self.headers]})
        await send({"type": "http.response.body", "body": f"page {self.calls}".encode()})


def get(app, path="/leagues/cup/events/1/", headers=(), query=b""):
    async def scenario():
        communicator = HttpCommunicator(app, "GET", path, headers=list(headers))
        communicator.scope["query_string"] = query
        return await communicator.get_response()

    return run_async(scenario)


def test_anonymous_gets_of_a_page_share_one_render_for_the_ttl(monkeypatch):
    inner = App()
    cache = MicroCache(inner, [r"^/leagues/[^/]+/events/\d+/$"], ttl_s=1.0)
    clock = [100.0]
    monkeypatch.setattr("webapp.core.microcache.time.monotonic", lambda: clock[0])
    assert get(cache)["body"] == b"page 1"
    assert get(cache)["body"] == b"page 1" and inner.calls == 1
    clock[0] += 1.01
    assert get(cache)["body"] == b"page 2"


def test_cookies_queries_other_paths_cookie_setting_and_errors_are_never_cached():
    inner = App()
    cache = MicroCache(inner, [r"^/leagues/[^/]+/events/\d+/$"])
    get(cache, headers=[(b"cookie", b"sessionid=abc")])
    get(cache, headers=[(b"cookie", b"sessionid=abc")])
    get(cache, headers=[(b"authorization", b"Bearer plt_x")])
    get(cache, query=b"x=1")
    get(cache, path="/leagues/cup/")
    get(cache, path="/leagues/cup/")
    assert inner.calls == 6
    for app in (App(headers=[(b"set-cookie", b"csrftoken=1")]), App(status=404)):
        cache = MicroCache(app, [r".*"])
        get(cache)
        get(cache)
        assert app.calls == 2


@pytest.mark.django_db(transaction=True)
def test_the_real_event_page_is_served_from_the_cache(make_race_event, monkeypatch):
    from webapp.asgi import application

    monkeypatch.setattr(application.application_mapping["http"], "ttl_s", 60.0)  # a slow machine
    event = make_race_event()
    path = f"/leagues/{event.league.slug}/events/{event.pk}/"
    first = get(application, path, headers=[(b"host", b"testserver")])
    assert first["status"] == 200 and b"data-live-board" in first["body"]
    event.delete()  # the page is gone, but for up to a second a spectator may still be shown it
    assert get(application, path, headers=[(b"host", b"testserver")])["body"] == first["body"]


def test_one_render_per_path_at_a_time():
    """Requests that arrive while the page renders wait for that render instead of each rendering it."""
    import asyncio

    class Slow(App):
        async def __call__(self, scope, receive, send):
            await asyncio.sleep(0.05)
            await super().__call__(scope, receive, send)

    inner = Slow()
    cache = MicroCache(inner, [r".*"])

    async def scenario():
        async def one():
            return await HttpCommunicator(cache, "GET", "/leagues/cup/events/1/").get_response()

        return await asyncio.gather(*(one() for _ in range(20)))

    answers = run_async(scenario)
    assert inner.calls == 1 and {a["body"] for a in answers} == {b"page 1"}
