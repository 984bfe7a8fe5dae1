"""Behavioural cloning: train steering models on Udacity-simulator recordings (no Django here).

Public entry points: `workers.bc.train.train`, `workers.bc.config.TrainConfig` and
`workers.bc.config.expand_grid`; `python -m workers.bc` is the command line.
"""
