"""Behavioural cloning: train steering models on Udacity-simulator recordings (no Django here).

Public entry points: `training.bc.train.train`, `training.bc.config.TrainConfig` and
`training.bc.config.expand_grid`; `python -m training.bc` is the command line.
"""
