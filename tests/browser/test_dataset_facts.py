"""What a person sees of a dataset (issue 13): a refused upload leaves no full bar behind and its
message is one sentence; the dataset page measures the recording and draws the steering histogram
before and after thinning straight frames for the share chosen on a slider (Daphne, Chromium)."""

import pytest
from playwright.sync_api import expect

from tests.browser.helpers import in_thread, log_in
from tests.garage.helpers import ready_dataset

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("pitlane_dirs")]

PASSWORD = "correct-horse-battery"


def test_a_refused_upload_leaves_no_full_bar_and_one_full_stop(served_static, daphne_server, new_page, team_a,
                                                             tmp_path):
    fake = tmp_path / "notes.zip"
    fake.write_text("these are my notes, not a zip\n" * 1000)  # 30 KB: "0.0 MB" in the old bar
    page = new_page()
    log_in(page, daphne_server, team_a.captain.username, PASSWORD)
    page.goto(f"{daphne_server}/teams/{team_a.slug}/datasets/")
    page.set_input_files("input[name=file]", str(fake))
    page.click("[data-upload-button]")
    error = page.locator("[data-upload-error]")
    expect(error).to_have_text("The upload failed: notes.zip is not a zip file (it does not start like one): zip "
                               "the recording folder (driving_log.csv and IMG/) and upload the .zip.")
    assert not error.inner_text().endswith("..")
    expect(page.locator("[data-upload-progress]")).to_be_hidden()
    assert page.locator("[data-upload-bar]").get_attribute("style").replace(" ", "") == "width:0%;"
    assert page.locator("[role=progressbar]").get_attribute("aria-valuenow") == "0"
    assert "MB" not in page.locator("main, body").first.inner_text()


def test_a_cut_upload_shows_what_the_server_kept_in_mib(served_static, daphne_server, new_page, team_a, archive,
                                                       tmp_path, settings):
    path = tmp_path / "log.zip"
    path.write_bytes(archive)
    chunk = settings.PITLANE_UPLOAD_CHUNK_BYTES
    assert len(archive) > 2 * chunk
    page = new_page()
    log_in(page, daphne_server, team_a.captain.username, PASSWORD)
    page.goto(f"{daphne_server}/teams/{team_a.slug}/datasets/")
    posted = []

    def cut_after_one(route):
        if route.request.method == "POST":
            posted.append(route.request.url)
            if len(posted) > 1:
                return route.abort()
        return route.continue_()

    page.route("**/datasets/upload/chunk/**", cut_after_one)
    page.set_input_files("input[name=file]", str(path))
    page.click("[data-upload-button]")
    expect(page.locator("[data-upload-error]")).to_have_text(
        "The upload failed: network error. Choose the same file again to resume it.", timeout=30_000)
    status = page.locator("[data-upload-status]").inner_text()
    kept, total = chunk / 1024**2, len(archive) / 1024**2
    percent = round(100 * chunk / len(archive))
    assert status == f"Stopped: the server has {kept:.1f} MiB of {total:.1f} MiB ({percent} %)", status
    assert page.locator("[role=progressbar]").get_attribute("aria-valuenow") == str(percent)


def test_the_thinning_slider_redraws_the_histogram_before_and_after(served_static, daphne_server, new_page,
                                                                    client, team_a, real_sample, tmp_path):
    dataset = in_thread(ready_dataset, client, team_a, real_sample, tmp_path)
    page = new_page()
    log_in(page, daphne_server, team_a.captain.username, PASSWORD)
    page.goto(f"{daphne_server}{dataset.get_absolute_url()}")
    expect(page.locator('[data-stat="rate"]')).to_contain_text("median interval between frames")
    plot = page.locator("[data-thinning-plot]")
    expect(plot).to_have_attribute("data-drawn", "0.3")
    summary = page.locator("[data-thinning-summary]")
    expect(summary).to_contain_text("Keeping 0.30 of the")
    page.locator("input[name=keep]").fill("0.1")
    expect(plot).to_have_attribute("data-drawn", "0.1")
    expect(summary).to_contain_text("Keeping 0.10 of the")
    traces = page.evaluate("() => document.querySelector('[data-thinning-plot]').data.map((t) => t.x.length)")
    straight = in_thread(lambda: round(dataset.stats["steering_zero_fraction"] * dataset.frames))
    assert traces[0] == 120 and abs(traces[1] - (120 - straight + round(0.1 * straight))) <= 1
    page.screenshot(path=str(tmp_path / "thinning.png"), full_page=True)
