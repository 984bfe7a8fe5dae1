"""A training job whose worker dies resumes from its last epoch checkpoint on another worker: the
run's folder is derived from the model id, so the re-run finds the checkpoint."""

import pytest

from tests.garage.helpers import ready_dataset, train_form_data
from tests.support.waiting import wait_for
from webapp.garage.models import TrainedModel
from webapp.jobs.models import Job

pytestmark = [pytest.mark.worker, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_killed_training_worker_resumes_from_checkpoint(client, team_a, real_sample, tmp_path, make_worker):
    dataset = ready_dataset(client, team_a, real_sample, tmp_path)
    doomed = make_worker(name="bc-doomed")
    client.post(f"/teams/{team_a.slug}/models/train/",
                train_form_data(dataset, epochs="24", max_steps_per_epoch="2", batch_size="8"))
    model = TrainedModel.objects.get()

    def epoch() -> int:
        return int(Job.objects.get(pk=model.job_id).metrics.get("epoch", "0 /").split(" ")[0])

    wait_for(lambda: epoch() >= 4, timeout_s=90, message="a few epochs checkpointed")
    doomed.kill()
    make_worker(name="bc-rescuer")
    wait_for(lambda: Job.objects.get(pk=model.job_id).is_finished, timeout_s=150, message="the resumed run")
    job = Job.objects.get(pk=model.job_id)
    assert job.status == Job.Status.SUCCEEDED, (job.error, job.log_tail)
    assert job.attempts == 2 and "Resuming from the last epoch checkpoint" in job.log_tail
    model.refresh_from_db()
    assert model.is_ready and len(model.history["loss"]) == 24
    assert "(resumed from " in job.log_tail and "(resumed from 0)" not in job.log_tail
