"""`job_finished`: sent once when a job reaches an end state, however it got there (always by
`transitions.finish_job`, the one function that writes an end state).

A domain object that mirrors its job's outcome (a model being trained, a dataset being ingested)
cannot rely on its job handler alone: a job cancelled while queued, or given up after its workers
died, never runs the handler's own clean-up. Receivers get `job` (refreshed, status final).
"""

from django.dispatch import Signal

job_finished = Signal()
