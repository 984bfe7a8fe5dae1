"""Driving-log datasets of a team: zip upload, safe extraction, validation and indexing as a job,
and the dataset page (statistics, steering plots, sample frames, recovery segments)."""
