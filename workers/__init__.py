"""Celery app and thin tasks; the real work is in plain functions (workers.bc, evaluation)."""
