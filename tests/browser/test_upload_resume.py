"""An upload whose connection dies part-way is resumed, not restarted: after a reload the person
chooses the same file again and only the missing chunks are sent (Daphne, a real worker)."""

import re
from urllib.parse import parse_qs, urlparse

import pytest
from django.conf import settings
from playwright.sync_api import expect

from tests.browser.helpers import in_thread, log_in
from tests.datasets.helpers import zip_folder
from webapp.datasets.models import Dataset

pytestmark = [pytest.mark.browser, pytest.mark.worker, pytest.mark.slow, pytest.mark.django_db(transaction=True),
              pytest.mark.usefixtures("pitlane_dirs")]  # per-test folders, seen by Daphne and the worker


def test_interrupted_upload_resumes_after_a_reload(daphne_server, celery_worker_process, new_page, team_a,
                                                  real_sample, tmp_path):
    archive = zip_folder(real_sample, tmp_path / "real_sample.zip", prefix="data/")
    chunk = settings.PITLANE_UPLOAD_CHUNK_BYTES
    assert archive.stat().st_size > 3 * chunk  # several chunks, so the cut falls in the middle
    page = new_page()
    log_in(page, daphne_server, team_a.captain.username, "correct-horse-battery")
    page.goto(f"{daphne_server}/teams/{team_a.slug}/datasets/")

    # The connection dies after two chunks: every later chunk (and its retries) fails.
    posted = []

    def cut_after_two(route):
        if route.request.method == "POST":
            posted.append(int(parse_qs(urlparse(route.request.url).query)["offset"][0]))
            if len(posted) > 2:
                return route.abort()
        return route.continue_()

    page.route("**/datasets/upload/chunk/**", cut_after_two)
    page.set_input_files("input[name=file]", str(archive))
    page.fill("input[name=name]", "Resumed")
    page.click("[data-upload-button]")
    expect(page.locator("[data-upload-error]")).to_contain_text("Choose the same file again to resume it",
                                                                 timeout=20_000)
    assert posted[:2] == [0, chunk]

    # Back on the page (a reload stands for a new tab): the same file carries on at byte 2 x chunk.
    page.unroute("**/datasets/upload/chunk/**")
    page.reload()
    offsets = []
    page.on("request", lambda r: offsets.append(int(parse_qs(urlparse(r.url).query)["offset"][0]))
            if r.method == "POST" and "/upload/chunk/" in r.url else None)
    page.set_input_files("input[name=file]", str(archive))
    page.fill("input[name=name]", "Resumed")
    page.click("[data-upload-button]")
    page.wait_for_url(re.compile(r".*/datasets/\d+/$"))
    assert offsets[0] == 2 * chunk and offsets == sorted(set(offsets)), offsets

    expect(page.locator('[data-stat="frames"]')).to_have_text("120", timeout=60_000)
    dataset = in_thread(lambda: Dataset.objects.get(name="Resumed"))
    assert dataset.upload_bytes == archive.stat().st_size and dataset.frames == 120 and dataset.rows_skipped == 0
    assert page.evaluate("Object.keys(localStorage).filter(k => k.startsWith('pitlane-upload:')).length") == 0
