"""The Celery application. Long jobs: acks_late, prefetch 1, separate queues, time limits.

Settings come from Django's settings (CELERY_* names) so that web and workers agree.
"""

from __future__ import annotations

import os

from celery import Celery
from kombu import Exchange, Queue

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webapp.settings")

#: The queues job messages go to (a job's kind names one); `maintenance` carries the reaper and purges.
JOB_QUEUES = ("training", "evaluation")

app = Celery("pitlane", include=["webapp.jobs.tasks", "webapp.datasets.tasks"])
app.config_from_object("django.conf:settings", namespace="CELERY")
# Each queue gets its own exchange and routing key, so a message lands in exactly one queue.
app.conf.task_queues = tuple(Queue(name, Exchange(name, type="direct"), routing_key=name)
                             for name in (*JOB_QUEUES, "maintenance"))
app.conf.task_routes = {"pitlane.reap_stale_jobs": {"queue": "maintenance"},
                        "pitlane.purge_abandoned_uploads": {"queue": "maintenance"}}
app.conf.beat_schedule = {
    "reap-stale-jobs": {"task": "pitlane.reap_stale_jobs", "schedule": 15.0, "options": {"expires": 14}},
    "purge-abandoned-uploads": {"task": "pitlane.purge_abandoned_uploads", "schedule": 3600.0,
                                "options": {"expires": 3500}},
}
app.conf.worker_max_tasks_per_child = 20  # TensorFlow leaks a little per model; recycle children.
