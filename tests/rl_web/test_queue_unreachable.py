"""An RL run started while the job queue (Redis) is unreachable is kept and its job waits; the
page says so (`jobs.services.waiting_notice`), as the other training and upload pages do."""

import pytest
from django.urls import reverse

from tests.jobs.unreachable_broker import unreachable_broker
from tests.rl_web.helpers import form_data, validated_version
from webapp.garage.models import TrainedModel
from webapp.jobs.models import Job

# Transactions commit, so the job's message is really sent (on commit) or fails to be.
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("pitlane_dirs", "purge_queues")]


def test_rl_run_started_while_the_queue_is_down_says_the_job_waits(client, team_a):
    version = validated_version(team_a)
    client.force_login(team_a.captain)
    with unreachable_broker():
        response = client.post(reverse("rl_train", args=[team_a.slug]), form_data(version, name="Offline"),
                               follow=True)
    assert response.status_code == 200
    page = response.content.decode()
    assert "job queue cannot be reached right now" in page and "The job is saved" in page
    model = TrainedModel.objects.get(name="Offline")
    assert model.job.status == Job.Status.QUEUED and model.job.awaiting_dispatch

    response = client.post(reverse("rl_train", args=[team_a.slug]), form_data(version, name="Online"), follow=True)
    assert "job queue cannot be reached" not in response.content.decode()
    assert not TrainedModel.objects.get(name="Online").job.awaiting_dispatch
