"""Training libraries: plain functions with `on_progress`/`should_stop` callbacks and a command line.

No Django and no Celery here (tests/test_import_direction.py keeps it so): `training.bc` trains
behavioural-cloning steering models; the Django side (`webapp.garage.jobs`) wraps them into jobs.
"""
