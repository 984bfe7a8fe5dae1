"""A dataset uploaded while the job queue (Redis) is unreachable is kept and its ingest job waits;
the upload says so, as the training page does (`jobs.services.waiting_notice`), through the form
upload and the chunked one. With the queue up, no such warning."""

from __future__ import annotations

import uuid

import pytest
from django.contrib.messages import get_messages

from tests.datasets.helpers import sample_members, upload, zip_members
from tests.jobs.unreachable_broker import unreachable_broker
from tests.support.uploads import send
from webapp.datasets.models import Dataset
from webapp.jobs.models import Job

# Transactions commit, so the ingest job's message is really sent (on commit) or fails to be.
pytestmark = pytest.mark.django_db(transaction=True)

WARNING = "job queue cannot be reached right now"


def warnings_of(response) -> list[str]:
    return [m.message for m in get_messages(response.wsgi_request) if m.level_tag == "warning"]


@pytest.fixture
def small_zip(real_sample, tmp_path):
    return zip_members(tmp_path / "log.zip", sample_members(real_sample, rows=5))


def test_form_upload_while_the_queue_is_down_says_the_ingest_waits(client, team_a, small_zip):
    client.force_login(team_a.captain)
    with unreachable_broker():
        response = upload(client, team_a, small_zip, name="Offline")
    assert response.status_code == 201
    dataset = Dataset.objects.get(pk=response.json()["dataset_id"])
    assert dataset.job.status == Job.Status.QUEUED and dataset.job.awaiting_dispatch
    page = client.get(response.json()["redirect"]).content.decode()  # where the upload page goes next
    assert WARNING in page and "The job is saved" in page

    response = upload(client, team_a, small_zip, name="Online")  # the queue is back
    assert response.status_code == 201
    assert not Dataset.objects.get(pk=response.json()["dataset_id"]).job.awaiting_dispatch
    assert WARNING not in client.get(response.json()["redirect"]).content.decode()


def test_chunked_upload_while_the_queue_is_down_says_the_ingest_waits(client, team_a, small_zip):
    client.force_login(team_a.captain)
    data = small_zip.read_bytes()
    half = len(data) // 2
    assert send(client, team_a, (upload_id := uuid.uuid4().hex), data[:half], 0, len(data)).status_code == 200
    with unreachable_broker():
        response = send(client, team_a, upload_id, data[half:], half, len(data))
    assert response.status_code == 201
    assert any(WARNING in message for message in warnings_of(response))
    assert Dataset.objects.get(pk=response.json()["dataset_id"]).job.awaiting_dispatch
    assert WARNING in client.get(response.json()["redirect"]).content.decode()  # shown (and used up) there

    response = send(client, team_a, uuid.uuid4().hex, data, 0, len(data))
    assert response.status_code == 201 and not warnings_of(response)
    assert not Dataset.objects.get(pk=response.json()["dataset_id"]).job.awaiting_dispatch
