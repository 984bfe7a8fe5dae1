"""The upload page shows the server's refusals of a chunked upload as they are, and does not offer
to resume what cannot be resumed: a file that is not a zip, a team at its quota of unfinished
uploads (Daphne)."""

import uuid

import pytest
from playwright.sync_api import expect

from tests.browser.helpers import in_thread, log_in
from tests.support.uploads import ZIP_START

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("pitlane_dirs")]

PASSWORD = "correct-horse-battery"


def _open_uploads(team, count: int) -> None:
    """`count` unfinished uploads of `team`, as browsers that went away leave them."""
    from django.test import Client

    client = Client()
    client.force_login(team.captain)
    for _ in range(count):
        query = f"upload_id={uuid.uuid4().hex}&offset=0&total=100000&filename=log.zip&name=x"
        response = client.post(f"/teams/{team.slug}/datasets/upload/chunk/?{query}", data=ZIP_START,
                               content_type="application/octet-stream")
        assert response.status_code == 200, response.content


def test_a_file_that_is_not_a_zip_is_refused_with_the_reason(daphne_server, new_page, team_a, tmp_path):
    fake = tmp_path / "notes.zip"
    fake.write_text("these are my notes, not a zip\n" * 100)
    page = new_page()
    log_in(page, daphne_server, team_a.captain.username, PASSWORD)
    page.goto(f"{daphne_server}/teams/{team_a.slug}/datasets/")
    page.set_input_files("input[name=file]", str(fake))
    page.click("[data-upload-button]")
    error = page.locator("[data-upload-error]")
    expect(error).to_have_text("The upload failed: notes.zip is not a zip file (it does not start like one): zip "
                               "the recording folder (driving_log.csv and IMG/) and upload the .zip.")
    expect(page.locator("[data-upload-button]")).to_be_enabled()


def test_a_team_at_its_quota_is_told_why(daphne_server, new_page, team_a, archive, tmp_path, settings):
    in_thread(_open_uploads, team_a, settings.PITLANE_UPLOAD_MAX_OPEN_PER_TEAM)
    path = tmp_path / "log.zip"
    path.write_bytes(archive)
    page = new_page()
    log_in(page, daphne_server, team_a.captain.username, PASSWORD)
    page.goto(f"{daphne_server}/teams/{team_a.slug}/datasets/")
    page.set_input_files("input[name=file]", str(path))
    page.click("[data-upload-button]")
    expect(page.locator("[data-upload-error]")).to_have_text(
        f"The upload failed: Your team already has {settings.PITLANE_UPLOAD_MAX_OPEN_PER_TEAM} unfinished uploads, "
        "the most it may have at once: finish or cancel one first (unfinished uploads are cleared after 24 hours).")
