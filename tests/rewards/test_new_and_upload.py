"""A new reward function: blank, from one of our examples, or an uploaded `.py`; uploads that are
binary, too large, not UTF-8 or not `.py` are refused with a sentence that says so, and nothing is
created."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from tests.rewards.helpers import CENTRE, make_function
from training.rl.examples import EXAMPLES
from webapp.rewards import services
from webapp.rewards.models import MAX_SOURCE_BYTES, RewardFunction

pytestmark = pytest.mark.django_db


def _new(client, team, **data):
    return client.post(reverse("reward_new", args=[team.slug]), data)


def test_the_page_offers_blank_and_every_example(client, team_a):
    client.force_login(team_a.captain)
    page = client.get(reverse("reward_new", args=[team_a.slug]))
    html = page.content.decode()
    assert page.status_code == 200
    assert len(EXAMPLES) >= 4
    for example in EXAMPLES:
        assert f'value="{example.slug}"' in html and example.title in html and example.summary in html
    assert 'value="blank"' in html and 'accept=".py,text/x-python"' in html


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda e: e.slug)
def test_start_from_an_example(client, team_a, example):
    client.force_login(team_a.captain)
    response = _new(client, team_a, name=example.title, start=example.slug)
    function = RewardFunction.objects.get(team=team_a)
    assert response.status_code == 302 and response.url == reverse("reward_version", args=[team_a.slug, function.pk, 1])
    assert function.versions.get().source == services.normalise_source(example.source)
    assert "def reward_function(params)" in function.versions.get().source


def test_start_blank(client, team_a):
    client.force_login(team_a.captain)
    _new(client, team_a, name="Mine", start="blank")
    assert RewardFunction.objects.get(team=team_a).versions.get().source == services.BLANK_SOURCE


def test_upload_a_console_reward_function(client, team_a):
    client.force_login(team_a.captain)
    upload = SimpleUploadedFile("reward.py", ("\ufeff" + CENTRE.replace("\n", "\r\n")).encode("utf-8"))
    response = _new(client, team_a, name="From the console", start="blank", file=upload)
    assert response.status_code == 302
    version = RewardFunction.objects.get(team=team_a).versions.get()
    assert version.source == CENTRE  # BOM and CRLF gone; the upload wins over "start"


@pytest.mark.parametrize(("filename", "content", "message"), [
    ("reward.py", b"def reward_function(params):\n    return 1.0\n\x00\x01\x02", "reward.py is a binary file"),
    ("reward.py", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "reward.py is a binary file"),
    ("reward.py", b"def reward_function(params):\n    # caf\xe9\n    return 1.0\n",
     "reward.py is not UTF-8 text (an undecodable byte on line 2)"),
    ("reward.py", b"# " + b"x" * MAX_SOURCE_BYTES + b"\n",
     "reward.py is 65,539 bytes; a reward function may be at most 65,536 bytes (64 KB)"),
    ("reward.txt", b"def reward_function(params):\n    return 1.0\n", "reward.txt is not a .py file"),
    ("reward.py", b"\n\n   \n", "The reward function is empty"),
])
def test_bad_uploads_are_refused_with_a_clear_error(client, team_a, filename, content, message):
    client.force_login(team_a.captain)
    response = _new(client, team_a, name="Upload", start="blank", file=SimpleUploadedFile(filename, content))
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not RewardFunction.objects.filter(team=team_a).exists()


def test_read_upload_does_not_read_past_the_limit():
    class Huge:
        name = "huge.py"
        size = None  # a size the client did not announce
        read_sizes: list[int] = []

        def read(self, n=-1):
            self.read_sizes.append(n)
            return b"#" * (n if n > 0 else 10**8)

    from django.core.exceptions import ValidationError

    huge = Huge()
    with pytest.raises(ValidationError, match="larger than 65,536 bytes"):
        services.read_upload(huge)
    assert huge.read_sizes == [MAX_SOURCE_BYTES + 1]


def test_a_taken_name_is_refused_on_the_form(client, team_a):
    make_function(team_a, "Centre line")
    client.force_login(team_a.captain)
    response = _new(client, team_a, name="centre line", start="blank")
    assert "already has a reward function called &#x27;Centre line&#x27;" in response.content.decode()
    assert RewardFunction.objects.filter(team=team_a).count() == 1


def test_upload_a_file_as_the_next_version(client, team_a):
    function = make_function(team_a)
    client.force_login(team_a.captain)
    url = reverse("reward_upload", args=[team_a.slug, function.pk])
    edited = CENTRE.replace("return 0.5", "return 0.45")
    response = client.post(url, {"file": SimpleUploadedFile("tuned.py", edited.encode())}, follow=True)
    assert response.redirect_chain[-1][0] == reverse("reward_version", args=[team_a.slug, function.pk, 2])
    assert "Uploaded tuned.py as version 2." in response.content.decode()
    assert function.versions.get(number=2).source == edited
    # The same file again saves nothing; a bad one is refused and nothing is saved.
    response = client.post(url, {"file": SimpleUploadedFile("tuned.py", edited.encode())}, follow=True)
    assert "tuned.py holds the same code as version 2: nothing new saved." in response.content.decode()
    response = client.post(url, {"file": SimpleUploadedFile("tuned.py", b"\xff\xfe\x00d\x00e\x00f")}, follow=True)
    assert "tuned.py is a binary file" in response.content.decode()
    response = client.post(url, {}, follow=True)
    assert "Choose a .py file to upload." in response.content.decode()
    assert function.versions.count() == 2


def test_upload_to_another_teams_function_is_404(client, team_a, team_b):
    secret = make_function(team_b, "Bravo secret")
    client.force_login(team_a.captain)
    for slug in (team_b.slug, team_a.slug):
        url = reverse("reward_upload", args=[slug, secret.pk])
        assert client.post(url, {"file": SimpleUploadedFile("x.py", CENTRE.encode())}).status_code == 404
    assert secret.versions.count() == 1
