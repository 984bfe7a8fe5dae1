"""An evaluation started while the job queue (Redis) is unreachable is kept and waits; the start
says so, as the training page does (`jobs.services.waiting_notice`). With the queue up, no warning."""

from __future__ import annotations

import pytest

from tests.jobs.unreachable_broker import unreachable_broker
from webapp.evaluations.models import Evaluation

# Transactions commit, so the evaluation job's message is really sent (on commit) or fails to be.
pytestmark = pytest.mark.django_db(transaction=True)

WARNING = "job queue cannot be reached right now"
FORM = {"track": "pitlane_loop", "direction": "counterclockwise", "trials": 1, "off_track_penalty_s": 2,
        "time_limit_s": 60}


def test_evaluation_started_while_the_queue_is_down_says_it_waits(client, team_a, make_ready_model):
    client.force_login(team_a.captain)
    model = make_ready_model(team_a)
    start_url = f"/teams/{team_a.slug}/evaluations/model/{model.pk}/start/"
    with unreachable_broker():
        response = client.post(start_url, FORM, follow=True)
    assert response.status_code == 200
    page = response.content.decode()
    assert WARNING in page and "The job is saved" in page
    evaluation = Evaluation.objects.get(model=model)
    assert response.redirect_chain[-1][0] == evaluation.get_absolute_url()
    assert evaluation.job.awaiting_dispatch

    response = client.post(start_url, FORM, follow=True)  # the queue is back
    assert response.status_code == 200 and WARNING not in response.content.decode()
    assert not Evaluation.objects.latest("pk").job.awaiting_dispatch
