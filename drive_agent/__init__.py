"""Pitlane drive agent: the one control loop (frame -> model -> steering/throttle).

Imports neither Django nor TensorFlow: it runs on a team's laptop or car with the TFLite runtime.
Entry points: `drive_agent.loop.DriveLoop`, `drive_agent.cli.main`, and
`drive_agent.evaluation.run_sim_evaluation` for the evaluation workers.
"""

__version__ = "0.1.0"
