"""Through the real web server (webapp.server, Daphne): a validation is a sync view in Daphne's
thread pool and the team's code runs in a sandbox process, so the server keeps answering other
requests while a slow reward function is being validated."""

from __future__ import annotations

import re
import threading
import time

import pytest
import requests
from django.conf import settings
from django.urls import reverse

from tests.rewards.helpers import make_function

pytestmark = [pytest.mark.django_db(transaction=True)]

# About a second of pure Python on each synthetic car (and on the few preview steps with the same
# step counts); a quick reward elsewhere.
SLOW = '''def reward_function(params):
    if params["steps"] in (2, 55, 90, 180):
        total = 0
        for i in range(4000000):
            total += i
    return 1.0
'''


def test_the_server_answers_while_a_validation_runs(daphne_server, client, team_a):
    function = make_function(team_a, "Slow", source=SLOW)
    client.force_login(team_a.captain)
    session = requests.Session()
    session.cookies.set(settings.SESSION_COOKIE_NAME, client.cookies[settings.SESSION_COOKIE_NAME].value)
    url = daphne_server + reverse("reward_version", args=[team_a.slug, function.pk, 1])
    page = session.get(url, timeout=30)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)

    done: dict = {}

    def validate():
        response = session.post(url, data={"csrfmiddlewaretoken": token, "source": SLOW, "action": "validate",
                                           "track": "pitlane_loop"}, headers={"Referer": url},
                                allow_redirects=False, timeout=120)
        done["status"], done["at"] = response.status_code, time.monotonic()

    worker = threading.Thread(target=validate)
    worker.start()
    time.sleep(0.5)  # the validation is in flight: the sandbox is spinning on the first car
    answered = []
    while worker.is_alive() and len(answered) < 5:
        started = time.monotonic()
        health = requests.get(daphne_server + "/api/v1/health/", timeout=10)
        answered.append((health.status_code, time.monotonic() - started, time.monotonic()))
    worker.join(timeout=120)
    assert done.get("status") == 302, done
    function.versions.get().refresh_from_db()
    assert function.versions.get().ok is True
    # Health answered during the validation, each before the validation's own answer came back.
    during = [a for a in answered if a[2] < done["at"]]
    assert during and all(status == 200 for status, _, _ in during), answered
    assert max(seconds for _, seconds, _ in during) < 2.0, answered
