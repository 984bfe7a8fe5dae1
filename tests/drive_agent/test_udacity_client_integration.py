"""The Udacity target against `simulator.udacity_client`, which behaves like the Unity simulator
on the wire (no `40`, string fields, degrees, lock-step, its own pings)."""

from __future__ import annotations

from drive_agent.loop import DriveLoop
from drive_agent.targets.udacity import UdacityDriver


def test_simulator_client_drives_against_the_agent(drive_loop: DriveLoop) -> None:
    from simulator.track import load_track
    from simulator.udacity_client import UdacityClient

    driver = UdacityDriver(drive_loop)
    port = driver.serve("127.0.0.1", 0)
    try:
        client = UdacityClient(load_track("pitlane_loop_road"), port=port, ping_interval_s=0.002)
        stats = client.run(max_frames=30, timeout_s=20, idle_timeout_s=5)
    finally:
        driver.shutdown()
    assert stats.ended_by == "max_frames"
    assert stats.frames == 30 and stats.steers >= 29  # the 30th telemetry is still in flight at the stop
    assert drive_loop.stats.frames >= 29 and driver.problems == {}
    assert stats.pings_sent >= 1
